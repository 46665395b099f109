/* autograd/ops/route.c — the differentiable mixing weights of a router (the selection, a
   constant, is autograd/routing.c), plus a per-row column sum (see route.h).

   route_weights: logits z [N, E] → W [N, E], with p = softmax(z) per row (computed inside, in
   double; a recorded forward keeps it for the backward). Per row, with N_r = the normalisation set (true-only: the selected TRUE experts T;
   all-selected: every selected expert S) and s = Σ_{j∈N_r} p_j:
     W_e = p_e / s for e ∈ N_r,   W_j = p_j for selected nulls under true-only (official code)
   Backward: to p, then through the softmax to z (derivation above route_weights_backward).
   Why the op takes z and not p: when a selected true expert has p ~ 1e-40 (a float router with a
   logit gap > 90; it happens in training), dp = (g − ·)/s overflows float although the logit
   gradient is small: p_l dp_l = W_l (g_l − Σ W g) is bounded, and the op forms only those
   products (REFERENCE.md §1.1's formulas, rearranged). When |T| = 1, W = 1 and the router gets
   no task gradient from that token. Unselected entries and masked rows get nothing.
   row_sum_cols: x [..., C] → y [rows, 1], y[r] = Σ_{j∈[start, start+len)} x[r][j]. */
#include "autograd/ops/route.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"
#include <math.h>
#include <string.h>

/* ---- route_weights ---- */

typedef struct { const Routing *r; int all_selected; double *p; } RouteSaved;   /* p [N, E]: see op_route_weights */

/* in the normalisation set of its row? (e is a selected expert) */
static int normalised(const Routing *r, int e, int mode) {
    return mode == ROUTE_W_ALL_SELECTED || (mode == ROUTE_W_TRUE_ONLY && e < r->n_true);
}

static double row_denominator(const Routing *r, const double *p, const int *top, int all_selected) {
    double s = 0.0;
    for (int j = 0; j < r->k; j++)
        if (top[j] >= 0 && normalised(r, top[j], all_selected)) s += p[top[j]];
    return s > 0 ? s : 1.0;
}

/* the route-weight jobs run over fixed row ranges on the pool (rows are independent) */
typedef struct { real *out; const real *dW, *z; const Routing *r; int all_selected; double *pc; } RwJob;
#define RW_GRAIN 64   /* rows per pool task */

/* d[i] = vm_expf(d[i]): one loop the compiler vectorises (the same bits as the scalar form) */
VEC_CLONES static void expf_inplace(float *d, int n) {
    for (int i = 0; i < n; i++) d[i] = vm_expf(d[i]);
}

/* p = softmax(z) of rows [r0, r1) (at most RW_GRAIN) into p (row stride E), in double (no
   underflow for any float logit gap). The exponentials of the whole block in one vectorised
   pass: in the float build vecmath.h's vm_expf (float accuracy, which is all a float router's
   weights keep) down to e^-87, below which it would flush to 0, and libm's double exp there
   (p ~ 1e-38 .. 1e-300 stays nonzero: the reason p is double); libm's exp in the double build */
static void block_softmax(double *p, const real *z, int E, long r0, long r1) {
    float d[RW_GRAIN * MOE_ROUTE_MAX_E];   /* z − max, then its exp */
    double mx[RW_GRAIN];
    int n = (int)(r1 - r0) * E;
    for (long row = r0; row < r1; row++) {
        const real *zr = z + (size_t)row * E;
        double m = (double)zr[0];
        for (int c = 1; c < E; c++) m = (double)zr[c] > m ? (double)zr[c] : m;
        mx[row - r0] = m;
        for (int c = 0; c < E; c++) d[(row - r0) * E + c] = (float)((double)zr[c] - m);
    }
    expf_inplace(d, n);
    for (long row = r0; row < r1; row++) {
        const real *zr = z + (size_t)row * E;
        double *pr = p + (row - r0) * E, sum = 0.0;
        for (int c = 0; c < E; c++) {
            double dd = (double)zr[c] - mx[row - r0];
            pr[c] = sizeof(real) == sizeof(float) && dd > -87.0 ? (double)d[(row - r0) * E + c] : exp(dd);
            sum += pr[c];
        }
        for (int c = 0; c < E; c++) pr[c] /= sum;
    }
}

/* the same for one row (the backward's recompute): the same bits as the forward's block */
static void row_softmax(double *p, const real *z, int E) { block_softmax(p, z, E, 0, 1); }

