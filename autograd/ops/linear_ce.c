/* autograd/ops/linear_ce.c — LM head + cross-entropy fused, chunked over rows (see linear_ce.h).
   Forward, per chunk of rows [r0, r1), with the logits L = X[r0:r1]·Wᵀ in a scratch:
     m_i = max_j L_ij,  e_ij = exp(L_ij − m_i),  lse_i = m_i + log Σ_j e_ij,  loss_i = lse_i − L_i,t_i
   (rowvec.h: the vecmath.h row helpers, bit for bit, faster), and, when the op is recorded,
   G_i = e_i / Σ_j e_ij − onehot(t_i) = softmax(L_i) − onehot(t_i) in place (0 for ignored rows;
   one exp per logit in all), which is dloss_i/dL_i up to the factor g = dy/N; then, on the
   chunk still in cache,
     Z[r0:r1] = G · W            (if x has a grad)   [rows, C]
     S       += Gᵀ · X[r0:r1]    (if w has a grad)   [V, C]
   y = (Σ_i loss_i) / N over the N counted rows (summed in row order, in double).
   Backward: dx += g·Z, dw += g·S (derivation above lce_backward).
   So the LM head's backward GEMMs run inside the forward and the backward only scales them; no
   [n, V] logits or logit gradients are ever stored (torch_ref: cross_entropy(x @ w.T, t)).
   Saved: Z, S, N. Threads: rows of a chunk run in parallel (disjoint outputs), GEMMs split C
   into disjoint blocks, the loss sum is serial: results do not depend on the thread count.
   Where the time goes (1024 rows, C 288, V 32000, frozen w, 1 thread, ~160 ms): the two GEMMs
   ~150 ms (~95 % of the FMA peak in the micro-kernel), the row pass ~7 ms (exp, sum, scale). m_i
   comes from the GEMM (gemm_rowmax: each tile's row maxima folded while it is in registers), not
   from a max pass: that pass read the logits back from memory (a chunk's exceed the caches), ~4 ms
   that the exp pass now overlaps with its arithmetic. A max is exact in any order: the same m_i,
   the same bits; a row whose maxima are ambiguous (NaN, a zero, no fold: AVX2 or scalar level)
   gets the pass (row_max).
   L = X·wᵀ needs w's transposed panels: with several chunks (and at most 64 MB of them,
   linear_ce_packs_once) they are packed ONCE per call for all chunks (gemm_pack_b_once, [V, C]
   reals in the arena while the op runs), and gemm_packed sweeps each
   panel, fetched from memory (the hardware prefetcher follows the panels), over all of a chunk's
   rows. Measured
   on this product alone (4 chunks of 262 rows, 1 thread): 81 -> 74 ms with the one pack
   included (it costs ~2.5 ms; repacking per chunk cost ~10). The same bits: the kernel reads
   the same values in the same order. Z = G·w packs w per chunk as before (packing it once
   too was measured ~2 % faster for another [V, C] of memory: not taken). A frozen w whose store
   keeps packs (tensor/pack_cache.h) gives both products its kept panels instead: no packing at
   all. G and X are read in place by the AVX-512 kernel (tensor/gemm.c). */
#include "autograd/ops/linear_ce.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/cross_entropy.h"
#include "tensor/rowvec.h"
#include "tensor/vecmath.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/pack_cache.h"
#include "tensor/threads.h"
#include <string.h>

typedef struct {
    real *L;              /* chunk logits [rows, V]; G in place */
    const real *lane_max; /* [rows, GEMM_ROWMAX_LANES] from the GEMM (gemm_rowmax), or NULL */
    const int *targets;   /* of the chunk */
    double *row_loss;     /* of the chunk */
    int V, want_g;
} LceRows;

/* row i's max: from the GEMM's lane maxima when they give it unambiguously (finite, not a zero
   whose sign a pass might pick otherwise), else by a pass over the row (rowvec_max) */
static real row_max(const LceRows *c, long i) {
    real *L = c->L + (size_t)i * c->V;
    if (!c->lane_max) return rowvec_max(L, c->V);
    const real *lm = c->lane_max + (size_t)i * GEMM_ROWMAX_LANES;
    real m = lm[0];
    int ok = lm[0] == lm[0];
    for (int l = 1; l < GEMM_ROWMAX_LANES; l++) {
        ok &= lm[l] == lm[l];
        m = lm[l] > m ? lm[l] : m;
    }
    return ok && m != 0 && isfinite(m) ? m : rowvec_max(L, c->V);
}

