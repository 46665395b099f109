/* autograd/ops/routed_ffn.c — op_routed_ffn: the routed SwiGLU experts in one op (routed_ffn.h).
   Layout: assignment j (0 <= j < P) is the routing's j-th (row, expert) pair, grouped by expert
   (r->rows / r->flat order); expert e owns j in [offset[e], offset[e+1]) and its rows are
   distinct. Saved per assignment: g = w1 x, u = w3 x [F], d = w2 s [C].
   Every step below is the arithmetic of one op of the unfused chain (routed_ffn.h), named. */
#include "autograd/ops/routed_ffn.h"
#include "autograd/ops/matmul.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"
#include <string.h>

#define RF_EW_GRAIN 8192   /* elements per pool task of the elementwise passes */

typedef struct {
    const Routing *r;
    Tensor **w1, **w3, **w2;   /* [n_true] */
    Tensor *h, *W, *y;
    Arena *arena;              /* the tape's: per-expert scratch of the backward */
    int n_true, C, F, max_n;
    real *g, *u;               /* [P, F] saved */
    real *d;                   /* [P, C] saved */
} RfCtx;

/* One expert's row job: n rows (rows[i] of the [N, *] side, i of the [n, *] side), width C. */
typedef struct {
    real *dst;
    const real *src, *w, *dy;
    real *wgrad;
    const int *rows, *flat;
    int C;
} RowJob;

/* gather_rows: dst[i] = src[rows[i]] */
static void gather_task(void *vj, long b, long e) {
    const RowJob *j = vj;
    for (long i = b; i < e; i++) memcpy(j->dst + i * j->C, j->src + (size_t)j->rows[i] * j->C, (size_t)j->C * sizeof(real));
}

/* scatter_add_rows (w[flat]) / gather_rows backward (w NULL): dst[rows[i]] += w·src[i] */
static void scatter_task(void *vj, long b, long e) {
    const RowJob *j = vj;
    for (long i = b; i < e; i++) {
        real *d = j->dst + (size_t)j->rows[i] * j->C;
        const real *s = j->src + i * j->C;
        real wi = j->w ? j->w[j->flat[i]] : (real)1;
        for (int c = 0; c < j->C; c++) d[c] += wi * s[c];
    }
}

/* scatter_add_rows backward (gather.c scatter_src_weight_backward): with g = dy[rows[i]],
   dst[i] += w[flat[i]]·g  (dst zeroed: the source's fresh gradient) and, when wgrad,
   wgrad[flat[i]] += Σ_c g[c]·d[i][c] (summed in double; src = d) */
static void dd_task(void *vj, long b, long e) {
    const RowJob *j = vj;
    for (long i = b; i < e; i++) {
        const real *g = j->dy + (size_t)j->rows[i] * j->C, *s = j->src + i * j->C;
        real *d = j->dst + i * j->C, wi = j->w[j->flat[i]];
        double acc = 0.0;
        for (int c = 0; c < j->C; c++) acc += (double)g[c] * (double)s[c];
        for (int c = 0; c < j->C; c++) d[c] += wi * g[c];
        if (j->wgrad) j->wgrad[j->flat[i]] += (real)acc;
    }
}

static void rows_parallel(ParallelFn fn, RowJob *j, int n) {
    long grain = 4096 / (j->C > 0 ? j->C : 1);
    parallel_for_chunks(n, grain > 0 ? grain : 1, fn, j);
}

typedef struct { real *s, *dg; const real *g, *u; } EwJob;

/* swiglu forward: s = silu(g)·u, as activation.c swiglu_forward */
VEC_CLONES static void swiglu_task(void *vj, long b, long e) {
    const EwJob *j = vj;
    for (long i = b; i < e; i++) j->s[i] = j->g[i] * vm_sigmoid(j->g[i]) * j->u[i];
}

/* swiglu_shared_grad backward (activation.c swiglu_backward_shared, both gradients): s holds
   ds and becomes du; dg (zeroed) += ds·u·silu'(g), silu'(g) = σ·(1 + g·(1 − σ)) */
VEC_CLONES static void swiglu_back_task(void *vj, long b, long e) {
    const EwJob *j = vj;
    const real *g = j->g, *u = j->u;
    for (long i = b; i < e; i++) {
        real sg = vm_sigmoid(g[i]), dy = j->s[i];
        j->dg[i] += dy * u[i] * (sg * ((real)1 + g[i] * ((real)1 - sg)));
        j->s[i] = dy * g[i] * sg;
    }
}

