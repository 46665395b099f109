/* nn/adapter_compress.c — ComPEFT sparsification + ternary quantisation (see adapter_compress.h). */
#include "nn/adapter_compress.h"
#include "nn/adapter_moe.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { double mag; size_t idx; } MagIdx;

/* descending magnitude, then ascending index: a total order, so qsort is deterministic */
static int by_magnitude(const void *pa, const void *pb) {
    const MagIdx *a = pa, *b = pb;
    if (a->mag != b->mag) return a->mag < b->mag ? 1 : -1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

void compress_tensor(real *v, size_t n, const CompressSpec *c, CompressStats *st) {
    if (n == 0) return;
    size_t kept = (size_t)ceil(c->density * (double)n - 1e-9);
    if (kept < 1) kept = 1;
    if (kept > n) kept = n;
    double mean = 0, var = 0, sum_abs = 0;
    for (size_t i = 0; i < n; i++) mean += (double)v[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += ((double)v[i] - mean) * ((double)v[i] - mean);
    MagIdx *order = xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = (MagIdx){ fabs((double)v[i]), i };
    qsort(order, n, sizeof *order, by_magnitude);
    unsigned char *keep = xcalloc(n, 1);
    for (size_t k = 0; k < kept; k++) keep[order[k].idx] = 1, sum_abs += order[k].mag;
    double scale = c->std_scale > 0 ? c->std_scale * sqrt(var / (double)n) : sum_abs / (double)kept;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) v[i] = 0;
        else if (c->ternary) v[i] = (real)(v[i] > 0 ? scale : v[i] < 0 ? -scale : 0);
    }
    free(order);
    free(keep);
    if (!st) return;
    double log2n = n > 1 ? ceil(log2((double)n)) : 1, pos = fmin((double)n, (double)kept * log2n);
    st->tensors++;
    st->values += n;
    st->kept += kept;
    st->lora_bits += 32.0 * (double)n;
    st->lora_bits_compressed += pos + (c->ternary ? (double)kept + 32 : 32.0 * (double)kept);
}

static int is_lora_update(const char *name) { return strstr(name, ".lora_") || strstr(name, ".shared_"); }

Status adapter_compress(LlamaModel *m, const CompressSpec *c, CompressStats *st, Error *err) {
    if (!(c->density > 0 && c->density <= 1))
        return error_set(err, STATUS_INVALID, "e.g. --density 0.1", "--density must be in (0, 1], got %g", c->density);
    if (!(c->std_scale >= 0)) return error_set(err, STATUS_INVALID, NULL, "--std-scale must be >= 0, got %g", c->std_scale);
    memset(st, 0, sizeof *st);
    for (int i = 0; i < m->ps.n; i++) {
        Tensor *t = m->ps.params[i];
        if (!t->grad || !adapter_is_param_name(t->name)) continue;
        if (is_lora_update(t->name)) compress_tensor(t->data, t->numel, c, st);
        else st->other_bits += 32.0 * (double)t->numel;
    }
    if (st->tensors == 0)
        return error_set(err, STATUS_INVALID, "give --adapter-dir a LoRA / Mo-LoRA / AdaMoE adapter",
                         "compress-adapter: the model has no LoRA tensors to compress");
    return STATUS_OK;
}
