/* autograd/ops/routed_lora.c — op_routed_lora: routed LoRA experts in one op (routed_lora.h).
   Layout: assignment j (0 <= j < P) is the routing's j-th (row, expert) pair, grouped by expert
   (r->rows / r->flat order, rows ascending within an expert); row_start counts them per row. */
#include "autograd/ops/routed_lora.h"
#include "autograd/ops/elementwise.h"
#include "tensor/rowvec_rank.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "autograd/ops/matmul.h"
#include <string.h>

#define RL_MAX_RANK 1024
#define RL_SLICES 4          /* column slices per expert for the dA / dB accumulation */

typedef struct {
    const Routing *r;
    Tensor **a, **b;         /* [n_true] */
    const Tensor *x, *W, *base;
    Tensor *y;
    int n_true, R, in, out, P, inplace;
    real s;
    int *row_start;          /* [N+1] running count of assignments per row */
    real *h;                 /* [P, R]  A_e x of each assignment (saved) */
    real *bt;                /* [n_true, R, out]  Bᵀ_e */
    real *dh;                /* [P, R]  backward scratch */
    real *wh;                /* [P, R]  backward scratch: s·W[t, e]·h of each assignment (for dB) */
    real *dbt;               /* [n_true, R, out]  backward scratch */
} RlCtx;

/* The row passes run over blocks of RL_BLOCK rows, and inside a block expert by expert (each
   expert's assignments in the block, in row order): an expert's A_e and Bᵀ_e (9-24 KB each at
   rank 8) then stay in L1 for its whole sweep instead of alternating with the other experts'
   from row to row, and the block's rows of x, y (dy, dx) come from L3 once and from L2 for the
   next experts. Each row still gets its experts' terms in ascending expert order, as the by-row
   order gave them: the same bits. The rows of the next assignment are asked for ahead of use;
   the hardware prefetcher alone does not follow a gathered sweep. (Asking for the next block's
   rows too, in one burst at the block's start or a few lines per assignment, measured no gain.)
   Blocks of 64 / 128 / 256 rows: 128 (its rows' x and y, ~0.5 MB at in 288 / out 768, stay in
   L2 with the experts' matrices). */
#define RL_BLOCK 128

static void rl_prefetch(const real *p, int n, int write) {
    if (write)
        for (int i = 0; i < n; i += 64 / (int)sizeof(real)) __builtin_prefetch(p + i, 1, 3);
    else
        for (int i = 0; i < n; i += 64 / (int)sizeof(real)) __builtin_prefetch(p + i, 0, 3);
}

/* cur[e] = the first assignment of expert e whose row is >= row (rows ascend within an expert) */
static void first_assignments(const Routing *r, long row, int *cur) {
    for (int e = 0; e < r->n_true; e++) {
        int lo = r->offset[e], hi = r->offset[e + 1];
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (r->rows[mid] < row) lo = mid + 1;
            else hi = mid;
        }
        cur[e] = lo;
    }
}

/* Runs fn on every assignment (t, e) with t in [b, e1): blocks of RL_BLOCK rows, inside a block
   expert by expert, each expert's assignments in row order; next = the row of that expert's next
   assignment in the block (-1: none), for the prefetch. scratch: RL_MAX_RANK reals for fn. */
typedef void (*AssignFn)(const RlCtx *c, int ex, int j, int next, real *scratch);

static void sweep(const RlCtx *c, long b, long e1, AssignFn fn) {
    const Routing *r = c->r;
    real scratch[RL_MAX_RANK];
    int cur[MOE_ROUTE_MAX_E];
    first_assignments(r, b, cur);
    for (long b0 = b; b0 < e1; b0 += RL_BLOCK) {
        long b1 = e1 - b0 < RL_BLOCK ? e1 : b0 + RL_BLOCK;
        for (int ex = 0; ex < c->n_true; ex++) {
            int j = cur[ex], end = r->offset[ex + 1];
            for (; j < end && r->rows[j] < b1; j++)
                fn(c, ex, j, j + 1 < end && r->rows[j + 1] < b1 ? r->rows[j + 1] : -1, scratch);
            cur[ex] = j;
        }
    }
}

