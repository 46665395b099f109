/* nn/safetensors_read.c — typed reads from an open safetensors file (see safetensors.h): the tensor
   NAME, checked against the shape the model expects and for a float dtype, converted into the
   caller's buffer (f32, the build's real, or bf16 storage). Large tensors are read in chunks whose
   file pages are dropped once converted, so loading a model needs about its own size in memory.
   The file itself was validated whole by safetensors_open (safetensors.c). */
#include "nn/safetensors.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *s64, const int *s32) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? "," : "", s64 ? (long long)s64[d] : (long long)s32[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* The tensor NAME with exactly expect_shape and a float dtype, or an error that says which of
   the three failed (a missing name usually means another architecture, a shape mismatch
   another config). */
static Status find_checked(const SafeTensors *st, const char *name, const int *expect_shape,
                           int expect_ndim, const SafeTensor **out, Error *err) {
    const SafeTensor *t = safetensors_find(st, name);
    if (!t) return error_set(err, STATUS_FORMAT, "is this checkpoint for the same model architecture?",
                             "%s: no tensor named %s (the file has %zu tensors)", st->path, name, st->count);
    int same = t->ndim == expect_ndim;
    for (int d = 0; same && d < expect_ndim; d++) same = t->shape[d] == (int64_t)expect_shape[d];
    if (!same) {
        char have[128], want[128];
        shape_str(have, sizeof have, t->ndim, t->shape, NULL);
        shape_str(want, sizeof want, expect_ndim, NULL, expect_shape);
        return error_set(err, STATUS_FORMAT, "does the model config match the checkpoint?",
                         "%s: tensor %s has shape %s, expected %s", st->path, name, have, want);
    }
    if (t->dtype != SAFE_F32 && t->dtype != SAFE_F16 && t->dtype != SAFE_BF16 && t->dtype != SAFE_F64)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s has dtype %s, expected a float dtype "
                         "(F32, F16, BF16 or F64)", st->path, name, safetensors_dtype_name(t->dtype));
    *out = t;
    return STATUS_OK;
}

/* Converts every element of a float tensor into of (float) or od (double). Each element goes
   through double, which holds F32, F16 and BF16 exactly; F64 -> float rounds once. Elements
   are read with memcpy because `data` may be unaligned. */
static void convert(const SafeTensor *t, float *of, double *od) {
    const unsigned char *p = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        double x;
        if (t->dtype == SAFE_F32) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            x = f;
        } else if (t->dtype == SAFE_F64) {
            memcpy(&x, p + 8 * i, 8);
        } else {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            x = t->dtype == SAFE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
        if (of) of[i] = (float)x;
        else od[i] = x;
    }
}

Status safetensors_read_f32(const SafeTensors *st, const char *name, const int *expect_shape,
                            int expect_ndim, float *out, Error *err) {
    const SafeTensor *t;
    Status s = find_checked(st, name, expect_shape, expect_ndim, &t, err);
    if (s) return s;
    convert(t, out, NULL);
    return STATUS_OK;
}

/* the whole pages inside [p, p + n) dropped from the mapping (madvise MADV_DONTNEED on a read-only
   file mapping: reading them again pages them back in from the file); a hint, failures ignored */
static void drop_pages(const unsigned char *p, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* tensor t into out_bf16 (copied when BF16, else rounded through f32) or out_real, in chunks whose
   file pages are dropped once read: a model loads with about its own size in memory, not model +
   touched file pages (+ a float copy of the largest tensor) */
#define READ_CHUNK ((size_t)1 << 18)
static void read_chunked(const SafeTensor *t, uint16_t *out_bf16, real *out_real) {
    size_t esize = safetensors_dtype_size(t->dtype);
    float *buf = out_bf16 && t->dtype != SAFE_BF16 ? xmalloc(READ_CHUNK * sizeof *buf) : NULL;
    for (size_t i0 = 0; i0 < t->numel; i0 += READ_CHUNK) {
        SafeTensor part = *t;
        part.numel = t->numel - i0 < READ_CHUNK ? t->numel - i0 : READ_CHUNK;
        part.data = t->data + i0 * esize;
        if (out_bf16 && t->dtype == SAFE_BF16) memcpy(out_bf16 + i0, part.data, part.numel * 2);
        else if (out_bf16) {
            convert(&part, buf, NULL);
            for (size_t k = 0; k < part.numel; k++) out_bf16[i0 + k] = f32_to_bf16(buf[k]);
        } else if (REAL_IS_DOUBLE) convert(&part, NULL, (double *)(void *)(out_real + i0));
        else convert(&part, (float *)(void *)(out_real + i0), NULL);
        drop_pages(part.data, part.numel * esize);
    }
    free(buf);
}

Status safetensors_read_bf16(const SafeTensors *st, const char *name, const int *expect_shape,
                             int expect_ndim, uint16_t *out, Error *err) {
    const SafeTensor *t;
    Status s = find_checked(st, name, expect_shape, expect_ndim, &t, err);
    if (!s) read_chunked(t, out, NULL);
    return s;
}

/* real is float or double by build (tensor/real.h): convert straight into it, no temporary */
Status safetensors_read_real(const SafeTensors *st, const char *name, const int *expect_shape,
                             int expect_ndim, real *out, Error *err) {
    const SafeTensor *t;
    Status s = find_checked(st, name, expect_shape, expect_ndim, &t, err);
    if (!s) read_chunked(t, NULL, out);
    return s;
}

/* NF4 / int8 storage (tensor/quant.h): converted to f32 and encoded chunk by chunk (whole NF4
   blocks, whole int8 rows), so no f32 copy of the matrix exists; pages dropped as above */
Status safetensors_read_quant(const SafeTensors *st, const char *name, const int *expect_shape,
                              int expect_ndim, QuantMat *q, Error *err) {
    const SafeTensor *t;
    Status s = find_checked(st, name, expect_shape, expect_ndim, &t, err);
    if (s) return s;
    size_t esize = safetensors_dtype_size(t->dtype), C = (size_t)q->cols;
    size_t chunk = q->kind == QUANT_INT8 ? (READ_CHUNK / C ? READ_CHUNK / C : 1) * C : READ_CHUNK;
    float *buf = xmalloc(chunk * sizeof *buf);
    for (size_t i0 = 0; i0 < t->numel; i0 += chunk) {
        SafeTensor part = *t;
        part.numel = t->numel - i0 < chunk ? t->numel - i0 : chunk;
        part.data = t->data + i0 * esize;
        convert(&part, buf, NULL);
        quant_encode(q, buf, i0, part.numel);
        drop_pages(part.data, part.numel * esize);
    }
    quant_finish(q);
    free(buf);
    return STATUS_OK;
}
