/* autograd/ops/rmsnorm.c — y = x * r * w with r = rsqrt(mean(x^2) + eps), per row.
   Matches torch_ref's `x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight`
   (the product is formed in that order: (x * r) * w).
   Shapes: x [..., C] (R = rows = product of leading dims), w [C], y like x.
   Saved: r per row ([R] reals, "rstd"); x and w are the inputs themselves.
   Backward: dx row by row, dw column by column (derivations above the two kernels).
   Rows run in parallel (disjoint outputs); dw runs in parallel over column blocks, each
   column summing its rows in row order, so results do not depend on the thread count.
   Sums of squares, r and s are computed in double. */
#include "autograd/ops/rmsnorm.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"

typedef struct {
    const real *x, *w, *dy;
    real *y, *dx, *dw, *rstd;
    size_t rows;
    int C;
    real eps;
} RmsCtx;

/* ---- kernels on raw pointers ---- */

static void rmsnorm_forward(void *vc, long r0, long r1) {
    const RmsCtx *c = vc;
    int C = c->C;
    for (long r = r0; r < r1; r++) {
        const real *x = c->x + (size_t)r * C;
        real *y = c->y + (size_t)r * C;
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)x[i] * (double)x[i];
        real rs = (real)(1.0 / sqrt(ss / C + (double)c->eps));
        c->rstd[r] = rs;
        for (int i = 0; i < C; i++) y[i] = (x[i] * rs) * c->w[i];
    }
}

/* One row, y_i = x_i r w_i with r = (S/C + eps)^(-1/2), S = Σ_j x_j². r depends on the whole
   row:  ∂r/∂x_j = -1/2 (S/C + eps)^(-3/2) · 2x_j/C = -r³ x_j / C,  so
     ∂y_i/∂x_j = w_i (r δ_ij + x_i ∂r/∂x_j) = r w_i δ_ij − (r³/C) w_i x_i x_j
     dx_j = Σ_i dy_i ∂y_i/∂x_j = r w_j dy_j − (r³/C) x_j s,   s = Σ_i dy_i w_i x_i
   The first term is the direct path; the second is the path through r, one factor
   k = r³ s / C per row times x_j. So: s (in double), then k, then one pass over the row. */
static void rmsnorm_backward_dx(void *vc, long r0, long r1) {
    const RmsCtx *c = vc;
    int C = c->C;
    for (long r = r0; r < r1; r++) {
        const real *x = c->x + (size_t)r * C, *dy = c->dy + (size_t)r * C;
        real *dx = c->dx + (size_t)r * C;
        double s = 0.0;
        for (int i = 0; i < C; i++) s += (double)dy[i] * (double)c->w[i] * (double)x[i];
        real rs = c->rstd[r];
        real k = (real)((double)rs * rs * rs * s / C);
        for (int i = 0; i < C; i++) dx[i] += rs * c->w[i] * dy[i] - k * x[i];
    }
}

/* ∂y[row][i]/∂w_i = x[row][i] r[row] (w is shared by every row), so
     dw_i += Σ_rows dy[row][i] x[row][i] r[row]
   each column's rows summed in row order (in double), DW_COLS columns side by side: one row's
   run of them is contiguous (vector loads) where a column alone read one value per cache line
   and waited on its own sum's latency. Every column's sum is the same as it was alone. */
#define DW_COLS 16
VEC_CLONES static void rmsnorm_backward_dw(void *vc, long i0, long i1) {
    const RmsCtx *c = vc;
    int C = c->C;
    for (long b = i0; b < i1; b += DW_COLS) {
        int nb = i1 - b < DW_COLS ? (int)(i1 - b) : DW_COLS;
        double s[DW_COLS] = { 0 };
        for (size_t r = 0; r < c->rows; r++) {
            const real *dy = c->dy + r * C + b, *x = c->x + r * C + b;
            double rs = (double)c->rstd[r];
            if (nb == DW_COLS)   /* a fixed count: the 16 sums stay in registers */
                for (int l = 0; l < DW_COLS; l++) s[l] += (double)dy[l] * (double)x[l] * rs;
            else
                for (int l = 0; l < nb; l++) s[l] += (double)dy[l] * (double)x[l] * rs;
        }
        for (int l = 0; l < nb; l++) c->dw[b + l] += (real)s[l];
    }
}