/* y[t] += s·W[t, e]·B_e (A_e x[t]) for assignment j = (t, e) */
static void fwd_assignment(const RlCtx *c, int ex, int j, int next, real *coef) {
    int t = c->r->rows[j];
    if (next >= 0) {
        rl_prefetch(c->x->data + (size_t)next * c->in, c->in, 0);
        rl_prefetch(c->y->data + (size_t)next * c->out, c->out, 1);
    }
    real *h = c->h + (size_t)j * c->R, w = c->s * c->W->data[c->r->flat[j]];
    rowvec_dots(c->a[ex]->data, c->R, c->in, c->x->data + (size_t)t * c->in, h);
    for (int k = 0; k < c->R; k++) coef[k] = w * h[k];
    rowvec_axpy_rows(c->y->data + (size_t)t * c->out, c->bt + (size_t)ex * c->R * c->out, c->R, c->out, coef);
}

static void fwd_rows(void *vc, long b, long e1) { sweep(vc, b, e1, fwd_assignment); }

/* The row-side gradients of routed_lora_backward, per assignment j = (t, e), w = s·W[t, e]:
   dh' = B_eᵀ dy[t],  dW[t, e] += s Σ_k dh'_k h_k,  dh = w·dh' (kept for dA),  wh = w·h (kept for
   dB),  dx[t] += Σ_k dh_k A_e[k,:]; each row's experts in ascending order (sweep). */
static void bwd_assignment(const RlCtx *c, int ex, int j, int next, real *dhp) {
    int t = c->r->rows[j], f = c->r->flat[j];
    const real *dy = c->y->grad;
    if (next >= 0) {
        rl_prefetch(dy + (size_t)next * c->out, c->out, 0);
        if (c->x->grad) rl_prefetch(c->x->grad + (size_t)next * c->in, c->in, 1);
    }
    const real *h = c->h + (size_t)j * c->R;
    real *dh = c->dh + (size_t)j * c->R, w = c->s * c->W->data[f];
    rowvec_dots(c->bt + (size_t)ex * c->R * c->out, c->R, c->out, dy + (size_t)t * c->out, dhp);
    if (c->W->grad) {
        real acc = 0;
        for (int k = 0; k < c->R; k++) acc += dhp[k] * h[k];
        c->W->grad[f] += c->s * acc;
    }
    for (int k = 0; k < c->R; k++) dh[k] = w * dhp[k];
    for (int k = 0; k < c->R; k++) c->wh[(size_t)j * c->R + k] = w * h[k];
    if (c->x->grad) rowvec_axpy_rows(c->x->grad + (size_t)t * c->in, c->a[ex]->data, c->R, c->in, dh);
}

static void bwd_rows(void *vc, long b, long e1) { sweep(vc, b, e1, bwd_assignment); }

/* columns [lo, hi) of slice s: near-equal, boundaries on multiples of 16 (whole vectors) */
static void slice_of(int n, int s, int *lo, int *hi) {
    *lo = (int)((long)n * s / RL_SLICES / 16 * 16);
    *hi = s == RL_SLICES - 1 ? n : (int)((long)n * (s + 1) / RL_SLICES / 16 * 16);
}

/* The expert-side gradients of routed_lora_backward, task = (expert e, column slice):
     dA_e[k, slice] += Σ_j dh_j,k x[row_j][slice]          (dh from bwd_rows)
     dB_e[slice, k] += Σ_j s·W[row_j, e]·h_j,k dy[row_j][slice]   (s·W·h = wh, from bwd_rows)
   over e's assignments j in routing order (rowvec_outer_add_rows: all of them per register
   block); dB is summed in Bᵀ layout (dbt), then added. */