VEC_CLONES static void lce_rows(void *vc, long i0, long i1) {
    const LceRows *c = vc;
    for (long i = i0; i < i1; i++) {
        real *L = c->L + (size_t)i * c->V;
        int tg = c->targets[i];
        if (tg == CE_IGNORE_INDEX) {
            c->row_loss[i] = 0.0;
            if (c->want_g) memset(L, 0, (size_t)c->V * sizeof(real));
            continue;
        }
        real m = row_max(c, i), zt = L[tg];
        if (!c->want_g) {
            c->row_loss[i] = (double)m + log(rowvec_sum_exp(L, c->V, m)) - (double)zt;
            continue;
        }
        double sum = rowvec_exp_sum(L, L, c->V, m);           /* L = exp(L − m), one exp pass */
        c->row_loss[i] = (double)m + log(sum) - (double)zt;
        real inv = (real)(1.0 / sum);
        for (int j = 0; j < c->V; j++) L[j] *= inv;
        L[tg] -= 1;
    }
}

typedef struct {
    real *z, *s;          /* G·W [n, C] and Gᵀ·X [V, C], NULL when not needed */
    int n_counted;
} LceSaved;

/* With z_i = W x_i (z_ij = Σ_c W_jc x_ic) and cross_entropy's derivative (cross_entropy.c,
   ce_backward_rows):  ∂L/∂z_ij = g · G_ij,  g = dy/N,  G_i = softmax(z_i) − onehot(t_i)
   (G_i = 0 on ignored rows). The chain rule through z:
     ∂z_ij/∂x_ic = W_jc  ⇒  dx_ic += Σ_j g G_ij W_jc = g · (G·W)_ic     i.e. dx += g · Z
     ∂z_ij/∂W_jc = x_ic  ⇒  dW_jc += Σ_i g G_ij x_ic = g · (Gᵀ·X)_jc    i.e. dW += g · S
   G does not depend on dy, so the forward already formed Z = G·W and S = Gᵀ·X chunk by chunk;
   the backward only scales them by g and adds (axpy over element ranges). */
static void lce_backward(const TapeEntry *e) {
    const LceSaved *sv = e->saved;
    Tensor *x = e->in[0], *w = e->in[1];
    if (sv->n_counted == 0) return;
    real g = (real)((double)e->out->grad[0] / sv->n_counted);
    if (x->grad) ew_axpy(x->grad, g, sv->z, x->numel);
    if (w->grad) ew_axpy(w->grad, g, sv->s, w->numel);
}

static int check_args(const Tensor *x, const Tensor *w, const int *targets, int n) {
    char sx[64], sw[64];
    CHECK(x->data != NULL, "linear_cross_entropy: x must hold real data");
    CHECK(w->ndim == 2 && tensor_cols(x) == w->shape[1] && n >= 0 && tensor_rows(x) == (size_t)n,
          "linear_cross_entropy: need x [n = %d, C] and w [V, C], got x %s, w %s", n,
          tensor_shape_str(x, sx, sizeof sx), tensor_shape_str(w, sw, sizeof sw));
    CHECK(w->data != NULL || (w->bf16 != NULL && w->grad == NULL),
          "linear_cross_entropy: w must hold f32 data, or bf16 data and be frozen");
    int counted = 0, V = w->shape[0];
    for (int i = 0; i < n; i++) {
        CHECK(targets[i] == CE_IGNORE_INDEX || (targets[i] >= 0 && targets[i] < V),
              "linear_cross_entropy: targets[%d] = %d is outside [0, %d) and not %d", i, targets[i],
              V, CE_IGNORE_INDEX);
        counted += targets[i] != CE_IGNORE_INDEX;
    }
    return counted;
}

/* A [rows, N] (ld lda) times w, or wᵀ: w's kept panels (frozen, pack_cache.h), else its f32 or
   bf16 storage, beta 0 or 1 */
/* w as a GEMM operand: its f32 or bf16 storage, with panels already packed (or NULL) */
static GemmB w_operand(const Tensor *w, const GemmPackedB *packed) {
    return (GemmB){ w->data, w->data ? NULL : w->bf16, NULL, w->shape[1], packed };
}

static void gemm_w(int tb, int M, int N, int K, const real *A, int lda, const Tensor *w, real beta,
                   real *C, int ldc) {
    gemm_plus(0, tb, M, N, K, (real)1, A, lda, w_operand(w, pack_get(w, tb)), NULL, beta, C, ldc);
}

int linear_ce_packs_once(int n, int rows_per_chunk, int V, int C) {
    return n > rows_per_chunk && C > 0 && gemm_packed_b_reals(V, C) * sizeof(real) <= LINEAR_CE_PACK_ONCE_BYTES;
}