static void ew_parallel(ParallelFn fn, EwJob *j, long n) { parallel_for_chunks(n, RF_EW_GRAIN, fn, j); }

/* op_linear's product with w's storage (f32, bf16 or quantised): y [n, O] = x [n, I]·wᵀ */
static void lin_fwd(real *y, const real *x, const Tensor *w, int n, real *scratch) {
    matmul_linear_forward(y, x, w, n, scratch);
}
static void lin_bwd(real *dx, const real *dy, const real *x, const Tensor *w, int n, real *scratch) {
    matmul_linear_backward(dx, (real)1, w->grad, dy, x, w, n, scratch);
}

/* expert e's forward on its n rows: x = gather(h), g = w1 x, u = w3 x, s = silu(g)·u,
   d = w2 s (into the saved g, u, d); xs [n, C] and ss [n, F] are scratch */
static void expert_forward(const RfCtx *c, int e, real *xs, real *ss, real *scratch) {
    const Routing *r = c->r;
    int off = r->offset[e], n = r->offset[e + 1] - off, C = c->C, F = c->F;
    RowJob gj = { .dst = xs, .src = c->h->data, .rows = r->rows + off, .C = C };
    rows_parallel(gather_task, &gj, n);
    real *g = c->g + (size_t)off * F, *u = c->u + (size_t)off * F, *d = c->d + (size_t)off * C;
    lin_fwd(g, xs, c->w1[e], n, scratch);
    lin_fwd(u, xs, c->w3[e], n, scratch);
    EwJob sj = { .s = ss, .g = g, .u = u };
    ew_parallel(swiglu_task, &sj, (long)n * F);
    lin_fwd(d, ss, c->w2[e], n, scratch);
}

/* The chain's backward for expert e, in the tape's order (scatter, gather of W, w2, swiglu,
   w3, w1, gather of h); s is rebuilt from the saved g, u. Scratch: xs, dd, dx [n, C] and
   ss, ds, dg [n, F]. */
static void expert_backward(const RfCtx *c, int e, real *sc[6], real *scratch) {
    const Routing *r = c->r;
    int off = r->offset[e], n = r->offset[e + 1] - off, C = c->C, F = c->F;
    real *xs = sc[0], *dd = sc[1], *dx = sc[2], *ss = sc[3], *ds = sc[4], *dg = sc[5];
    const real *g = c->g + (size_t)off * F, *u = c->u + (size_t)off * F, *d = c->d + (size_t)off * C;
    const int *rows = r->rows + off;
    memset(dd, 0, (size_t)n * C * sizeof(real));
    RowJob dj = { .dst = dd, .src = d, .w = c->W->data, .dy = c->y->grad, .wgrad = c->W->grad, .rows = rows,
                  .flat = r->flat + off, .C = C };
    rows_parallel(dd_task, &dj, n);                         /* scatter_add_rows + gather of W */
    EwJob sj = { .s = ss, .g = g, .u = u };
    ew_parallel(swiglu_task, &sj, (long)n * F);             /* s again */
    memset(ds, 0, (size_t)n * F * sizeof(real));
    lin_bwd(ds, dd, ss, c->w2[e], n, scratch);              /* w2: ds += dd·w2, dw2 += ddᵀ s */
    memset(dg, 0, (size_t)n * F * sizeof(real));
    EwJob bj = { .s = ds, .dg = dg, .g = g, .u = u };
    ew_parallel(swiglu_back_task, &bj, (long)n * F);        /* swiglu: dg, and du over ds */
    RowJob gj = { .dst = xs, .src = c->h->data, .rows = rows, .C = C };
    rows_parallel(gather_task, &gj, n);                     /* x again */
    real *dxp = c->h->grad ? dx : NULL;
    if (dxp) memset(dx, 0, (size_t)n * C * sizeof(real));
    lin_bwd(dxp, ds, xs, c->w3[e], n, scratch);             /* w3: dx += du·w3, dw3 += duᵀ x */
    lin_bwd(dxp, dg, xs, c->w1[e], n, scratch);             /* w1: dx += dg·w1, dw1 += dgᵀ x */
    if (!dxp) return;
    RowJob hj = { .dst = c->h->grad, .src = dx, .rows = rows, .C = C };
    rows_parallel(scatter_task, &hj, n);                    /* gather_rows of h: dh[rows] += dx */
}

static size_t max_scratch(const RfCtx *c) {
    size_t s = matmul_linear_scratch(c->max_n, c->C, c->F), s2 = matmul_linear_scratch(c->max_n, c->F, c->C);
    return (s > s2 ? s : s2) + 1;
}

