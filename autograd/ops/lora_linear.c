/* autograd/ops/lora_linear.c — frozen linear + LoRA adapter, fused (see lora_linear.h).
   x viewed as X [R, in], W [out, in], A [r, in], B [out, r], scale s:
     H = X·Aᵀ [R, r],   Y = X·Wᵀ + (s·H)·Bᵀ [R, out]   (one gemm_plus: both products, one pass)
   Saved: H, and scratch for the backward. Backward: derivation above lora_backward.
   op_lora_linear_residual (the speed twin) adds a residual afterwards, Y = (X·Wᵀ + s·H·Bᵀ) + res
   (rounded as op_add_inplace on the plain output), and Y's gradient buffer IS res's: the backward reads dY
   there and adds nothing to dres, which already holds it (dres = dY). The sharing is exact as
   long as res gets no gradient from an op recorded after this one: then, when this backward
   runs, the buffer holds exactly dY, and res's earlier readers add theirs afterwards. A
   decoder's residual stream so keeps one gradient buffer for all of its [N, C] states.
   Products with the rank r as their output width (H, dH, dB) go through matmul_gemm_narrow
   (tensor/gemm_narrow.h).
   Every product is deterministic: results do not depend on the thread count. */
#include "autograd/ops/lora_linear.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/elementwise.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/half.h"
#include "tensor/pack_cache.h"
#include "tensor/quant.h"
#include "tensor/threads.h"

typedef struct {
    real *h, *dh, *scratch;     /* [R, r], [R, r], max(R, out)·r */
    real s;
} LoraSaved;

/* C = alpha·op(A)·op(B) (beta 0) or C += ... (beta 1), transposed when C is narrow */
static void prod(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B,
                 int ldb, int beta, real *C, int ldc, real *scratch) {
    if (matmul_is_narrow(M, N)) matmul_gemm_narrow(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch);
    else gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, (real)beta, C, ldc);
}

/* Y = X·Wᵀ + s·H·Bᵀ with H = X·Aᵀ; elementwise
     Y[r][o] = Σ_i X[r][i] W[o][i] + s Σ_k H[r][k] B[o][k],   H[r][k] = Σ_i X[r][i] A[k][i]
   The chain rule, one factor at a time:
     ∂Y[r][o]/∂W[o][i] = X[r][i]    ⇒  dW += dYᵀ·X           [out, in]  (if w is trainable)
     ∂Y[r][o]/∂B[o][k] = s H[r][k]  ⇒  dB += s·dYᵀ·H         [out, r]
     ∂Y[r][o]/∂H[r][k] = s B[o][k]  ⇒  dH  = s·dY·B          [R, r]     (a scratch, not a grad)
     ∂H[r][k]/∂A[k][i] = X[r][i]    ⇒  dA += dHᵀ·X           [r, in]
     X reaches Y directly and through H:  dX += dY·W + dH·A   [R, in]  (W read as f32 or bf16)
   Forward Y and backward dX are each one gemm_plus: the rank-r product rides along in the
   frozen product's last K slice instead of a second pass over the [R, out] / [R, in] output.
   For the residual twin Y also has + res, whose gradient dY is already in res's buffer. */
static GemmB base_of(const Tensor *w, int trans_b) {
    GemmB g = { NULL, NULL, NULL, w->shape[1], NULL };
    if (w->quant) g.quant = w->quant;
    else if (w->bf16 && !w->data) g.bf16 = w->bf16;
    else g.f32 = w->data, g.packed = pack_get(w, trans_b);   /* kept panels of a frozen w (pack_cache.h) */
    return g;
}

static void lora_backward(const TapeEntry *e) {
    const LoraSaved *sv = e->saved;
    const Tensor *x = e->in[0], *w = e->in[1], *a = e->in[2], *b = e->in[3];
    const real *dy = e->out->grad;
    int R = (int)tensor_rows(x), I = w->shape[1], O = w->shape[0], r = a->shape[0];
    if (R == 0) return;
    if (w->grad) gemm(1, 0, O, I, R, (real)1, dy, O, x->data, I, (real)1, w->grad, I);
    if (b->grad) prod(1, 0, O, r, R, sv->s, dy, O, sv->h, r, 1, b->grad, r, sv->scratch);
    if (!a->grad && !x->grad) return;
    prod(0, 0, R, r, O, sv->s, dy, O, b->data, r, 0, sv->dh, r, sv->scratch);
    if (a->grad) gemm(1, 0, r, I, R, (real)1, sv->dh, r, x->data, I, (real)1, a->grad, I);
    /* dX += dY·W + dH·A: one GEMM, the rank-r product appended to W's K (gemm_plus); written
       (beta 0) when x's gradient buffer was unset (claimed, autograd/tape.h): every element is */
    GemmExtra ext = { sv->dh, r, a->data, I, r };
    real dx_beta = tensor_grad_claim(x) ? 0 : 1;
    if (x->grad) gemm_plus(0, 0, R, I, O, (real)1, dy, O, base_of(w, 0), &ext, dx_beta, x->grad, I);
}