/* ---- op ---- */

/* dx_j += r w_j dy_j − (r³/C) x_j Σ_i dy_i w_i x_i per row; dw_i += Σ_rows dy_i x_i r;
   from the saved r (rmsnorm_backward_dx, rmsnorm_backward_dw) */
static void rmsnorm_backward(const TapeEntry *e) {
    Tensor *x = e->in[0], *w = e->in[1];
    RmsCtx c = { x->data, w->data, e->out->grad, NULL, x->grad, w->grad, e->saved,
                 tensor_rows(x), tensor_cols(x), 0 };
    if (x->grad) parallel_for_chunks((long)c.rows, 16, rmsnorm_backward_dx, &c);
    if (w->grad) parallel_for_chunks(c.C, 16, rmsnorm_backward_dw, &c);
}

Tensor *op_rmsnorm(Tape *t, Tensor *x, Tensor *w, real eps) {
    char sx[64], sw[64];
    CHECK(x->data && w->data, "rmsnorm: inputs must hold real data (not bf16)");
    CHECK(x->ndim >= 1 && w->ndim == 1 && w->shape[0] == tensor_cols(x),
          "rmsnorm: x %s needs w [%d], got w %s", tensor_shape_str(x, sx, sizeof sx),
          tensor_cols(x), tensor_shape_str(w, sw, sizeof sw));
    CHECK(eps >= 0, "rmsnorm: eps must be >= 0, got %g", (double)eps);
    Tensor *in[2] = { x, w };
    Tensor *y = tape_output(t, x->ndim, x->shape, tape_wants_grad(t, 2, in), "rmsnorm");
    RmsCtx c = { x->data, w->data, NULL, y->data, NULL, NULL, NULL, tensor_rows(x), tensor_cols(x), eps };
    ArenaMark m = arena_mark(t->arena);
    c.rstd = arena_alloc(t->arena, (c.rows ? c.rows : 1) * sizeof(real));
    parallel_for_chunks((long)c.rows, 16, rmsnorm_forward, &c);
    TapeEntry *e = tape_record(t, "rmsnorm", rmsnorm_backward, y, 2, in);
    if (e) e->saved = c.rstd;
    else arena_rewind(t->arena, m);   /* not recorded: the statistics are not needed */
    return y;
}

/* ---- examples for the gradient check ---- */

static void rmsnorm_example_common(Arena *a, Rng *rng, OpExample *ex, int w_grad) {
    ex->n_in = 2;
    ex->in[0] = tensor_3d(a, 2, 3, 5, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    ex->in[1] = tensor_1d(a, 5, w_grad);
    rng_fill_uniform(rng, ex->in[1]->data, 5, 0.5, 1.5);
}

static void rmsnorm_example(Arena *a, Rng *rng, OpExample *ex) { rmsnorm_example_common(a, rng, ex, 1); }
static void rmsnorm_example_frozen(Arena *a, Rng *rng, OpExample *ex) { rmsnorm_example_common(a, rng, ex, 0); }
static Tensor *rmsnorm_apply(Tape *t, const OpExample *ex) {
    return op_rmsnorm(t, ex->in[0], ex->in[1], (real)1e-5);
}

static const OpCase RMSNORM_CASES[] = {
    { "plain", rmsnorm_example, rmsnorm_apply, NULL },
    { "frozen_w", rmsnorm_example_frozen, rmsnorm_apply, NULL },
};
const OpInfo OP_RMSNORM = { "rmsnorm", "y = x·rsqrt(mean(x²) + eps)·w over the last dim", NULL,
                            OP_CASES(RMSNORM_CASES) };
