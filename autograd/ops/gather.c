/* autograd/ops/gather.c — row gather / weighted row scatter-add (MoE token routing) and
   column slice / concat (fused projections). All loops run in a fixed order, so repeated
   indices accumulate deterministically.

   gather_rows: x [N, C], idx [n] → y [n, C], y[i] = x[idx[i]].  Saved: a copy of idx.
   scatter_add_rows: base [N, C], src [n, C], idx [n], w [n] or NULL (w ≡ 1)
     → y [N, C],  y = base;  y[idx[i]] += w[i] · src[i]  for i = 0..n-1.  Saved: a copy of idx.
     scatter_add_rows_inplace (its speed twin) does the same in base's own storage.
   slice_cols: x [..., C] → y [..., len], y[r][j] = x[r][start + j].  Saved: start.
   concat_cols: a [..., Ca], b [..., Cb] → y [..., Ca+Cb], y[r] = [a[r] | b[r]].
   Each backward's derivation sits above it. */
#include "autograd/ops/gather.h"
#include "autograd/ops/elementwise.h"
#include "tensor/check.h"
#include <string.h>

typedef struct { int *idx; int n; } RowsSaved;

/* ---- kernels on raw pointers ---- */

static void gather_rows_forward(real *y, const real *x, const int *idx, int n, int C) {
    for (int i = 0; i < n; i++) memcpy(y + (size_t)i * C, x + (size_t)idx[i] * C, (size_t)C * sizeof(real));
}

static void scatter_rows_add(real *dst, const real *src, const int *idx, const real *w, int n, int C) {
    for (int i = 0; i < n; i++) {
        real *d = dst + (size_t)idx[i] * C;
        const real *s = src + (size_t)i * C;
        real wi = w ? w[i] : (real)1;
        for (int c = 0; c < C; c++) d[c] += wi * s[c];
    }
}

/* scatter_add_rows, input src: y[idx[i]] += w[i]·src[i] makes ∂y[idx[i]][c]/∂src[i][c] = w[i],
   so dsrc[i] += w[i] · dy[idx[i]]: the gather of dy, scaled (w NULL: weight 1) */
static void gather_rows_add(real *dsrc, const real *dy, const int *idx, const real *w, int n, int C) {
    for (int i = 0; i < n; i++) {
        real *d = dsrc + (size_t)i * C;
        const real *g = dy + (size_t)idx[i] * C;
        real wi = w ? w[i] : (real)1;
        for (int c = 0; c < C; c++) d[c] += wi * g[c];
    }
}

/* scatter_add_rows, input w: ∂y[idx[i]][c]/∂w[i] = src[i][c], and w[i] touches only row
   idx[i], so  dw[i] += Σ_c dy[idx[i]][c] · src[i][c]  (a dot product, summed in double) */
static void scatter_weight_backward(real *dw, const real *dy, const real *src, const int *idx, int n, int C) {
    for (int i = 0; i < n; i++) {
        const real *g = dy + (size_t)idx[i] * C, *s = src + (size_t)i * C;
        double acc = 0.0;
        for (int c = 0; c < C; c++) acc += (double)g[c] * (double)s[c];
        dw[i] += (real)acc;
    }
}

/* dsrc[i] += w[i]·dy[idx[i]] and dw[i] += dy[idx[i]]·src[i] (the two derivations above) in
   one pass over the rows (each dy row is read once while it is in cache); the same operations
   in the same order, so the results are bitwise those of the two passes */
static void scatter_src_weight_backward(real *dsrc, real *dw, const real *dy, const real *src,
                                        const int *idx, const real *w, int n, int C) {
    for (int i = 0; i < n; i++) {
        const real *g = dy + (size_t)idx[i] * C, *s = src + (size_t)i * C;
        real *d = dsrc + (size_t)i * C;
        real wi = w[i];
        double acc = 0.0;
        for (int c = 0; c < C; c++) acc += (double)g[c] * (double)s[c];
        for (int c = 0; c < C; c++) d[c] += wi * g[c];
        dw[i] += (real)acc;
    }
}

