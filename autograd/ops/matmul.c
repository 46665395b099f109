/* autograd/ops/matmul.c — y = x · wᵀ (linear) and y = op(a) · op(b) (general 2-D matmul).
   All products go through tensor/gemm.h (C = beta*C + alpha*op(A)*op(B)); backward passes
   beta = 1 so gemm itself accumulates into the grads.

   linear: x [..., in] viewed as X [R, in] (R = product of leading dims), w [out, in],
     y [..., out] viewed as Y [R, out].   Y = X · Wᵀ,  Y[r][o] = Σ_i X[r][i] W[o][i].
     A frozen w (grad NULL) gets nothing; a bf16 w (data NULL, always frozen) is read through
     gemm_bf16 in both directions. Products with a narrow C (fewer than 16 columns, e.g. LoRA's
     rank side) are computed transposed into a scratch (matmul_gemm_narrow). Saved: that scratch.

   matmul: op(a) [M, K], op(b) [K, N], y [M, N].  Saved: the two transpose flags.
   The derivations of both backwards sit above linear_backward and matmul_backward. */
#include "autograd/ops/matmul.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/gemm_narrow.h"
#include "tensor/half.h"
#include "tensor/pack_cache.h"
#include "tensor/quant.h"

/* ---- linear ---- */

/* A product whose C is narrow (N < NARROW_N columns, e.g. the rank-8 side of LoRA or a router's
   experts) but tall: tensor/gemm_narrow.h, which reads the batch in place instead of packing it. */
#define NARROW_N GEMM_NARROW_MAX
#define NARROW_MIN_M 64

int matmul_is_narrow(int M, int N) { return N < NARROW_N && M >= NARROW_MIN_M; }
#define is_narrow matmul_is_narrow

void matmul_gemm_narrow(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda,
                        const real *B, int ldb, int beta, real *C, int ldc, real *scratch) {
    gemm_narrow(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch);
}

/* Y [R, O] = X [R, I] · Wᵀ, W [O, I] as f32 (or its kept panels), bf16 or NF4 / int8; scratch
   holds O·R reals when is_narrow(R, O) */
void matmul_linear_forward(real *y, const real *x, const Tensor *w, int R, real *scratch) {
    int I = w->shape[1], O = w->shape[0];
    if (R == 0 || O == 0) return;
    if (w->quant) gemm_quant(0, 1, R, O, I, (real)1, x, I, w->quant, (real)0, y, O);
    else if (w->bf16) gemm_bf16(0, 1, R, O, I, (real)1, x, I, w->bf16, I, (real)0, y, O);
    else if (is_narrow(R, O)) matmul_gemm_narrow(0, 1, R, O, I, (real)1, x, I, w->data, I, 0, y, O, scratch);
    else gemm_plus(0, 1, R, O, I, (real)1, x, I, (GemmB){ w->data, NULL, NULL, I, pack_get(w, 1) }, NULL, (real)0, y, O);
}

/* From Y[r][o] = Σ_i X[r][i] W[o][i]:
     ∂Y[r][o]/∂X[r][i] = W[o][i]  ⇒  dX[r][i] += Σ_o dY[r][o] W[o][i],  i.e. dX += dY · W   [R, I]
     ∂Y[r][o]/∂W[o][i] = X[r][i]  ⇒  dW[o][i] += Σ_r dY[r][o] X[r][i],  i.e. dW += dYᵀ · X  [O, I]
   (either may be NULL). gemm with beta 1 does the accumulation; dx_beta 0 writes dX instead (a
   claimed unset buffer, autograd/tape.h). scratch holds max(R, O)·I reals when I is narrow. */