static void check_args(const Tensor *x, const Tensor *w, const Tensor *a, const Tensor *b) {
    char sx[64], sw[64], sa[64], sb[64];
    CHECK(w->ndim == 2 && a->ndim == 2 && b->ndim == 2 && tensor_cols(x) == w->shape[1] &&
          a->shape[1] == w->shape[1] && b->shape[0] == w->shape[0] && b->shape[1] == a->shape[0],
          "lora_linear: need x [..., in], w [out, in], a [r, in], b [out, r]; got x %s w %s a %s b %s",
          tensor_shape_str(x, sx, sizeof sx), tensor_shape_str(w, sw, sizeof sw),
          tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
    CHECK(x->data && a->data && b->data, "lora_linear: x, a and b must hold real data");
    CHECK(w->data != NULL || ((w->bf16 != NULL || w->quant != NULL) && w->grad == NULL),
          "lora_linear: w must hold f32 data, or bf16 / NF4 / int8 data and be frozen");
    CHECK(tensor_rows(x) <= (size_t)0x7fffffff, "lora_linear: too many rows");
}

/* y, with res's gradient buffer when res has one */
static Tensor *make_output(Tape *t, Tensor *x, Tensor *w, Tensor *const *in, Tensor *res, const char *name) {
    char sy[64], sr[64];
    int shape[TENSOR_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[0];
    int wants = tape_wants_grad(t, 4, in) || tape_wants_grad(t, 1, &res);
    Tensor *y = tape_output(t, x->ndim, shape, wants && !(res && res->grad), name);
    CHECK(!res || (tensor_same_shape(y, res) && res->data), "%s: res %s must be real data shaped as y %s",
          name, res ? tensor_shape_str(res, sr, sizeof sr) : "", tensor_shape_str(y, sy, sizeof sy));
    if (wants && res && res->grad) tensor_share_grad(y, res);
    return y;
}

static Tensor *lora_op(Tape *t, Tensor *x, Tensor *w, Tensor *a, Tensor *b, real s, Tensor *res) {
    check_args(x, w, a, b);
    Tensor *in[4] = { x, w, a, b };
    const char *name = res ? "lora_linear_residual" : "lora_linear";
    Tensor *y = make_output(t, x, w, in, res, name);
    int R = (int)tensor_rows(x), I = w->shape[1], O = w->shape[0], r = a->shape[0];
    size_t hn = (size_t)(R ? R : 1) * (r ? r : 1), sn = (size_t)(R > O ? R : O) * (r ? r : 1);
    LoraSaved *sv = y->grad ? arena_alloc(t->arena, sizeof *sv) : NULL;
    ArenaMark m = arena_mark(t->arena);
    real *h = arena_alloc(t->arena, hn * sizeof(real)), *scratch = arena_alloc(t->arena, sn * sizeof(real));
    if (R > 0 && O > 0) {
        /* Y = X·Wᵀ + (s·H)·Bᵀ in one GEMM: s·H [R, r] (in scratch) appended to X's K (gemm_plus) */
        GemmExtra ext = { scratch, r, b->data, r, r };
        if (r > 0) {
            prod(0, 1, R, r, I, (real)1, x->data, I, a->data, I, 0, h, r, scratch);
            for (size_t i = 0; i < (size_t)R * r; i++) scratch[i] = s * h[i];
        }
        gemm_plus(0, 1, R, O, I, (real)1, x->data, I, base_of(w, 1), &ext, (real)0, y->data, O);
    }
    if (res) ew_axpy(y->data, (real)1, res->data, y->numel);   /* y + 1·res = y + res exactly */
    TapeEntry *e = tape_record(t, name, lora_backward, y, 4, in);
    if (e) e->claims = 1u;   /* x's gradient: lora_backward */
    if (!e) {
        arena_rewind(t->arena, m);
        return y;
    }
    sv->h = h;
    sv->scratch = scratch;
    sv->dh = arena_alloc(t->arena, hn * sizeof(real));
    sv->s = s;
    e->saved = sv;
    return y;
}

Tensor *op_lora_linear(Tape *t, Tensor *x, Tensor *w, Tensor *a, Tensor *b, real s) {
    return lora_op(t, x, w, a, b, s, NULL);
}

Tensor *op_lora_linear_residual(Tape *t, Tensor *x, Tensor *w, Tensor *a, Tensor *b, real s, Tensor *res) {
    CHECK(res != NULL && (!res->grad || res->grad != x->grad), "lora_linear_residual: res is NULL or x itself");
    return lora_op(t, x, w, a, b, s, res);
}

/* ---- examples for the gradient check: x [2, 3, 4], w [5, 4], a [2, 4], b [5, 2], s = 1.5 ---- */

static void lora_example_common(Arena *ar, Rng *rng, OpExample *ex, int w_grad) {
    static const int shapes[4][2] = { { 6, 4 }, { 5, 4 }, { 2, 4 }, { 5, 2 } };
    ex->n_in = 4;
    ex->in[0] = tensor_3d(ar, 2, 3, 4, 1);
    for (int i = 1; i < 4; i++) ex->in[i] = tensor_2d(ar, shapes[i][0], shapes[i][1], i == 1 ? w_grad : 1);
    for (int i = 0; i < 4; i++) rng_fill_uniform(rng, ex->in[i]->data, ex->in[i]->numel, -1.0, 1.0);
}

static void lora_example(Arena *ar, Rng *rng, OpExample *ex) { lora_example_common(ar, rng, ex, 0); }
static void lora_example_train_w(Arena *ar, Rng *rng, OpExample *ex) { lora_example_common(ar, rng, ex, 1); }
/* frozen w stored as bf16 only: the reference is the rounded weights */
static void lora_example_bf16(Arena *ar, Rng *rng, OpExample *ex) {
    lora_example_common(ar, rng, ex, 0);
    Tensor *w = ex->in[1];
    w->bf16 = arena_alloc(ar, w->numel * sizeof(uint16_t));
    for (size_t i = 0; i < w->numel; i++) w->bf16[i] = f32_to_bf16((float)w->data[i]);
    w->data = NULL;
}

static Tensor *lora_apply(Tape *t, const OpExample *ex) {
    return op_lora_linear(t, ex->in[0], ex->in[1], ex->in[2], ex->in[3], (real)1.5);
}

/* residual: in = { x, a, b, res [2, 3, 5] } and the frozen w in aux (4 inputs at most); res
   goes through a fresh copy, as it may have no later gradient reader (fan-out applies the op
   twice); res without a gradient: y gets its own */
static void lora_example_residual(Arena *ar, Rng *rng, OpExample *ex, int res_grad) {
    lora_example_common(ar, rng, ex, 0);
    ex->aux = ex->in[1];
    ex->in[1] = ex->in[2];
    ex->in[2] = ex->in[3];
    ex->in[3] = tensor_3d(ar, 2, 3, 5, res_grad);
    rng_fill_uniform(rng, ex->in[3]->data, ex->in[3]->numel, -1.0, 1.0);
}
static void lora_example_res(Arena *ar, Rng *rng, OpExample *ex) { lora_example_residual(ar, rng, ex, 1); }
static void lora_example_res_frozen(Arena *ar, Rng *rng, OpExample *ex) { lora_example_residual(ar, rng, ex, 0); }
static Tensor *lora_residual_apply(Tape *t, const OpExample *ex) {
    Tensor *res = op_scale(t, ex->in[3], (real)1);
    return op_lora_linear_residual(t, ex->in[0], ex->aux, ex->in[1], ex->in[2], (real)1.5, res);
}

static const OpCase LORA_CASES[] = {
    { "frozen_w", lora_example, lora_apply, NULL },
    { "bf16_w", lora_example_bf16, lora_apply, NULL },
    { "train_w", lora_example_train_w, lora_apply, NULL },
};
static const OpCase LORA_RESIDUAL_CASES[] = {
    { "plain", lora_example_res, lora_residual_apply, NULL },
    { "frozen_res", lora_example_res_frozen, lora_residual_apply, NULL },
};
const OpInfo OP_LORA_LINEAR = { "lora_linear", "y = x·wᵀ + s·(x·aᵀ)·bᵀ, a linear layer and its LoRA adapter", NULL,
                                OP_CASES(LORA_CASES) };
const OpInfo OP_LORA_LINEAR_RESIDUAL = { "lora_linear_residual", "lora_linear + res, y's gradient buffer res's",
                                         "lora_linear", OP_CASES(LORA_RESIDUAL_CASES) };