/* y[r][0:len] (row stride ldy) += or = x[r][0:len] (row stride ldx) */
static void copy_cols(real *y, int ldy, const real *x, int ldx, size_t rows, int len, int add) {
    for (size_t r = 0; r < rows; r++) {
        real *yr = y + r * (size_t)ldy;
        const real *xr = x + r * (size_t)ldx;
        if (add)
            for (int j = 0; j < len; j++) yr[j] += xr[j];
        else
            memcpy(yr, xr, (size_t)len * sizeof(real));
    }
}

static RowsSaved *save_idx(Tape *t, TapeEntry *e, const int *idx, int n) {
    RowsSaved *sv = arena_alloc(t->arena, sizeof *sv);
    sv->idx = arena_alloc(t->arena, (size_t)(n ? n : 1) * sizeof(int));
    if (n) memcpy(sv->idx, idx, (size_t)n * sizeof(int));
    sv->n = n;
    e->saved = sv;
    return sv;
}

static void check_idx(const char *op, const int *idx, int n, int N) {
    CHECK(n >= 0 && (n == 0 || idx != NULL), "%s: bad index count %d", op, n);
    for (int i = 0; i < n; i++)
        CHECK(idx[i] >= 0 && idx[i] < N, "%s: idx[%d] = %d out of range [0, %d)", op, i, idx[i], N);
}

/* ---- gather_rows ---- */

/* y[i] = x[idx[i]]: ∂y[i][c]/∂x[r][c] = [idx[i] = r], so
     dx[r] += Σ_{i : idx[i] = r} dy[i]
   a scatter-add of dy's rows back to where they came from (repeated rows sum, in order) */
static void gather_rows_backward_entry(const TapeEntry *e) {
    const RowsSaved *sv = e->saved;
    const Tensor *x = e->in[0];
    if (x->grad) scatter_rows_add(x->grad, e->out->grad, sv->idx, NULL, sv->n, x->shape[1]);
}

Tensor *op_gather_rows(Tape *t, Tensor *x, const int *idx, int n) {
    char sx[64];
    CHECK(x->ndim == 2 && x->data, "gather_rows: x %s must be 2-D [N, C] with real data",
          tensor_shape_str(x, sx, sizeof sx));
    check_idx("gather_rows", idx, n, x->shape[0]);
    Tensor *y = tape_output(t, 2, (int[]){ n, x->shape[1] }, tape_wants_grad(t, 1, &x), "gather_rows");
    gather_rows_forward(y->data, x->data, idx, n, x->shape[1]);
    TapeEntry *e = tape_record(t, "gather_rows", gather_rows_backward_entry, y, 1, &x);
    if (e) save_idx(t, e, idx, n);
    return y;
}

/* ---- scatter_add_rows ---- */

/* y = base + Σ_i w[i]·src[i] placed at row idx[i]:
     ∂y/∂base = I                     ⇒  dbase   += dy
     ∂y[idx[i]]/∂src[i] = w[i]·I      ⇒  dsrc[i] += w[i] · dy[idx[i]]
     ∂y[idx[i]][c]/∂w[i] = src[i][c]  ⇒  dw[i]   += Σ_c dy[idx[i]][c] src[i][c] */
static void scatter_add_rows_backward_entry(const TapeEntry *e) {
    const RowsSaved *sv = e->saved;
    const Tensor *y = e->out, *base = e->in[0], *src = e->in[1], *w = e->in[2];
    int C = y->shape[1];
    if (base->grad)
        for (size_t i = 0; i < y->numel; i++) base->grad[i] += y->grad[i];
    if (src->grad && w && w->grad) {
        scatter_src_weight_backward(src->grad, w->grad, y->grad, src->data, sv->idx, w->data, sv->n, C);
        return;
    }
    if (src->grad) gather_rows_add(src->grad, y->grad, sv->idx, w ? w->data : NULL, sv->n, C);
    if (w && w->grad) scatter_weight_backward(w->grad, y->grad, src->data, sv->idx, sv->n, C);
}

