/* autograd/ops/cross_entropy.c — L = (1/N) Σ_{i counted} (lse_i − x[i, t_i]),
   lse_i = m_i + log Σ_j exp(x_ij − m_i), m_i = max_j x_ij (stable log-sum-exp), N = number of
   rows with t_i != -100 (torch_ref `cross_entropy`: log_softmax, gather, mean over valid rows).
   Shapes: logits [..., V] with n rows, targets [n] (ints, copied), y [1].
   Saved: lse per row ([n] doubles), the targets, N.
   Backward: dlogits = dy/N · (softmax − onehot(t)) on counted rows (derivation above
   ce_backward_rows).
   Rows run in parallel (disjoint outputs: lse_i, row losses, dlogits rows); the mean sums the
   row losses serially in row order, so the result does not depend on the thread count.
   Sums over V are accumulated in double, in 16 interleaved lanes (see row_lse); exp is
   vecmath.h's vectorisable one (libm's in the double build). */
#include "autograd/ops/cross_entropy.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"
#include <string.h>

typedef struct {
    const real *x;
    const int *targets;
    real *dx;
    double *lse, *row_loss;
    int V;
    real g;                      /* dy / N (backward) */
} CeCtx;

/* ---- kernels on raw pointers ---- */

/* Stable log-sum-exp of one row (vecmath.h: 16 interleaved lanes in the float build, so the
   loops vectorise and a row's result depends only on the row). */
VEC_CLONES static double row_lse(const real *x, int V) { return vm_row_lse(x, V); }

/* dx[j] += g · exp(x[j] − lse) over one row */
VEC_CLONES static void row_softmax_axpy(real *dx, const real *x, real lse, real g, int V) {
    for (int j = 0; j < V; j++) dx[j] += g * vm_exp(x[j] - lse);
}

static void ce_forward_rows(void *vc, long r0, long r1) {
    const CeCtx *c = vc;
    for (long i = r0; i < r1; i++) {
        const real *x = c->x + (size_t)i * c->V;
        int tg = c->targets[i];
        c->lse[i] = tg == CE_IGNORE_INDEX ? 0.0 : row_lse(x, c->V);   /* ignored rows cost nothing */
        c->row_loss[i] = tg == CE_IGNORE_INDEX ? 0.0 : c->lse[i] - (double)x[tg];
    }
}

/* Row i's loss is lse_i − x_{i,t_i} with lse_i = log Σ_k exp(x_ik), and
     ∂lse_i/∂x_ij = exp(x_ij) / Σ_k exp(x_ik) = exp(x_ij − lse_i) = softmax_ij
     ∂x_{i,t_i}/∂x_ij = [j = t_i]
   L is the mean over the N counted rows, so with g = dy/N:
     dx_ij += g · (softmax_ij − [j = t_i])
   (g · softmax over the row from the saved lse, then −g at the target). Ignored rows are not
   part of L and get nothing. */
static void ce_backward_rows(void *vc, long r0, long r1) {
    const CeCtx *c = vc;
    for (long i = r0; i < r1; i++) {
        int tg = c->targets[i];
        if (tg == CE_IGNORE_INDEX) continue;
        const real *x = c->x + (size_t)i * c->V;
        real *dx = c->dx + (size_t)i * c->V;
        row_softmax_axpy(dx, x, (real)c->lse[i], c->g, c->V);
        dx[tg] -= c->g;
    }
}

static void check_targets(const int *targets, int n, int V, int *n_counted) {
    *n_counted = 0;
    for (int i = 0; i < n; i++) {
        CHECK(targets[i] == CE_IGNORE_INDEX || (targets[i] >= 0 && targets[i] < V),
              "cross_entropy: targets[%d] = %d is outside [0, %d) and not %d", i, targets[i], V,
              CE_IGNORE_INDEX);
        *n_counted += targets[i] != CE_IGNORE_INDEX;
    }
}