static void rw_forward_task(void *vj, long b, long e) {
    const RwJob *j = vj;
    const Routing *r = j->r;
    double local[RW_GRAIN * MOE_ROUTE_MAX_E];
    for (long r0 = b; r0 < e; r0 += RW_GRAIN) {
        long r1 = e - r0 < RW_GRAIN ? e : r0 + RW_GRAIN;
        double *pb = j->pc ? j->pc + (size_t)r0 * r->E : local;   /* kept for the backward */
        block_softmax(pb, j->z, r->E, r0, r1);
        for (long row = r0; row < r1; row++) {
            const int *top = r->sel + (size_t)row * r->k;
            if (top[0] < 0) continue;
            const double *p = pb + (row - r0) * r->E;
            real *wr = j->out + (size_t)row * r->E;
            double s = row_denominator(r, p, top, j->all_selected);
            for (int q = 0; q < r->k; q++) {
                int x = top[q];
                if (x < 0) continue;
                if (j->all_selected == ROUTE_W_UNIFORM) wr[x] = x < r->n_true ? (real)(1.0 / r->n_true_sel[row]) : 0;
                else wr[x] = (real)(normalised(r, x, j->all_selected) ? p[x] / s : p[x]);
            }
        }
    }
}

static void weights_rows(real *W, const real *z, const Routing *r, int all_selected, double *pc) {
    memset(W, 0, (size_t)r->N * r->E * sizeof(real));
    RwJob j = { W, NULL, z, r, all_selected, pc };
    parallel_for_chunks(r->N, RW_GRAIN, rw_forward_task, &j);
}
void route_weights_rows(real *W, const real *z, const Routing *r, int all_selected) {
    weights_rows(W, z, r, all_selected, NULL);
}

/* One row, g = dW (the selection is a constant). First to p. For l ∈ N_r, every W_e with
   e ∈ N_r depends on p_l, directly (e = l) and through s = Σ_{N_r} p:
     ∂W_e/∂p_l = δ_el / s − p_e / s²
     dp_l = Σ_{e∈N_r} g_e (δ_el / s − p_e / s²) = (g_l − D) / s,   D = Σ_{e∈N_r} W_e g_e
   A raw entry (a selected null under true-only, every entry under ROUTE_W_RAW) is W_j = p_j:
   dp_j = g_j. Unselected entries: dp = 0. Then through p = softmax(z),
   ∂p_l/∂z_j = p_l (δ_lj − p_j):
     dz_j = Σ_l dp_l p_l (δ_lj − p_j) = q_j − p_j Q,   q_l = p_l dp_l,  Q = Σ_l q_l
   q is formed without dividing by s alone: q_l = (p_l / s)(g_l − D) = W_l (g_l − D) for
   l ∈ N_r and q_j = p_j g_j for raw entries, both bounded when s underflows (see the header).
   Unselected j have q_j = 0 but still get −p_j Q: through the softmax, every logit moves
   every p, selected or not. Masked rows (no selection) get nothing. */
static void rw_backward_task(void *vj, long b, long e) {
    const RwJob *jb = vj;
    const Routing *r = jb->r;
    const real *dW = jb->dW;
    int all_selected = jb->all_selected;
    double local[MOE_ROUTE_MAX_E], q[MOE_ROUTE_MAX_E];
    for (long row = b; row < e; row++) {
        const int *top = r->sel + (size_t)row * r->k;
        if (top[0] < 0) continue;
        size_t off = (size_t)row * r->E;
        const double *p = jb->pc;   /* the forward's p of this row, else recomputed (the same bits) */
        if (p) p += off;
        else row_softmax(local, jb->z + off, r->E), p = local;
        double s = row_denominator(r, p, top, all_selected), dot = 0.0, Q = 0.0;
        for (int j = 0; j < r->k; j++)
            if (top[j] >= 0 && normalised(r, top[j], all_selected)) dot += p[top[j]] / s * (double)dW[off + top[j]];
        memset(q, 0, (size_t)r->E * sizeof(double));
        for (int j = 0; j < r->k; j++) {
            int x = top[j];
            if (x < 0) continue;
            double g = (double)dW[off + x];
            q[x] = normalised(r, x, all_selected) ? p[x] / s * (g - dot) : p[x] * g;
            Q += q[x];
        }
        for (int j = 0; j < r->E; j++) jb->out[off + j] += (real)(q[j] - p[j] * Q);
    }
}

static void route_weights_backward(real *dz, const real *dW, const real *z, const Routing *r, int all_selected,
                                   double *pc) {
    RwJob j = { dz, dW, z, r, all_selected, pc };
    parallel_for_chunks(r->N, RW_GRAIN, rw_backward_task, &j);
}

/* dz += the route-weight gradient of every unmasked row (route_weights_backward), from z and
   the saved routing; uniform weights are a constant and are never recorded */
static void route_weights_backward_entry(const TapeEntry *e) {
    const RouteSaved *sv = e->saved;
    const Tensor *z = e->in[0];
    if (z->grad) route_weights_backward(z->grad, e->out->grad, z->data, sv->r, sv->all_selected, sv->p);
}