void matmul_linear_backward(real *dx, real dx_beta, real *dw, const real *dy, const real *x, const Tensor *w,
                            int R, real *scratch) {
    int I = w->shape[1], O = w->shape[0];
    if (R == 0 || I == 0 || O == 0) return;
    if (dx && w->quant) gemm_quant(0, 0, R, I, O, (real)1, dy, O, w->quant, dx_beta, dx, I);
    else if (dx && w->bf16) gemm_bf16(0, 0, R, I, O, (real)1, dy, O, w->bf16, I, dx_beta, dx, I);
    else if (dx && is_narrow(R, I))
        matmul_gemm_narrow(0, 0, R, I, O, (real)1, dy, O, w->data, I, dx_beta != 0, dx, I, scratch);
    else if (dx)
        gemm_plus(0, 0, R, I, O, (real)1, dy, O, (GemmB){ w->data, NULL, NULL, I, pack_get(w, 0) }, NULL, dx_beta, dx, I);
    if (dw && is_narrow(O, I)) matmul_gemm_narrow(1, 0, O, I, R, (real)1, dy, O, x, I, 1, dw, I, scratch);
    else if (dw) gemm(1, 0, O, I, R, (real)1, dy, O, x, I, (real)1, dw, I);
}

/* y = x·wᵀ:  dx += dy·w,  dw += dyᵀ·x  (linear_backward; leading dims of x flattened to rows). The
   entry claims x's gradient (it writes all of dX when w has rows; with none it leaves dX alone). */
static void linear_backward_entry(const TapeEntry *e) {
    const Tensor *y = e->out, *x = e->in[0], *w = e->in[1];
    real dx_beta = w->shape[0] > 0 && tensor_grad_claim(x) ? 0 : 1;
    matmul_linear_backward(x->grad, dx_beta, w->grad, y->grad, x->data, w, (int)tensor_rows(x), e->saved);
}