static void bwd_experts(void *vc, long b, long e) {
    const RlCtx *c = vc;
    for (long task = b; task < e; task++) {
        int ex = (int)(task % c->n_true), sl = (int)(task / c->n_true), lo, hi;   /* slice-major: every
                                                 thread's range covers every expert, whatever their loads */
        int j0 = c->r->offset[ex], n = c->r->offset[ex + 1] - j0;
        const int *rows = c->r->rows + j0;
        Tensor *A = c->a[ex], *B = c->b[ex];
        if (A->grad) {
            slice_of(c->in, sl, &lo, &hi);
            if (lo < hi)
                rowvec_outer_add_rows(A->grad, c->R, c->in, lo, hi, c->dh + (size_t)j0 * c->R, c->R, n, c->x->data,
                                      c->in, rows);
        }
        if (!B->grad) continue;
        slice_of(c->out, sl, &lo, &hi);
        real *dbt = c->dbt + (size_t)ex * c->R * c->out;
        for (int k = 0; k < c->R; k++) memset(dbt + (size_t)k * c->out + lo, 0, (size_t)(hi - lo) * sizeof(real));
        if (lo < hi)
            rowvec_outer_add_rows(dbt, c->R, c->out, lo, hi, c->wh + (size_t)j0 * c->R, c->R, n, c->y->grad, c->out,
                                  rows);
        for (int k = 0; k < c->R; k++) {   /* dB_e[o][k] += dbt[k][o]: contiguous reads, stores at stride R */
            const real *d = dbt + (size_t)k * c->out;
            for (int o = lo; o < hi; o++) B->grad[(size_t)o * c->R + k] += d[o];
        }
    }
}

/* y[t] = base[t] + Σ_{e ∈ S_t, e < n_true} s·W[t, e]·B_e h_{t,e},   h_{t,e} = A_e x[t]  [R]
   For one assignment (t, e) with w = W[t, e] and h = h_{t,e} (saved), its term is s·w·B_e h:
     ∂/∂W[t, e] = s B_e h         ⇒  dW[t, e] += s · dy[t]·(B_e h) = s Σ_k dh'_k h_k,
                                       dh' = B_eᵀ dy[t]   [R]
     ∂/∂h = s·w·B_e               ⇒  dh = s·w·dh'
     h = A_e x[t]                 ⇒  dx[t] += A_eᵀ dh = Σ_k dh_k A_e[k,:]
                                       dA_e[k,:] += dh_k x[t]
     ∂/∂B_e[o][k] = s·w·h_k       ⇒  dB_e[o][k] += s·w·h_k dy[t][o]
     ∂y/∂base = I                 ⇒  dbase += dy  (in place: already there, shared buffer)
   Sums over a row's assignments (dx, dW) run per row (bwd_rows), sums over an expert's
   assignments (dA_e, dB_e) per expert and column slice (bwd_experts), after bwd_rows. */
static void routed_lora_backward(const TapeEntry *e) {
    RlCtx *c = e->saved;
    if (!c->inplace && c->base->grad) ew_axpy(c->base->grad, (real)1, c->y->grad, c->y->numel);
    parallel_for_weighted(c->r->N, c->row_start, bwd_rows, c);
    parallel_for((long)c->n_true * RL_SLICES, bwd_experts, c);
}

static void check_args(const Tensor *base, const Tensor *x, const Tensor *W, const Routing *r,
                       Tensor *const *a, Tensor *const *b) {
    char sb[64], sx[64], sw[64];
    CHECK(base->ndim == 2 && x->ndim == 2 && W->ndim == 2 && x->shape[0] == r->N && base->shape[0] == r->N &&
          W->shape[0] == r->N && W->shape[1] == r->E && base->data && x->data && W->data,
          "routed_lora: need base [N, out], x [N, in], W [N, E] with N = %d, E = %d; got %s %s %s", r->N, r->E,
          tensor_shape_str(base, sb, sizeof sb), tensor_shape_str(x, sx, sizeof sx),
          tensor_shape_str(W, sw, sizeof sw));
    int R = r->n_true > 0 ? a[0]->shape[0] : 0;
    CHECK(R <= RL_MAX_RANK, "routed_lora: rank %d > %d", R, RL_MAX_RANK);
    for (int e = 0; e < r->n_true; e++)
        CHECK(a[e]->ndim == 2 && b[e]->ndim == 2 && a[e]->shape[0] == R && a[e]->shape[1] == x->shape[1] &&
              b[e]->shape[0] == base->shape[1] && b[e]->shape[1] == R && a[e]->data && b[e]->data,
              "routed_lora: expert %d needs A [%d, %d] and B [%d, %d]", e, R, x->shape[1], base->shape[1], R);
}

