/* tensor/tensor.c — Tensor constructors and shape helpers. */
#include "tensor/tensor.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <string.h>

Tensor *tensor_new(Arena *a, int ndim, const int *shape, int with_grad) {
    CHECK(ndim >= 1 && ndim <= TENSOR_MAX_DIMS, "ndim %d out of range 1..%d", ndim, TENSOR_MAX_DIMS);
    Tensor *t = arena_alloc_zero(a, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        CHECK(shape[i] >= 0, "negative dimension %d at axis %d", shape[i], i);
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->data = arena_alloc(a, t->numel * sizeof(real));
    t->grad = with_grad ? arena_alloc_zero(a, t->numel * sizeof(real)) : NULL;
    return t;
}

Tensor *tensor_1d(Arena *a, int n0, int with_grad) {
    return tensor_new(a, 1, (int[]){ n0 }, with_grad);
}
Tensor *tensor_2d(Arena *a, int n0, int n1, int with_grad) {
    return tensor_new(a, 2, (int[]){ n0, n1 }, with_grad);
}
Tensor *tensor_3d(Arena *a, int n0, int n1, int n2, int with_grad) {
    return tensor_new(a, 3, (int[]){ n0, n1, n2 }, with_grad);
}

Tensor *tensor_view(Arena *a, const Tensor *t, int ndim, const int *shape) {
    CHECK(ndim >= 1 && ndim <= TENSOR_MAX_DIMS, "ndim %d out of range", ndim);
    Tensor *v = arena_alloc(a, sizeof *v);
    *v = *t;
    v->pack = NULL;
    v->ndim = ndim;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    for (int i = ndim; i < TENSOR_MAX_DIMS; i++) v->shape[i] = 0;
    char buf[64];
    CHECK(n == t->numel, "view of %s (%zu elements) as %zu elements", tensor_shape_str(t, buf, sizeof buf), t->numel, n);
    return v;
}

Tensor *tensor_rows_view(Arena *a, const Tensor *t, int row0, int rows) {
    CHECK(t->ndim == 2 && t->data && row0 >= 0 && rows >= 0 && row0 + rows <= t->shape[0],
          "rows [%d, %d) of a %d-d tensor with %d rows", row0, row0 + rows, t->ndim, t->shape[0]);
    Tensor *v = arena_alloc(a, sizeof *v);
    *v = *t;
    v->pack = NULL;
    v->shape[0] = rows;
    v->numel = (size_t)rows * t->shape[1];
    v->data += (size_t)row0 * t->shape[1];
    if (v->grad) v->grad = tensor_grad_ready(t) + (size_t)row0 * t->shape[1];
    v->grad_unset = NULL;   /* a slice cannot stand for the whole buffer's flag: made real above */
    return v;
}

size_t tensor_rows(const Tensor *t) { return t->numel / (size_t)(t->shape[t->ndim - 1] ? t->shape[t->ndim - 1] : 1); }
int tensor_cols(const Tensor *t) { return t->shape[t->ndim - 1]; }

int tensor_same_shape(const Tensor *a, const Tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *tensor_shape_str(const Tensor *t, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ",%d" : "%d", t->shape[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

void tensor_fill(Tensor *t, real v) {
    for (size_t i = 0; i < t->numel; i++) t->data[i] = v;
}

void tensor_zero_grad(Tensor *t) {
    if (t->grad) memset(t->grad, 0, t->numel * sizeof(real));
    if (t->grad_unset) *t->grad_unset = 0;
}

real *tensor_grad_ready(const Tensor *t) {
    if (t->grad && t->grad_unset && *t->grad_unset) {
        parallel_memzero(t->grad, t->numel * sizeof(real));
        *t->grad_unset = 0;
    }
    return t->grad;
}

int tensor_grad_claim(const Tensor *t) {
    if (!t->grad || !t->grad_unset || !*t->grad_unset) return 0;
    *t->grad_unset = 0;
    return 1;
}

void tensor_share_grad(Tensor *dst, const Tensor *src) {
    dst->grad = src->grad;
    dst->grad_unset = src->grad_unset;
}