Tensor *op_scatter_add_rows(Tape *t, Tensor *base, Tensor *src, const int *idx, Tensor *w) {
    char sb[64], ss[64], sw[64];
    CHECK(base->ndim == 2 && src->ndim == 2 && base->shape[1] == src->shape[1],
          "scatter_add_rows: base %s and src %s must be [N, C] and [n, C]",
          tensor_shape_str(base, sb, sizeof sb), tensor_shape_str(src, ss, sizeof ss));
    int n = src->shape[0];
    CHECK(w == NULL || w->numel == (size_t)n, "scatter_add_rows: w %s must have %d elements (src %s)",
          w ? tensor_shape_str(w, sw, sizeof sw) : "", n, tensor_shape_str(src, ss, sizeof ss));
    CHECK(base->data && src->data && (w == NULL || w->data), "scatter_add_rows: inputs must hold real data");
    check_idx("scatter_add_rows", idx, n, base->shape[0]);
    Tensor *in[3] = { base, src, w };
    Tensor *y = tape_output(t, 2, base->shape, tape_wants_grad(t, 3, in), "scatter_add_rows");
    memcpy(y->data, base->data, y->numel * sizeof(real));
    scatter_rows_add(y->data, src->data, idx, w ? w->data : NULL, n, base->shape[1]);
    TapeEntry *e = tape_record(t, "scatter_add_rows", scatter_add_rows_backward_entry, y, 3, in);
    if (e) save_idx(t, e, idx, n);
    return y;
}

/* ---- scatter_add_rows_inplace: y = base (the same storage and gradient) += w · src on idx ----
   For a base the caller owns and no other op reads afterwards (the MoE FFN's accumulator): no
   [N, C] copy forward and no [N, C] gradient add backward, as dbase IS dy. Inputs recorded:
   src, w; base's gradient buffer is shared, so base must have no other consumer. */

/* As scatter_add_rows: dsrc[i] += w[i]·dy[idx[i]], dw[i] += dy[idx[i]]·src[i]. dbase = dy
   needs no work: y->grad IS base's gradient buffer, which already holds dy. */
static void scatter_inplace_backward_entry(const TapeEntry *e) {
    const RowsSaved *sv = e->saved;
    const Tensor *y = e->out, *src = e->in[0], *w = e->in[1];
    int C = y->shape[1];
    if (src->grad && w->grad) {
        scatter_src_weight_backward(src->grad, w->grad, y->grad, src->data, sv->idx, w->data, sv->n, C);
        return;
    }
    if (src->grad) gather_rows_add(src->grad, y->grad, sv->idx, w->data, sv->n, C);
    if (w->grad) scatter_weight_backward(w->grad, y->grad, src->data, sv->idx, sv->n, C);
}

Tensor *op_scatter_add_rows_inplace(Tape *t, Tensor *base, Tensor *src, const int *idx, Tensor *w) {
    char sb[64], ss[64];
    CHECK(base->ndim == 2 && src->ndim == 2 && base->shape[1] == src->shape[1] && w != NULL &&
          w->numel == (size_t)src->shape[0] && base->data && src->data && w->data,
          "scatter_add_rows_inplace: base %s, src %s must be [N, C], [n, C] with w [n]",
          tensor_shape_str(base, sb, sizeof sb), tensor_shape_str(src, ss, sizeof ss));
    int n = src->shape[0];
    check_idx("scatter_add_rows_inplace", idx, n, base->shape[0]);
    Tensor *in[2] = { src, w };
    Tensor *y = tensor_view(t->arena, base, 2, base->shape);
    y->name = "scatter_add_rows_inplace";
    if (!base->grad && !t->no_grad && tape_wants_grad(t, 2, in))
        tensor_share_grad(y, tensor_new(t->arena, 2, base->shape, 1));
    scatter_rows_add(y->data, src->data, idx, w->data, n, base->shape[1]);
    TapeEntry *e = tape_record(t, "scatter_add_rows_inplace", scatter_inplace_backward_entry, y, 2, in);
    if (e) save_idx(t, e, idx, n);
    return y;
}