static int any_grad(const Tape *t, const Tensor *base, const Tensor *x, const Tensor *W, int n,
                    Tensor *const *a, Tensor *const *b, int inplace) {
    if (t->no_grad) return 0;
    int g = x->grad || W->grad || (!inplace && base->grad);
    for (int e = 0; e < n && !g; e++) g = a[e]->grad || b[e]->grad;
    return g;
}

/* row_start [N + 1]: the running count of assignments per row (the pool's work weights) */
static void index_assignments(Arena *ar, RlCtx *c) {
    const Routing *r = c->r;
    c->row_start = arena_alloc(ar, (size_t)(r->N + 1) * sizeof(int));
    memset(c->row_start, 0, (size_t)(r->N + 1) * sizeof(int));
    for (int j = 0; j < c->P; j++) {
        CHECK(r->rows[j] >= 0 && r->rows[j] < r->N, "routed_lora: routed row %d out of [0, %d)", r->rows[j], r->N);
        c->row_start[r->rows[j] + 1]++;
    }
    for (int t = 0; t < r->N; t++) c->row_start[t + 1] += c->row_start[t];
}

/* Bᵀ of experts [b, e) (a pool task per expert: at 2 threads a serial copy is critical path) */
static void transpose_b_task(void *vc, long b, long e1) {
    RlCtx *c = vc;
    for (long e = b; e < e1; e++) {
        const real *B = c->b[e]->data;
        real *bt = c->bt + (size_t)e * c->R * c->out;
        for (int k = 0; k < c->R; k++) {   /* row k of Bᵀ: contiguous stores, reads at stride R */
            real *d = bt + (size_t)k * c->out;
            for (int o = 0; o < c->out; o++) d[o] = B[(size_t)o * c->R + k];
        }
    }
}

static Tensor *make_output(Tape *t, Tensor *base, int wants, int inplace) {
    if (inplace) {
        Tensor *y = tensor_view(t->arena, base, 2, base->shape);
        y->name = "routed_lora";
        if (!base->grad && wants) tensor_share_grad(y, tensor_new(t->arena, 2, base->shape, 1));
        return y;
    }
    Tensor *y = tape_output(t, 2, base->shape, wants, "routed_lora");
    memcpy(y->data, base->data, base->numel * sizeof(real));
    return y;
}

Tensor *op_routed_lora(Tape *t, Tensor *base, Tensor *x, Tensor *W, const Routing *r,
                       Tensor *const *a, Tensor *const *b, real s, int inplace) {
    check_args(base, x, W, r, a, b);
    int P = r->offset[r->n_true];
    if (P == 0) return base;
    int wants = any_grad(t, base, x, W, r->n_true, a, b, inplace);
    Tensor *y = make_output(t, base, wants, inplace);
    RlCtx *c = arena_alloc(t->arena, sizeof *c);
    *c = (RlCtx){ .r = r, .x = x, .W = W, .base = base, .y = y, .n_true = r->n_true, .R = a[0]->shape[0],
                  .in = x->shape[1], .out = base->shape[1], .P = P, .inplace = inplace, .s = s };
    c->a = arena_alloc(t->arena, (size_t)c->n_true * sizeof *c->a);
    c->b = arena_alloc(t->arena, (size_t)c->n_true * sizeof *c->b);
    memcpy(c->a, a, (size_t)c->n_true * sizeof *c->a);
    memcpy(c->b, b, (size_t)c->n_true * sizeof *c->b);
    ArenaMark mark = arena_mark(t->arena);
    index_assignments(t->arena, c);
    size_t nbt = (size_t)c->n_true * c->R * c->out;
    c->h = arena_alloc(t->arena, (size_t)P * c->R * sizeof(real) + sizeof(real));
    c->bt = arena_alloc(t->arena, nbt * sizeof(real) + sizeof(real));
    parallel_for(c->n_true, transpose_b_task, c);
    parallel_for_weighted(r->N, c->row_start, fwd_rows, c);
    Tensor *in[3] = { x, W, base };
    TapeEntry *e = wants ? tape_record(t, "routed_lora", routed_lora_backward, y, inplace ? 2 : 3, in) : NULL;
    if (!e) {
        arena_rewind(t->arena, mark);
        return y;
    }
    c->dh = arena_alloc(t->arena, (size_t)P * c->R * sizeof(real) + sizeof(real));
    c->wh = arena_alloc(t->arena, (size_t)P * c->R * sizeof(real) + sizeof(real));
    c->dbt = arena_alloc(t->arena, nbt * sizeof(real) + sizeof(real));
    e->saved = c;
    return y;
}