void cross_entropy_rows(const real *logits, int n, int V, const int *targets, double *logp) {
    int counted;
    CHECK(n >= 0 && V > 0, "cross_entropy_rows: bad sizes n %d V %d", n, V);
    check_targets(targets, n, V, &counted);
    for (int i = 0; i < n; i++) {
        const real *x = logits + (size_t)i * V;
        logp[i] = targets[i] == CE_IGNORE_INDEX ? 0.0 : (double)x[targets[i]] - row_lse(x, V);
    }
}

/* ---- op ---- */

typedef struct {
    double *lse;
    int *targets;
    int n_counted;
} CeSaved;

/* dlogits_i += (dy/N) · (softmax(logits_i) − onehot(t_i)) for the counted rows
   (ce_backward_rows, rows on the pool); nothing when no row counts (L = 0 is a constant) */
static void ce_backward(const TapeEntry *e) {
    const CeSaved *sv = e->saved;
    Tensor *x = e->in[0];
    if (!x->grad || sv->n_counted == 0) return;
    CeCtx c = { x->data, sv->targets, x->grad, sv->lse, NULL, tensor_cols(x),
                (real)((double)e->out->grad[0] / sv->n_counted) };
    parallel_for_chunks((long)tensor_rows(x), 4, ce_backward_rows, &c);
}

Tensor *op_cross_entropy(Tape *t, Tensor *logits, const int *targets, int n) {
    char sx[64];
    int V = tensor_cols(logits), counted;
    CHECK(logits->data != NULL, "cross_entropy: logits must hold real data (not bf16)");
    CHECK(n >= 0 && (size_t)n == tensor_rows(logits) && V > 0,
          "cross_entropy: logits %s do not have n = %d rows", tensor_shape_str(logits, sx, sizeof sx), n);
    check_targets(targets, n, V, &counted);
    Tensor *y = tape_output(t, 1, (int[]){ 1 }, tape_wants_grad(t, 1, &logits), "cross_entropy");
    size_t nn = n > 0 ? (size_t)n : 1;
    ArenaMark m = arena_mark(t->arena);
    CeCtx c = { logits->data, targets, NULL, arena_alloc(t->arena, nn * sizeof(double)),
                arena_alloc(t->arena, nn * sizeof(double)), V, 0 };
    parallel_for_chunks(n, 4, ce_forward_rows, &c);
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += c.row_loss[i];
    y->data[0] = counted ? (real)(sum / counted) : (real)0;
    TapeEntry *e = tape_record(t, "cross_entropy", ce_backward, y, 1, &logits);
    if (!e) {
        arena_rewind(t->arena, m);
        return y;
    }
    CeSaved *sv = arena_alloc(t->arena, sizeof *sv);
    sv->lse = c.lse;
    sv->targets = arena_alloc(t->arena, nn * sizeof(int));
    if (n > 0) memcpy(sv->targets, targets, (size_t)n * sizeof(int));
    sv->n_counted = counted;
    e->saved = sv;
    return y;
}

/* ---- example for the gradient check ---- */

static void ce_example(Arena *a, Rng *rng, OpExample *ex) {
    static const int tg[6] = { 3, CE_IGNORE_INDEX, 0, 6, CE_IGNORE_INDEX, 2 };
    ex->n_in = 1;
    ex->in[0] = tensor_3d(a, 2, 3, 7, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -2.0, 2.0);
    int *targets = arena_alloc(a, sizeof tg);
    memcpy(targets, tg, sizeof tg);
    ex->aux = targets;
}

static Tensor *ce_apply(Tape *t, const OpExample *ex) { return op_cross_entropy(t, ex->in[0], ex->aux, 6); }

static const OpCase CE_CASES[] = { { "ignored_rows", ce_example, ce_apply, NULL } };
const OpInfo OP_CROSS_ENTROPY = { "cross_entropy", "y = mean over counted rows of −log softmax(logits)[target]",
                                  NULL, OP_CASES(CE_CASES) };