/* experts descending (the tape replays the chain's last expert first); scratch is released */
static void routed_ffn_backward(const TapeEntry *e) {
    const RfCtx *c = e->saved;
    ArenaMark m = arena_mark(c->arena);
    size_t nc = (size_t)c->max_n * c->C + 1, nf = (size_t)c->max_n * c->F + 1;
    real *sc[6];
    for (int i = 0; i < 6; i++) sc[i] = arena_alloc(c->arena, (i < 3 ? nc : nf) * sizeof(real));
    real *scratch = arena_alloc(c->arena, max_scratch(c) * sizeof(real));
    for (int x = c->n_true - 1; x >= 0; x--)
        if (c->r->offset[x + 1] > c->r->offset[x]) expert_backward(c, x, sc, scratch);
    arena_rewind(c->arena, m);
}

static void check_args(const Tensor *h, const Tensor *W, const Routing *r, Tensor *const *w1, Tensor *const *w3,
                       Tensor *const *w2) {
    char sh[64], sw[64];
    CHECK(h->ndim == 2 && W->ndim == 2 && h->shape[0] == r->N && W->shape[0] == r->N && W->shape[1] == r->E &&
          h->data && W->data, "routed_ffn: need h [N, C], W [N, E] with N = %d, E = %d; got %s %s", r->N, r->E,
          tensor_shape_str(h, sh, sizeof sh), tensor_shape_str(W, sw, sizeof sw));
    int C = h->shape[1], F = r->n_true > 0 ? w1[0]->shape[0] : 0;
    for (int e = 0; e < r->n_true; e++) {
        const Tensor *w[3] = { w1[e], w3[e], w2[e] };
        for (int k = 0; k < 3; k++)
            CHECK(w[k]->ndim == 2 && w[k]->shape[0] == (k == 2 ? C : F) && w[k]->shape[1] == (k == 2 ? F : C) &&
                  (w[k]->data || w[k]->bf16 || w[k]->quant) && (w[k]->data || !w[k]->grad),
                  "routed_ffn: expert %d needs w1, w3 [%d, %d] and w2 [%d, %d] (bf16 / quantised only frozen)", e,
                  F, C, C, F);
    }
}

static int any_grad(const Tape *t, const Tensor *h, const Tensor *W, int n, Tensor *const *w1, Tensor *const *w3,
                    Tensor *const *w2) {
    if (t->no_grad) return 0;
    int g = h->grad || W->grad;
    for (int e = 0; e < n && !g; e++) g = w1[e]->grad || w3[e]->grad || w2[e]->grad;
    return g;
}

static RfCtx *make_ctx(Tape *t, Tensor *h, Tensor *W, const Routing *r, Tensor *const *w1, Tensor *const *w3,
                       Tensor *const *w2) {
    RfCtx *c = arena_alloc(t->arena, sizeof *c);
    *c = (RfCtx){ .r = r, .h = h, .W = W, .arena = t->arena, .n_true = r->n_true, .C = h->shape[1],
                  .F = r->n_true > 0 ? w1[0]->shape[0] : 0 };
    Tensor **banks = arena_alloc(t->arena, 3 * (size_t)(c->n_true ? c->n_true : 1) * sizeof *banks);
    c->w1 = banks, c->w3 = banks + c->n_true, c->w2 = banks + 2 * c->n_true;
    for (int e = 0; e < c->n_true; e++) {
        c->w1[e] = w1[e], c->w3[e] = w3[e], c->w2[e] = w2[e];
        int n = r->offset[e + 1] - r->offset[e];
        if (n > c->max_n) c->max_n = n;
    }
    return c;
}