Tensor *op_route_weights(Tape *t, Tensor *z, const Routing *r, int all_selected) {
    char sz[64];
    CHECK(z->ndim == 2 && z->data && z->shape[0] == r->N && z->shape[1] == r->E,
          "route_weights: z %s does not match the routing [%d, %d]", tensor_shape_str(z, sz, sizeof sz), r->N, r->E);
    CHECK(r->E <= MOE_ROUTE_MAX_E, "route_weights: %d experts > %d", r->E, MOE_ROUTE_MAX_E);
    int uniform = all_selected == ROUTE_W_UNIFORM;   /* a constant: nothing to record */
    int rec = !uniform && tape_wants_grad(t, 1, &z);
    Tensor *W = tape_output(t, 2, z->shape, rec, "route_weights");
    /* recorded: the forward keeps each row's double p [N, E] (8·E bytes a row) and the backward
       reads it instead of taking E exps again */
    ArenaMark m = arena_mark(t->arena);
    double *pc = rec ? arena_alloc(t->arena, ((size_t)r->N * r->E + 1) * sizeof(double)) : NULL;
    weights_rows(W->data, z->data, r, all_selected, pc);
    if (uniform) return W;
    TapeEntry *e = tape_record(t, "route_weights", route_weights_backward_entry, W, 1, &z);
    if (e) {
        RouteSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->r = r;
        sv->all_selected = all_selected;
        sv->p = pc;
        e->saved = sv;
    } else if (pc) {
        arena_rewind(t->arena, m);
    }
    return W;
}

/* ---- row_sum_cols ---- */

typedef struct { int start, len; } SumColsSaved;

/* y[r] = Σ_{j∈[start, start+len)} x[r][j], so ∂y[r]/∂x[r][j] = 1 inside the range, 0 outside:
     dx[r][j] += dy[r]  for start <= j < start + len */
static void row_sum_cols_backward_entry(const TapeEntry *e) {
    const SumColsSaved *sv = e->saved;
    const Tensor *x = e->in[0];
    if (!x->grad) return;
    int C = tensor_cols(x);
    for (size_t r = 0; r < tensor_rows(x); r++)
        for (int j = 0; j < sv->len; j++) x->grad[r * (size_t)C + (size_t)(sv->start + j)] += e->out->grad[r];
}

Tensor *op_row_sum_cols(Tape *t, Tensor *x, int start, int len) {
    char sx[64];
    int C = tensor_cols(x);
    CHECK(x->data && start >= 0 && len >= 0 && start <= C && len <= C - start,
          "row_sum_cols: columns [%d, %d+%d) out of range for x %s", start, start, len, tensor_shape_str(x, sx, sizeof sx));
    int rows = (int)tensor_rows(x);
    Tensor *y = tape_output(t, 2, (int[]){ rows, 1 }, tape_wants_grad(t, 1, &x), "row_sum_cols");
    for (int r = 0; r < rows; r++) {
        double s = 0.0;
        for (int j = 0; j < len; j++) s += (double)x->data[(size_t)r * C + (size_t)(start + j)];
        y->data[r] = (real)s;
    }
    TapeEntry *e = tape_record(t, "row_sum_cols", row_sum_cols_backward_entry, y, 1, &x);
    if (e) {
        SumColsSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->start = start;
        sv->len = len;
        e->saved = sv;
    }
    return y;
}

/* ---- examples for the gradient check ----
   z [7, 6], 3 true + 3 null, top-3. Rows are distinct logit levels 0.4·j (+ noise < 0.05) in a
   random column order, so neighbouring logits differ by > 0.35 and the probabilities of the k-th
   and (k+1)-th expert by > 1e-3 (asserted): a ±h perturbation can never change the selection.
   Row 0 puts the nulls on top (bypass: no true expert), row 1 exactly one true expert, row 2 all
   three true experts. The mask example leaves rows 3 and 5 out. */

enum { EX_N = 7, EX_E = 6, EX_TRUE = 3, EX_K = 3 };

typedef struct { int all_selected; const unsigned char *mask; } RouteExample;

static const unsigned char EX_MASK[EX_N] = { 1, 1, 1, 0, 1, 0, 1 };

static void fill_row(Rng *rng, real *row, const int *order) {
    for (int j = 0; j < EX_E; j++) row[order[j]] = (real)(0.4 * (EX_E - 1 - j) + 0.05 * rng_uniform(rng));
}