Tensor *op_linear_cross_entropy_chunked(Tape *t, Tensor *x, Tensor *w, const int *targets, int n,
                                        int rows_per_chunk) {
    int counted = check_args(x, w, targets, n), V = w->shape[0], C = w->shape[1];
    Tensor *in[2] = { x, w };
    Tensor *y = tape_output(t, 1, (int[]){ 1 }, tape_wants_grad(t, 2, in), "linear_cross_entropy");
    LceSaved *sv = NULL;
    if (y->grad) {
        sv = arena_alloc(t->arena, sizeof *sv);
        sv->z = x->grad ? arena_alloc(t->arena, (size_t)n * C * sizeof(real)) : NULL;
        sv->s = w->grad ? arena_alloc(t->arena, (size_t)V * C * sizeof(real)) : NULL;
        sv->n_counted = counted;
    }
    int rows = rows_per_chunk < 1 ? 1 : rows_per_chunk > n ? (n > 0 ? n : 1) : rows_per_chunk;
    ArenaMark m = arena_mark(t->arena);
    real *L = arena_alloc(t->arena, (size_t)rows * V * sizeof(real));
    double *row_loss = arena_alloc(t->arena, (size_t)(n > 0 ? n : 1) * sizeof(double));
    real *lane_max = arena_alloc(t->arena, (size_t)rows * GEMM_ROWMAX_LANES * sizeof(real));
    /* wᵀ's panels for L = X·wᵀ: kept for the run, else packed once for all chunks, else per call */
    const GemmPackedB *wt = pack_get(w, 1);
    GemmPackedB once;
    if (!wt && linear_ce_packs_once(n, rows, V, C)) {
        once = gemm_pack_b_once(1, V, C, w->data, w->data ? NULL : w->bf16, C,
                                arena_alloc(t->arena, gemm_packed_b_reals(V, C) * sizeof(real)));
        wt = &once;
    }
    for (int r0 = 0; r0 < n; r0 += rows) {
        int nr = n - r0 < rows ? n - r0 : rows;
        const real *xc = x->data + (size_t)r0 * C;
        for (size_t k = 0; k < (size_t)nr * GEMM_ROWMAX_LANES; k++) lane_max[k] = -INFINITY;
        int folded = gemm_rowmax(1, nr, V, C, xc, C, w_operand(w, wt), L, V, lane_max);
        LceRows job = { L, folded ? lane_max : NULL, targets + r0, row_loss + r0, V, sv != NULL };
        parallel_for_chunks(nr, 4, lce_rows, &job);
        if (sv && sv->z) gemm_w(0, nr, C, V, L, V, w, 0, sv->z + (size_t)r0 * C, C);
        if (sv && sv->s) gemm(1, 0, V, C, nr, (real)1, L, V, xc, C, (real)(r0 > 0), sv->s, C);
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += row_loss[i];
    y->data[0] = counted ? (real)(sum / counted) : (real)0;
    arena_rewind(t->arena, m);
    TapeEntry *e = tape_record(t, "linear_cross_entropy", lce_backward, y, 2, in);
    if (e) e->saved = sv;
    return y;
}

size_t linear_ce_chunk_elems(void) { return LINEAR_CE_CHUNK_ELEMS; }

Tensor *op_linear_cross_entropy(Tape *t, Tensor *x, Tensor *w, const int *targets, int n) {
    size_t V = w->ndim == 2 && w->shape[0] > 0 ? (size_t)w->shape[0] : 1;
    size_t rows = linear_ce_chunk_elems() / V;
    return op_linear_cross_entropy_chunked(t, x, w, targets, n, rows < 1 ? 1 : rows > 0x7fffffff ? 0x7fffffff : (int)rows);
}

/* ---- examples for the gradient check: 5 rows in chunks of 2, two rows ignored ---- */

static void lce_example_common(Arena *a, Rng *rng, OpExample *ex, int w_grad) {
    static const int tg[5] = { 3, CE_IGNORE_INDEX, 0, 6, CE_IGNORE_INDEX };
    ex->n_in = 2;
    ex->in[0] = tensor_2d(a, 5, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    ex->in[1] = tensor_2d(a, 7, 4, w_grad);
    rng_fill_uniform(rng, ex->in[1]->data, ex->in[1]->numel, -1.0, 1.0);
    int *targets = arena_alloc(a, sizeof tg);
    memcpy(targets, tg, sizeof tg);
    ex->aux = targets;
}

static void lce_example(Arena *a, Rng *rng, OpExample *ex) { lce_example_common(a, rng, ex, 1); }
static void lce_example_frozen(Arena *a, Rng *rng, OpExample *ex) { lce_example_common(a, rng, ex, 0); }
static Tensor *lce_apply(Tape *t, const OpExample *ex) {
    return op_linear_cross_entropy_chunked(t, ex->in[0], ex->in[1], ex->aux, 5, 2);
}

static const OpCase LCE_CASES[] = {
    { "plain", lce_example, lce_apply, NULL },
    { "frozen_w", lce_example_frozen, lce_apply, NULL },
};
const OpInfo OP_LINEAR_CROSS_ENTROPY = { "linear_cross_entropy", "cross_entropy(x·wᵀ, targets), logits never stored",
                                         NULL, OP_CASES(LCE_CASES) };