Tensor *op_linear(Tape *t, Tensor *x, Tensor *w) {
    char sx[64], sw[64];
    CHECK(w->ndim == 2 && tensor_cols(x) == w->shape[1],
          "linear: x %s does not match w %s (want x [..., in], w [out, in])",
          tensor_shape_str(x, sx, sizeof sx), tensor_shape_str(w, sw, sizeof sw));
    CHECK(x->data != NULL, "linear: x must hold real data (not bf16)");
    CHECK(w->data != NULL || w->bf16 != NULL || w->quant != NULL, "linear: w %s has no data", w->name ? w->name : "?");
    CHECK(w->data != NULL || w->grad == NULL, "linear: a bf16 / quantised w must be frozen (grad NULL)");
    CHECK(tensor_rows(x) <= (size_t)0x7fffffff, "linear: too many rows");
    Tensor *in[2] = { x, w };
    int shape[TENSOR_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[0];
    Tensor *y = tape_output(t, x->ndim, shape, tape_wants_grad(t, 2, in), "linear");
    int R = (int)tensor_rows(x), I = w->shape[1], O = w->shape[0];
    ArenaMark m = arena_mark(t->arena);
    real *scratch = is_narrow(R, O) ? arena_alloc(t->arena, (size_t)O * R * sizeof(real)) : NULL;
    matmul_linear_forward(y->data, x->data, w, R, scratch);
    arena_rewind(t->arena, m);
    TapeEntry *e = tape_record(t, "linear", linear_backward_entry, y, 2, in);
    if (e) e->claims = 1u;   /* x's gradient: linear_backward_entry */
    if (e && (is_narrow(R, I) || is_narrow(O, I)))
        e->saved = arena_alloc(t->arena, (size_t)(R > O ? R : O) * I * sizeof(real));
    return y;
}

size_t matmul_linear_scratch(int R, int I, int O) {
    size_t f = is_narrow(R, O) ? (size_t)O * R : 0;
    size_t b = is_narrow(R, I) || is_narrow(O, I) ? (size_t)(R > O ? R : O) * I : 0;
    return f > b ? f : b;
}

/* ---- matmul ---- */

typedef struct { int trans_a, trans_b; } MatmulSaved;

/* dims of op(a) [M, K] and op(b) [K, N] from the stored shapes */
static void matmul_dims(const Tensor *a, const Tensor *b, int ta, int tb, int *M, int *K, int *N) {
    *M = ta ? a->shape[1] : a->shape[0];
    *K = ta ? a->shape[0] : a->shape[1];
    *N = tb ? b->shape[0] : b->shape[1];
}

/* With Â = op(A) [M, K], B̂ = op(B) [K, N] and C = Â·B̂, C[m][n] = Σ_k Â[m][k] B̂[k][n]:
     dÂ[m][k] = Σ_n dC[m][n] B̂[k][n]  ⇒  dÂ = dC · B̂ᵀ   [M, K]
     dB̂[k][n] = Σ_m Â[m][k] dC[m][n]  ⇒  dB̂ = Âᵀ · dC   [K, N]
   Stored back in A's own layout: A = Â when !ta (dA += dC·B̂ᵀ), A = Âᵀ when ta
   (dA += (dC·B̂ᵀ)ᵀ = B̂·dCᵀ); likewise dB += Âᵀ·dC when !tb, dB += (Âᵀ·dC)ᵀ = dCᵀ·Â when tb.
   Each is one gemm whose transpose flags read Â, B̂ from the stored a, b. */
static void matmul_backward(real *da, real *db, const real *dc, const real *a, const real *b,
                            int ta, int tb, int M, int K, int N, int lda, int ldb) {
    if (M == 0 || K == 0 || N == 0) return;
    if (da && !ta) gemm(0, !tb, M, K, N, (real)1, dc, N, b, ldb, (real)1, da, K);
    if (da && ta) gemm(tb, 1, K, M, N, (real)1, b, ldb, dc, N, (real)1, da, M);
    if (db && !tb) gemm(!ta, 0, K, N, M, (real)1, a, lda, dc, N, (real)1, db, N);
    if (db && tb) gemm(1, ta, N, K, M, (real)1, dc, N, a, lda, (real)1, db, K);
}

/* y = op(a)·op(b):  d op(a) = dy·op(b)ᵀ,  d op(b) = op(a)ᵀ·dy, stored in a's and b's layouts
   (matmul_backward, with the flags the forward saved) */
static void matmul_backward_entry(const TapeEntry *e) {
    const MatmulSaved *sv = e->saved;
    const Tensor *a = e->in[0], *b = e->in[1];
    int M, K, N;
    matmul_dims(a, b, sv->trans_a, sv->trans_b, &M, &K, &N);
    matmul_backward(a->grad, b->grad, e->out->grad, a->data, b->data, sv->trans_a, sv->trans_b,
                    M, K, N, a->shape[1], b->shape[1]);
}

Tensor *op_matmul(Tape *t, Tensor *a, Tensor *b, int trans_a, int trans_b) {
    char sa[64], sb[64];
    CHECK(a->ndim == 2 && b->ndim == 2, "matmul: a %s and b %s must be 2-D",
          tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
    int M, K, N;
    matmul_dims(a, b, trans_a, trans_b, &M, &K, &N);
    int Kb = trans_b ? b->shape[1] : b->shape[0];
    CHECK(K == Kb, "matmul: inner dims differ: a %s%s vs b %s%s",
          tensor_shape_str(a, sa, sizeof sa), trans_a ? "^T" : "",
          tensor_shape_str(b, sb, sizeof sb), trans_b ? "^T" : "");
    CHECK(a->data && b->data, "matmul: inputs must hold real data (not bf16)");
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, 2, (int[]){ M, N }, tape_wants_grad(t, 2, in), "matmul");
    if (M > 0 && N > 0)
        gemm(trans_a, trans_b, M, N, K, (real)1, a->data, a->shape[1], b->data, b->shape[1],
             (real)0, y->data, N);
    TapeEntry *e = tape_record(t, "matmul", matmul_backward_entry, y, 2, in);
    if (e) {
        MatmulSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->trans_a = trans_a != 0;
        sv->trans_b = trans_b != 0;
        e->saved = sv;
    }
    return y;
}

/* ---- examples for the gradient check ---- */

static Tensor *random_2d(Arena *a, Rng *rng, int n0, int n1, int with_grad) {
    Tensor *x = tensor_2d(a, n0, n1, with_grad);
    rng_fill_uniform(rng, x->data, x->numel, -1.0, 1.0);
    return x;
}

/* x [2, 3, 4], w [5, 4] (trainable or not) */
static void linear_example_common(Arena *a, Rng *rng, OpExample *ex, int w_grad) {
    ex->n_in = 2;
    ex->in[0] = tensor_3d(a, 2, 3, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    ex->in[1] = random_2d(a, rng, 5, 4, w_grad);
}

static void linear_example(Arena *a, Rng *rng, OpExample *ex) { linear_example_common(a, rng, ex, 1); }
static void linear_frozen_example(Arena *a, Rng *rng, OpExample *ex) { linear_example_common(a, rng, ex, 0); }

/* w stored as bf16 only (data NULL): the reference is the rounded weights */
static void linear_bf16_example(Arena *a, Rng *rng, OpExample *ex) {
    linear_example_common(a, rng, ex, 0);
    Tensor *w = ex->in[1];
    w->bf16 = arena_alloc(a, w->numel * sizeof(uint16_t));
    for (size_t i = 0; i < w->numel; i++) w->bf16[i] = f32_to_bf16((float)w->data[i]);
    w->data = NULL;
}

static Tensor *linear_apply(Tape *t, const OpExample *ex) { return op_linear(t, ex->in[0], ex->in[1]); }

/* op(a) [3, 4], op(b) [4, 5]; aux holds the two flags */
static void matmul_example(Arena *a, Rng *rng, OpExample *ex, int ta, int tb) {
    ex->n_in = 2;
    ex->in[0] = ta ? random_2d(a, rng, 4, 3, 1) : random_2d(a, rng, 3, 4, 1);
    ex->in[1] = tb ? random_2d(a, rng, 5, 4, 1) : random_2d(a, rng, 4, 5, 1);
    int *flags = arena_alloc(a, 2 * sizeof(int));
    flags[0] = ta;
    flags[1] = tb;
    ex->aux = flags;
}

static void matmul_nn_example(Arena *a, Rng *rng, OpExample *ex) { matmul_example(a, rng, ex, 0, 0); }
static void matmul_nt_example(Arena *a, Rng *rng, OpExample *ex) { matmul_example(a, rng, ex, 0, 1); }
static void matmul_tn_example(Arena *a, Rng *rng, OpExample *ex) { matmul_example(a, rng, ex, 1, 0); }
static void matmul_tt_example(Arena *a, Rng *rng, OpExample *ex) { matmul_example(a, rng, ex, 1, 1); }

static Tensor *matmul_apply(Tape *t, const OpExample *ex) {
    const int *flags = ex->aux;
    return op_matmul(t, ex->in[0], ex->in[1], flags[0], flags[1]);
}

static const OpCase LINEAR_CASES[] = {
    { "plain", linear_example, linear_apply, NULL },
    { "frozen_w", linear_frozen_example, linear_apply, NULL },
    { "bf16_w", linear_bf16_example, linear_apply, NULL },
};
static const OpCase MATMUL_CASES[] = {
    { "nn", matmul_nn_example, matmul_apply, NULL },
    { "nt", matmul_nt_example, matmul_apply, NULL },
    { "tn", matmul_tn_example, matmul_apply, NULL },
    { "tt", matmul_tt_example, matmul_apply, NULL },
};

const OpInfo OP_LINEAR = { "linear", "y = x·wᵀ over the last dim; w trainable, frozen or bf16", NULL,
                           OP_CASES(LINEAR_CASES) };
const OpInfo OP_MATMUL = { "matmul", "y = op(a)·op(b), 2-D, either operand transposed", NULL,
                           OP_CASES(MATMUL_CASES) };