/* ---- examples for the gradient check: N = 6 rows, in 5, out 4, rank 2, 3 true + 2 null experts,
   top-2 from a fixed p (a constant: no ties to worry about); the A / B banks are stacked in one
   input each ([3·2, 5], [3·4, 2]) and cut into per-expert views. base = x·Vᵀ (V constant), so
   the in-place form also checks that dbase reaches x through the shared gradient. ---- */

enum { EX_N = 6, EX_IN = 5, EX_OUT = 4, EX_R = 2, EX_T = 3, EX_E = 5, EX_K = 2 };

typedef struct { Tensor *p, *v; int inplace; } RlExample;

static void rl_example_common(Arena *ar, Rng *rng, OpExample *ex, int inplace) {
    static const int shapes[4][2] = { { EX_N, EX_IN }, { EX_N, EX_E }, { EX_T * EX_R, EX_IN }, { EX_T * EX_OUT, EX_R } };
    for (int i = 0; i < 4; i++) {
        ex->in[i] = tensor_2d(ar, shapes[i][0], shapes[i][1], 1);
        rng_fill_uniform(rng, ex->in[i]->data, ex->in[i]->numel, i == 1 ? 0.1 : -1.0, 1.0);
    }
    ex->n_in = 4;
    RlExample *re = arena_alloc(ar, sizeof *re);
    re->p = tensor_2d(ar, EX_N, EX_E, 0);
    re->v = tensor_2d(ar, EX_OUT, EX_IN, 0);
    rng_fill_uniform(rng, re->p->data, re->p->numel, 0.0, 1.0);
    rng_fill_uniform(rng, re->v->data, re->v->numel, -1.0, 1.0);
    re->p->data[0 * EX_E + 3] = re->p->data[0 * EX_E + 4] = 2;   /* row 0: two nulls, no true expert */
    re->p->data[1 * EX_E + 0] = re->p->data[1 * EX_E + 2] = 2;   /* row 1: experts 0 and 2 */
    re->inplace = inplace;
    ex->aux = re;
}

static void rl_example(Arena *a, Rng *rng, OpExample *ex) { rl_example_common(a, rng, ex, 0); }
static void rl_example_inplace(Arena *a, Rng *rng, OpExample *ex) { rl_example_common(a, rng, ex, 1); }

static Tensor *rl_apply(Tape *t, const OpExample *ex) {
    const RlExample *re = ex->aux;
    Routing *r = arena_alloc(t->arena, sizeof *r);
    route_select(t->arena, re->p, EX_T, EX_K, NULL, r);
    Tensor *a[EX_T], *b[EX_T];
    for (int e = 0; e < EX_T; e++) {
        a[e] = tensor_rows_view(t->arena, ex->in[2], e * EX_R, EX_R);
        b[e] = tensor_rows_view(t->arena, ex->in[3], e * EX_OUT, EX_OUT);
    }
    Tensor *base = op_linear(t, ex->in[0], re->v);
    return op_routed_lora(t, base, ex->in[0], ex->in[1], r, a, b, (real)1.5, re->inplace);
}

/* the in-place case is op_routed_lora's speed-twin flag (routed_lora.h) */
static const OpCase ROUTED_LORA_CASES[] = {
    { "plain", rl_example, rl_apply, NULL },
    { "inplace", rl_example_inplace, rl_apply, NULL },
};
const OpInfo OP_ROUTED_LORA = { "routed_lora", "y = base + Σ routed true experts s·W[t, e]·B_e A_e x[t]", NULL,
                                OP_CASES(ROUTED_LORA_CASES) };