/* the gap between the k-th and the (k+1)-th largest probability of each row */
static void check_margins(const Tensor *z) {
    for (int r = 0; r < EX_N; r++) {
        double v[EX_E];
        row_softmax(v, z->data + (size_t)r * EX_E, EX_E);
        for (int i = 0; i < EX_E; i++)      /* sort descending */
            for (int j = i + 1; j < EX_E; j++)
                if (v[j] > v[i]) { double tmp = v[i]; v[i] = v[j]; v[j] = tmp; }
        CHECK(v[EX_K - 1] - v[EX_K] >= 1e-3, "route example row %d: selection margin %g < 1e-3", r,
              (double)(v[EX_K - 1] - v[EX_K]));
    }
}

static void route_example_common(Arena *a, Rng *rng, OpExample *ex, int all_selected, const unsigned char *mask) {
    static const int fixed[3][EX_E] = { { 3, 4, 5, 0, 1, 2 }, { 4, 1, 3, 0, 5, 2 }, { 2, 0, 1, 5, 3, 4 } };
    Tensor *z = tensor_2d(a, EX_N, EX_E, 1);
    for (int r = 0; r < EX_N; r++) {
        int order[EX_E];
        if (r < 3) memcpy(order, fixed[r], sizeof order);
        else {
            for (int j = 0; j < EX_E; j++) order[j] = j;
            for (int j = EX_E - 1; j > 0; j--) {
                int i = (int)rng_int(rng, (uint64_t)j + 1), tmp = order[i];
                order[i] = order[j]; order[j] = tmp;
            }
        }
        fill_row(rng, z->data + (size_t)r * EX_E, order);
    }
    check_margins(z);
    RouteExample *re = arena_alloc(a, sizeof *re);
    re->all_selected = all_selected;
    re->mask = mask;
    ex->aux = re;
    ex->in[0] = z;
    ex->n_in = 1;
}

static void true_only_example(Arena *a, Rng *rng, OpExample *ex) { route_example_common(a, rng, ex, 0, NULL); }
static void all_selected_example(Arena *a, Rng *rng, OpExample *ex) { route_example_common(a, rng, ex, 1, NULL); }
static void masked_example(Arena *a, Rng *rng, OpExample *ex) { route_example_common(a, rng, ex, 0, EX_MASK); }

/* selection from p = softmax(z) (a constant), weights from z */
static Tensor *route_apply(Tape *t, const OpExample *ex) {
    const RouteExample *re = ex->aux;
    Tensor *p = tensor_2d(t->arena, EX_N, EX_E, 0);
    for (int r = 0; r < EX_N; r++) {
        double v[EX_E];
        row_softmax(v, ex->in[0]->data + (size_t)r * EX_E, EX_E);
        for (int j = 0; j < EX_E; j++) p->data[(size_t)r * EX_E + j] = (real)v[j];
    }
    Routing *r = arena_alloc(t->arena, sizeof *r);
    route_select(t->arena, p, EX_TRUE, EX_K, re->mask, r);
    return op_route_weights(t, ex->in[0], r, re->all_selected);
}

static void row_sum_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->in[0] = tensor_3d(a, 2, 3, 5, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    ex->n_in = 1;
}

static Tensor *row_sum_apply(Tape *t, const OpExample *ex) { return op_row_sum_cols(t, ex->in[0], 2, 3); }


/* raw weights of a dense routing: W = softmax(z) on every entry (selection is everything, so no
   tie can flip); z [5, 4], 2 true experts */
static void raw_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->in[0] = tensor_2d(a, 5, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -2.0, 2.0);
    ex->n_in = 1;
}

static Tensor *raw_apply(Tape *t, const OpExample *ex) {
    Tensor *z = ex->in[0];
    int N = z->shape[0], E = z->shape[1];
    Routing *r = arena_alloc(t->arena, sizeof *r);
    routing_alloc(t->arena, N, E, 2, E, NULL, r);
    for (int row = 0; row < N; row++) {
        for (int e = 0; e < E; e++) {
            r->sel[(size_t)row * E + e] = e;
            r->count[e]++;
        }
        r->n_true_sel[row] = 2;
    }
    r->n_rows = N;
    routing_group(t->arena, r);
    return op_route_weights(t, z, r, ROUTE_W_RAW);
}

static const OpCase ROUTE_CASES[] = {
    { "true_only", true_only_example, route_apply, NULL },
    { "all_selected", all_selected_example, route_apply, NULL },
    { "masked", masked_example, route_apply, NULL },
    { "raw", raw_example, raw_apply, NULL },
};
static const OpCase ROW_SUM_COLS_CASES[] = { { "plain", row_sum_example, row_sum_apply, NULL } };

const OpInfo OP_ROUTE_WEIGHTS = { "route_weights", "router mixing weights W [N, E] from logits z and a selection",
                                  NULL, OP_CASES(ROUTE_CASES) };
const OpInfo OP_ROW_SUM_COLS = { "row_sum_cols", "y[r] = Σ of x[r]'s columns [start, start+len)", NULL,
                                 OP_CASES(ROW_SUM_COLS_CASES) };