/* ---- slice_cols ---- */

typedef struct { int start; } SliceSaved;

/* y[r][j] = x[r][start + j]: a copy, so  dx[r][start + j] += dy[r][j]; the columns outside
   the slice get nothing */
static void slice_cols_backward_entry(const TapeEntry *e) {
    const SliceSaved *sv = e->saved;
    const Tensor *x = e->in[0], *y = e->out;
    if (x->grad)
        copy_cols(x->grad + sv->start, tensor_cols(x), y->grad, tensor_cols(y), tensor_rows(x),
                  tensor_cols(y), 1);
}

Tensor *op_slice_cols(Tape *t, Tensor *x, int start, int len) {
    char sx[64];
    int C = tensor_cols(x);
    CHECK(start >= 0 && len >= 0 && start <= C && len <= C - start,
          "slice_cols: columns [%d, %d+%d) out of range for x %s", start, start, len,
          tensor_shape_str(x, sx, sizeof sx));
    CHECK(x->data != NULL, "slice_cols: x must hold real data");
    int shape[TENSOR_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = len;
    Tensor *y = tape_output(t, x->ndim, shape, tape_wants_grad(t, 1, &x), "slice_cols");
    copy_cols(y->data, len, x->data + start, C, tensor_rows(x), len, 0);
    TapeEntry *e = tape_record(t, "slice_cols", slice_cols_backward_entry, y, 1, &x);
    if (e) {
        SliceSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->start = start;
        e->saved = sv;
    }
    return y;
}

/* ---- concat_cols ---- */

/* y[r] = [a[r] | b[r]]: each output column is a copy of one input column, so dy splits back:
     da[r] += dy[r][0:Ca],   db[r] += dy[r][Ca:Ca+Cb] */
static void concat_cols_backward_entry(const TapeEntry *e) {
    const Tensor *a = e->in[0], *b = e->in[1], *y = e->out;
    int Ca = tensor_cols(a), Cb = tensor_cols(b), Cy = tensor_cols(y);
    size_t rows = tensor_rows(y);
    if (a->grad) copy_cols(a->grad, Ca, y->grad, Cy, rows, Ca, 1);
    if (b->grad) copy_cols(b->grad, Cb, y->grad + Ca, Cy, rows, Cb, 1);
}

Tensor *op_concat_cols(Tape *t, Tensor *a, Tensor *b) {
    char sa[64], sb[64];
    int same_lead = a->ndim == b->ndim;
    for (int i = 0; same_lead && i < a->ndim - 1; i++) same_lead = a->shape[i] == b->shape[i];
    CHECK(same_lead, "concat_cols: leading dims differ: a %s vs b %s",
          tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
    CHECK(a->data && b->data, "concat_cols: inputs must hold real data");
    int Ca = tensor_cols(a), Cb = tensor_cols(b);
    int shape[TENSOR_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = Ca + Cb;
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, a->ndim, shape, tape_wants_grad(t, 2, in), "concat_cols");
    size_t rows = tensor_rows(y);
    copy_cols(y->data, Ca + Cb, a->data, Ca, rows, Ca, 0);
    copy_cols(y->data + Ca, Ca + Cb, b->data, Cb, rows, Cb, 0);
    tape_record(t, "concat_cols", concat_cols_backward_entry, y, 2, in);
    return y;
}

/* ---- examples for the gradient check (indices repeat and leave rows unused) ---- */

static const int EXAMPLE_IDX[6] = { 2, 0, 2, 4, 1, 2 };

static Tensor *random_tensor(Arena *a, Rng *rng, int n0, int n1, int with_grad) {
    Tensor *x = tensor_2d(a, n0, n1, with_grad);
    rng_fill_uniform(rng, x->data, x->numel, -1.0, 1.0);
    return x;
}

static void gather_rows_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = random_tensor(a, rng, 6, 3, 1);
}

static void scatter_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 3;
    ex->in[0] = random_tensor(a, rng, 5, 3, 1);
    ex->in[1] = random_tensor(a, rng, 6, 3, 1);
    ex->in[2] = tensor_1d(a, 6, 1);
    rng_fill_uniform(rng, ex->in[2]->data, 6, 0.1, 1.0);
}

