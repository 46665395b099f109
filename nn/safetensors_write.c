/* nn/safetensors_write.c — the safetensors writer (see safetensors.h).
   Layout written: u64 LE N | header JSON (compact, "__metadata__" first if any, then tensors
   sorted by name, each {"dtype","shape","data_offsets"}) padded with spaces so N % 8 == 0 |
   tensor data in name order, back to back. Float sources are converted in 4096-element chunks
   (F64 sources headed for F16/BF16 are rounded to f32 first: a double rounding that can differ
   from direct rounding only in the last bf16/f16 bit on exact ties). Written through
   data/atomic_file.h: a failure leaves no file behind and the old `path` untouched.
   Why these choices:
   - sorted by name: the same tensors give the same bytes whatever order they were added in
     (deterministic output, comparable with cmp). The reference writer (huggingface/
     safetensors prepare()) sorts by descending dtype first, then by name, so that every tensor
     starts aligned to its element size; for a single-dtype file (all the trainer writes) the
     two orders are the same. Mixed-dtype files are valid either way, but ours may leave a
     tensor unaligned (our reader copies elements with memcpy, so it does not care).
   - header padded to a multiple of 8 with spaces (valid JSON whitespace): the data buffer then
     starts 8-byte aligned, and in a single-dtype file so does every tensor's element, so a
     reader that maps the file can use the data in place.
   - data_offsets packed back to back from 0: the tiling rule the reader enforces.
   Adding an entry only records a borrowed pointer: nothing is copied or converted until
   safetensors_write, so the caller's data must stay alive until then. */
#include "nn/safetensors.h"
#include "data/atomic_file.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void safetensors_writer_init(SafeTensorsWriter *w) {
    memset(w, 0, sizeof *w);
}

/* Appends one entry (the name is copied, the data borrowed). The writer is fed by our own code,
   not by user input, so a bad call (duplicate or reserved name, bad shape) is a CHECK. */
static void add_entry(SafeTensorsWriter *w, const char *name, SafeDtype dtype, SafeSource src,
                      const int *shape, int ndim, const void *data) {
    CHECK(ndim >= 0 && ndim <= SAFE_MAX_DIMS, "tensor %s: ndim %d out of range", name, ndim);
    CHECK(strcmp(name, "__metadata__") != 0, "\"__metadata__\" is not a valid tensor name");
    CHECK((unsigned)dtype < SAFE_N_DTYPES, "tensor %s: bad dtype %d", name, (int)dtype);
    for (size_t i = 0; i < w->count; i++)
        CHECK(strcmp(w->entries[i].name, name) != 0, "tensor %s added twice", name);
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->entries = xrealloc(w->entries, w->cap * sizeof *w->entries);
    }
    SafeWriterEntry *e = &w->entries[w->count++];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    CHECK(e->name != NULL, "out of memory");
    e->dtype = dtype;
    e->src = src;
    e->ndim = ndim;
    e->numel = 1;
    for (int d = 0; d < ndim; d++) {
        CHECK(shape[d] >= 0, "tensor %s: negative dim %d", name, shape[d]);
        e->shape[d] = shape[d];
        e->numel *= (size_t)shape[d];
    }
    e->data = data;
    CHECK(data != NULL || e->numel == 0, "tensor %s: NULL data", name);
}

void safetensors_writer_add(SafeTensorsWriter *w, const char *name, SafeDtype dtype,
                            const int *shape, int ndim, const void *data) {
    add_entry(w, name, dtype, SAFE_SRC_RAW, shape, ndim, data);
}

/* float sources can only be converted to float dtypes */
static void check_float_target(const char *name, SafeDtype as) {
    CHECK(as == SAFE_F32 || as == SAFE_F16 || as == SAFE_BF16 || as == SAFE_F64,
          "tensor %s: floats can be written as F32, F16, BF16 or F64, not %s", name,
          safetensors_dtype_name(as));
}

void safetensors_writer_add_f32(SafeTensorsWriter *w, const char *name, SafeDtype as,
                                const int *shape, int ndim, const float *data) {
    check_float_target(name, as);
    add_entry(w, name, as, SAFE_SRC_F32, shape, ndim, data);
}

/* real is float or double by build: the source kind follows it, the file dtype is `as` */
void safetensors_writer_add_real(SafeTensorsWriter *w, const char *name, SafeDtype as,
                                 const int *shape, int ndim, const real *data) {
    check_float_target(name, as);
    add_entry(w, name, as, REAL_IS_DOUBLE ? SAFE_SRC_F64 : SAFE_SRC_F32, shape, ndim, data);
}

void safetensors_writer_add_gen(SafeTensorsWriter *w, const char *name, SafeDtype as,
                                const int *shape, int ndim, SafeGenFn gen, void *ctx) {
    check_float_target(name, as);
    CHECK(gen != NULL, "tensor %s: no generator", name);
    add_entry(w, name, as, SAFE_SRC_GEN, shape, ndim, w);   /* data: any non-NULL, replaced by ctx */
    w->entries[w->count - 1].data = ctx;
    w->entries[w->count - 1].gen = gen;
}

/* Sets key -> value in "__metadata__" (strings only, as the format demands); a key set again is
   replaced in place, so the order of first insertion is kept in the file. */
void safetensors_writer_set_metadata(SafeTensorsWriter *w, const char *key, const char *value) {
    for (size_t i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = strdup(value);
            return;
        }
    if (w->nmeta == w->cap_meta) {
        w->cap_meta = w->cap_meta ? 2 * w->cap_meta : 8;
        w->meta = xrealloc(w->meta, 2 * w->cap_meta * sizeof *w->meta);
    }
    w->meta[2 * w->nmeta] = strdup(key);
    w->meta[2 * w->nmeta + 1] = strdup(value);
    CHECK(w->meta[2 * w->nmeta] && w->meta[2 * w->nmeta + 1], "out of memory");
    w->nmeta++;
}