Tensor *op_routed_ffn(Tape *t, Tensor *h, Tensor *W, const Routing *r, Tensor *const *w1, Tensor *const *w3,
                      Tensor *const *w2) {
    check_args(h, W, r, w1, w3, w2);
    int wants = any_grad(t, h, W, r->n_true, w1, w3, w2), P = r->offset[r->n_true];
    Tensor *y = tape_output(t, 2, h->shape, wants, "routed_ffn");
    memset(y->data, 0, y->numel * sizeof(real));
    if (P == 0) return y;
    RfCtx *c = make_ctx(t, h, W, r, w1, w3, w2);
    c->y = y;
    ArenaMark saved_mark = arena_mark(t->arena);
    c->g = arena_alloc(t->arena, (size_t)P * c->F * sizeof(real) + sizeof(real));
    c->u = arena_alloc(t->arena, (size_t)P * c->F * sizeof(real) + sizeof(real));
    c->d = arena_alloc(t->arena, (size_t)P * c->C * sizeof(real) + sizeof(real));
    ArenaMark m = arena_mark(t->arena);
    real *xs = arena_alloc(t->arena, ((size_t)c->max_n * c->C + 1) * sizeof(real));
    real *ss = arena_alloc(t->arena, ((size_t)c->max_n * c->F + 1) * sizeof(real));
    real *scratch = arena_alloc(t->arena, max_scratch(c) * sizeof(real));
    for (int e = 0; e < c->n_true; e++) {
        int off = r->offset[e], n = r->offset[e + 1] - off;
        if (n == 0) continue;
        expert_forward(c, e, xs, ss, scratch);
        RowJob sj = { .dst = y->data, .src = c->d + (size_t)off * c->C, .w = W->data, .rows = r->rows + off,
                      .flat = r->flat + off, .C = c->C };
        rows_parallel(scatter_task, &sj, n);   /* scatter_add_rows_inplace: y[rows] += W·d */
    }
    arena_rewind(t->arena, m);
    Tensor *in[2] = { h, W };
    TapeEntry *e = wants ? tape_record(t, "routed_ffn", routed_ffn_backward, y, 2, in) : NULL;
    if (e) e->saved = c;
    else arena_rewind(t->arena, saved_mark);
    return y;
}

/* ---- examples for the gradient check: N = 6 rows, C = 5, F = 4, 3 true + 2 null experts,
   top-2 from a fixed p (a constant); w1 and w3 are stacked in one input [3·2F, C] and w2 in
   another [3·C, F], cut into per-expert views. Row 0 selects only nulls (y = 0 there). ---- */

enum { EX_N = 6, EX_C = 5, EX_F = 4, EX_T = 3, EX_E = 5, EX_K = 2 };

static void rf_example_common(Arena *ar, Rng *rng, OpExample *ex, int w_grad) {
    static const int shapes[4][2] = { { EX_N, EX_C }, { EX_N, EX_E }, { EX_T * 2 * EX_F, EX_C }, { EX_T * EX_C, EX_F } };
    for (int i = 0; i < 4; i++) {
        ex->in[i] = tensor_2d(ar, shapes[i][0], shapes[i][1], i < 2 || w_grad);
        rng_fill_uniform(rng, ex->in[i]->data, ex->in[i]->numel, i == 1 ? 0.1 : -1.0, 1.0);
    }
    ex->n_in = 4;
    Tensor *p = tensor_2d(ar, EX_N, EX_E, 0);
    rng_fill_uniform(rng, p->data, p->numel, 0.0, 1.0);
    p->data[0 * EX_E + 3] = p->data[0 * EX_E + 4] = 2;   /* row 0: two nulls, no true expert */
    p->data[1 * EX_E + 0] = p->data[1 * EX_E + 2] = 2;   /* row 1: experts 0 and 2 */
    ex->aux = p;
}

static void rf_example(Arena *a, Rng *rng, OpExample *ex) { rf_example_common(a, rng, ex, 1); }
static void rf_example_frozen(Arena *a, Rng *rng, OpExample *ex) { rf_example_common(a, rng, ex, 0); }

static Tensor *rf_apply(Tape *t, const OpExample *ex) {
    Routing *r = arena_alloc(t->arena, sizeof *r);
    route_select(t->arena, ex->aux, EX_T, EX_K, NULL, r);
    Tensor *w1[EX_T], *w3[EX_T], *w2[EX_T];
    for (int e = 0; e < EX_T; e++) {
        w1[e] = tensor_rows_view(t->arena, ex->in[2], 2 * e * EX_F, EX_F);
        w3[e] = tensor_rows_view(t->arena, ex->in[2], (2 * e + 1) * EX_F, EX_F);
        w2[e] = tensor_rows_view(t->arena, ex->in[3], e * EX_C, EX_C);
    }
    return op_routed_ffn(t, ex->in[0], ex->in[1], r, w1, w3, w2);
}

static const OpCase ROUTED_FFN_CASES[] = {
    { "trainable", rf_example, rf_apply, NULL },
    { "frozen_w", rf_example_frozen, rf_apply, NULL },
};
const OpInfo OP_ROUTED_FFN = { "routed_ffn", "y = Σ routed true experts W[t, e]·w2_e(silu(w1_e h[t]) ⊙ w3_e h[t])",
                               NULL, OP_CASES(ROUTED_FFN_CASES) };