static void scatter_unweighted_example(Arena *a, Rng *rng, OpExample *ex) {
    scatter_example(a, rng, ex);
    ex->n_in = 2;
    ex->in[2] = NULL;
}

static void cols_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 2;
    ex->in[0] = tensor_3d(a, 2, 2, 5, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    ex->in[1] = tensor_3d(a, 2, 2, 3, 1);
    rng_fill_uniform(rng, ex->in[1]->data, ex->in[1]->numel, -1.0, 1.0);
}

static void slice_example(Arena *a, Rng *rng, OpExample *ex) {
    cols_example(a, rng, ex);
    ex->n_in = 1;
    ex->in[1] = NULL;
}

static Tensor *gather_rows_apply(Tape *t, const OpExample *ex) {
    return op_gather_rows(t, ex->in[0], EXAMPLE_IDX, 6);
}
static Tensor *scatter_apply(Tape *t, const OpExample *ex) {
    return op_scatter_add_rows(t, ex->in[0], ex->in[1], EXAMPLE_IDX, ex->n_in > 2 ? ex->in[2] : NULL);
}
/* the in-place op on a fresh copy of base (base + 0 · ... would not do: the copy carries dbase) */
static Tensor *scatter_inplace_apply(Tape *t, const OpExample *ex) {
    Tensor *copy = op_scale(t, ex->in[0], (real)1);
    return op_scatter_add_rows_inplace(t, copy, ex->in[1], EXAMPLE_IDX, ex->in[2]);
}
static Tensor *slice_cols_apply(Tape *t, const OpExample *ex) { return op_slice_cols(t, ex->in[0], 1, 3); }
static Tensor *concat_cols_apply(Tape *t, const OpExample *ex) { return op_concat_cols(t, ex->in[0], ex->in[1]); }

static const OpCase GATHER_ROWS_CASES[] = { { "repeated_idx", gather_rows_example, gather_rows_apply, NULL } };
static const OpCase SCATTER_CASES[] = {
    { "weighted", scatter_example, scatter_apply, NULL },
    { "unweighted", scatter_unweighted_example, scatter_apply, NULL },
};
static const OpCase SCATTER_INPLACE_CASES[] = { { "weighted", scatter_example, scatter_inplace_apply, NULL } };
static const OpCase SLICE_COLS_CASES[] = { { "plain", slice_example, slice_cols_apply, NULL } };
static const OpCase CONCAT_COLS_CASES[] = { { "plain", cols_example, concat_cols_apply, NULL } };

const OpInfo OP_GATHER_ROWS = { "gather_rows", "y[i] = x[idx[i]]", NULL, OP_CASES(GATHER_ROWS_CASES) };
const OpInfo OP_SCATTER_ADD_ROWS = { "scatter_add_rows", "y = base; y[idx[i]] += w[i]·src[i]", NULL,
                                     OP_CASES(SCATTER_CASES) };
const OpInfo OP_SCATTER_ADD_ROWS_INPLACE = { "scatter_add_rows_inplace",
                                             "base[idx[i]] += w[i]·src[i] in base's storage and gradient",
                                             "scatter_add_rows", OP_CASES(SCATTER_INPLACE_CASES) };
const OpInfo OP_SLICE_COLS = { "slice_cols", "y = x[..., start:start+len]", NULL, OP_CASES(SLICE_COLS_CASES) };
const OpInfo OP_CONCAT_COLS = { "concat_cols", "y = [a | b] along the last dim", NULL, OP_CASES(CONCAT_COLS_CASES) };