void safetensors_writer_free(SafeTensorsWriter *w) {
    for (size_t i = 0; i < w->count; i++) free(w->entries[i].name);
    for (size_t i = 0; i < 2 * w->nmeta; i++) free(w->meta[i]);
    free(w->entries);
    free(w->meta);
    memset(w, 0, sizeof *w);
}

/* strcmp on UTF-8 = byte order = code point order: the order the reference writer uses for
   names (Rust String comparison) */
static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const SafeWriterEntry *const *)a)->name, (*(const SafeWriterEntry *const *)b)->name);
}

/* The padded header JSON for entries in `order`; returns a malloc'd buffer of *len bytes.
   Offsets are assigned here, in the same order write_body writes the data, which is what
   makes the header and the buffer agree. Names and metadata go through json_write_string,
   so quotes, backslashes and control characters are escaped. */
static char *build_header(const SafeTensorsWriter *w, const SafeWriterEntry **order, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    CHECK(f != NULL, "open_memstream failed");
    fputc('{', f);
    if (w->nmeta) {
        fputs("\"__metadata__\":{", f);
        for (size_t i = 0; i < w->nmeta; i++) {
            if (i) fputc(',', f);
            json_write_string(f, w->meta[2 * i], strlen(w->meta[2 * i]));
            fputc(':', f);
            json_write_string(f, w->meta[2 * i + 1], strlen(w->meta[2 * i + 1]));
        }
        fputc('}', f);
    }
    size_t offset = 0;
    for (size_t i = 0; i < w->count; i++) {
        const SafeWriterEntry *e = order[i];
        size_t nbytes = e->numel * safetensors_dtype_size(e->dtype);
        if (i || w->nmeta) fputc(',', f);
        json_write_string(f, e->name, strlen(e->name));
        fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", safetensors_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        fprintf(f, "],\"data_offsets\":[%zu,%zu]}", offset, offset + nbytes);
        offset += nbytes;
    }
    fputc('}', f);
    while (ftell(f) % 8) fputc(' ', f);   /* 8 + N is then a multiple of 8 */
    CHECK(fclose(f) == 0, "open_memstream failed");
    *len = n;
    return buf;
}

/* Writes elements [0, numel) of a float/double source converted to e->dtype, through a stack
   buffer of CHUNK elements (32 KB at 8 bytes each): no allocation however large the tensor.
   F16 / BF16 round to nearest even (tensor/half.h). Returns 0 on a write error. */
static int write_converted(FILE *f, const SafeWriterEntry *e) {
    enum { CHUNK = 4096 };
    unsigned char buf[CHUNK * 8];
    float gen[CHUNK];
    size_t esize = safetensors_dtype_size(e->dtype);
    for (size_t i0 = 0; i0 < e->numel; i0 += CHUNK) {
        size_t n = e->numel - i0 < CHUNK ? e->numel - i0 : CHUNK;
        if (e->src == SAFE_SRC_GEN) e->gen((void *)e->data, i0, n, gen);
        for (size_t k = 0; k < n; k++) {
            size_t i = i0 + k;
            double x = e->src == SAFE_SRC_GEN ? gen[k]
                     : e->src == SAFE_SRC_F64 ? ((const double *)e->data)[i] : ((const float *)e->data)[i];
            float xf = (float)x;
            uint16_t h;
            switch (e->dtype) {
            case SAFE_F64: memcpy(buf + 8 * k, &x, 8); break;
            case SAFE_F32: memcpy(buf + 4 * k, &xf, 4); break;
            case SAFE_BF16: h = f32_to_bf16(xf); memcpy(buf + 2 * k, &h, 2); break;
            default: h = f32_to_f16(xf); memcpy(buf + 2 * k, &h, 2); break;
            }
        }
        if (fwrite(buf, esize, n, f) != n) return 0;
    }
    return 1;
}

/* The whole file: the length prefix (u64 little-endian, byte by byte), the header, then each
   tensor's bytes in `order`. Returns 0 on a write error (errno holds the reason). */
static int write_body(FILE *f, const char *header, size_t hlen, const SafeWriterEntry **order,
                      size_t count) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen) return 0;
    for (size_t i = 0; i < count; i++) {
        const SafeWriterEntry *e = order[i];
        size_t nbytes = e->numel * safetensors_dtype_size(e->dtype);
        if (e->src == SAFE_SRC_RAW) {
            if (nbytes && fwrite(e->data, 1, nbytes, f) != nbytes) return 0;
        } else if (!write_converted(f, e)) {
            return 0;
        }
    }
    return 1;
}

/* Sorts, builds the header, writes through a temporary file and renames it over `path` only
   when everything was written: readers never see a half-written file. The writer itself is
   left unchanged (entries stay as added), so it can be written twice. */
Status safetensors_write(const SafeTensorsWriter *w, const char *path, Error *err) {
    const SafeWriterEntry **order = xmalloc((w->count ? w->count : 1) * sizeof *order);
    for (size_t i = 0; i < w->count; i++) order[i] = &w->entries[i];
    qsort(order, w->count, sizeof *order, cmp_entry_name);
    size_t hlen;
    char *header = build_header(w, order, &hlen);
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s == STATUS_OK) {
        if (write_body(af.f, header, hlen, order, w->count)) {
            s = atomic_write_commit(&af, err);
        } else {
            s = error_set(err, STATUS_IO, "check free disk space", "cannot write %s: %s", path, strerror(errno));
            atomic_write_abort(&af);
        }
    }
    free(header);
    free(order);
    return s;
}
