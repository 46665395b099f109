/* autograd/ops/attention.c — causal GQA self-attention, fused (see attention.h for shapes).
   Per (batch b, query head h, kv head g = h / (H/KV)), with Q, K, V the [T, D] slices (row
   strides H·D and KV·D inside the 4-d tensors) and scale = 1/sqrt(D):
     S = scale · Q Kᵀ,  P = softmax over j <= i of S[i, :] (causal; in the real type),  Y = P V
   Queries are processed in blocks of ATTN_ROW_BLOCK rows [i0, i1): only columns j < i1 are
   computed, which skips the masked upper blocks. Saved: P, per (b, h) pair its row blocks one
   after the other, block [i0, i1) as [i1 - i0, i1] (row stride i1; zero for i < j < i1), so the
   masked upper blocks take no memory either (T = 128: 3/4 of B·H·T·T).
   Backward: dV, dP, dS, dQ, dK per block, summed over the query heads of a kv group
   (derivation above attn_backward_group).
   Threads: the forward splits the B·H (b, h) pairs, the backward the B·KV (b, g) groups (the
   query heads of a group all write the same dK, dV), over "slots" with one scratch each.
   Every pair/group is computed the same serial way whatever the slot, so results are
   bitwise identical for any thread count; gemm inside a worker runs serially. Row max, exp-sum
   and dot products use vecmath.h's lane helpers (sums in double, fixed lane order). */
#include "autograd/ops/attention.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"
#include <math.h>

typedef struct {
    const real *q, *k, *v, *dy;
    real *y, *P, *dq, *dk, *dv, *scratch;
    int B, T, H, KV, D, n_slots;
    real scale;
} AttnCtx;

/* ---- kernels on raw pointers ---- */

/* Rows r of S (ld), query i = i0 + r: softmax over j <= i, zero for i < j < i1. */
VEC_CLONES static void causal_softmax_rows(real *S, int ld, int rb, int i0, int i1) {
    for (int r = 0; r < rb; r++) {
        real *row = S + (size_t)r * ld;
        int i = i0 + r;
        real m = vm_row_max(row, i + 1);
        real sum = (real)vm_row_exp_sum(row, row, i + 1, m);
        for (int j = 0; j <= i; j++) row[j] /= sum;
        for (int j = i + 1; j < i1; j++) row[j] = 0;
    }
}

/* Softmax backward of the causal rows: P_i = softmax(S_i) over j <= i has the Jacobian
   ∂P_ij/∂S_ik = P_ij (δ_jk − P_ik), so
     dS_ik = Σ_j dP_ij P_ij (δ_jk − P_ik) = P_ik (dP_ik − Σ_j P_ij dP_ij)
   i.e. dS = P ⊙ (dP − rowsum(dP ⊙ P)), in place over W = dP (rows of the block, ld T). Masked
   entries (j > i) have P = 0, so their dS is 0 and nothing flows through the mask. */
VEC_CLONES static void softmax_backward_rows(real *W, const real *P, int ld, int rb, int i0, int i1) {
    for (int r = 0; r < rb; r++) {
        real *w = W + (size_t)r * ld;
        const real *p = P + (size_t)r * ld;
        int i = i0 + r;
        real dot = (real)vm_row_dot(w, p, i + 1);
        for (int j = 0; j <= i; j++) w[j] = p[j] * (w[j] - dot);
        for (int j = i + 1; j < i1; j++) w[j] = 0;
    }
}

/* Offset of row block [i0, ..) in a pair's packed P: the blocks before it, [rb, i1] each. */
static size_t p_block_offset(int i0) {
    size_t off = 0;
    for (int j0 = 0; j0 < i0; j0 += ATTN_ROW_BLOCK) off += (size_t)ATTN_ROW_BLOCK * (j0 + ATTN_ROW_BLOCK);
    return off;
}

/* reals of one pair's packed P */
static size_t p_pair_size(int T) {
    size_t n = 0;
    for (int i0 = 0; i0 < T; i0 += ATTN_ROW_BLOCK) {
        int rb = T - i0 < ATTN_ROW_BLOCK ? T - i0 : ATTN_ROW_BLOCK;
        n += (size_t)rb * (i0 + rb);
    }
    return n;
}

/* One (b, h) pair. S is P's block (saved, packed) or a [ROW_BLOCK, T] scratch; row stride i1. */
static void attn_forward_pair(const AttnCtx *c, int bh, real *scratch) {
    int T = c->T, D = c->D, b = bh / c->H, h = bh % c->H, g = h / (c->H / c->KV);
    int ldq = c->H * D, ldk = c->KV * D;
    const real *Q = c->q + (size_t)b * T * ldq + (size_t)h * D;
    const real *K = c->k + (size_t)b * T * ldk + (size_t)g * D;
    const real *V = c->v + (size_t)b * T * ldk + (size_t)g * D;
    real *Y = c->y + (size_t)b * T * ldq + (size_t)h * D;
    for (int i0 = 0; i0 < T; i0 += ATTN_ROW_BLOCK) {
        int rb = T - i0 < ATTN_ROW_BLOCK ? T - i0 : ATTN_ROW_BLOCK, i1 = i0 + rb;
        real *S = c->P ? c->P + (size_t)bh * p_pair_size(T) + p_block_offset(i0) : scratch;
        gemm(0, 1, rb, i1, D, c->scale, Q + (size_t)i0 * ldq, ldq, K, ldk, 0, S, i1);
        causal_softmax_rows(S, i1, rb, i0, i1);
        gemm(0, 0, rb, D, i1, 1, S, i1, V, ldk, 0, Y + (size_t)i0 * ldq, ldq);
    }
}

/* One (b, g) group: every query head of the group, every row block, in a fixed order.
   For one head, S = scale·Q Kᵀ, P = causal softmax of S's rows, Y = P V, so
     Y_i = Σ_j P_ij V_j        ⇒  dV_j += Σ_i P_ij dY_i    i.e. dV += Pᵀ dY
                                   dP_ij = dY_i · V_j        i.e. dP  = dY Vᵀ
     dS = P ⊙ (dP − rowsum(dP ⊙ P))                        (softmax_backward_rows)
     S_ij = scale Q_i · K_j    ⇒  dQ_i += scale Σ_j dS_ij K_j   i.e. dQ += scale · dS K
                                   dK_j += scale Σ_i dS_ij Q_i   i.e. dK += scale · dSᵀ Q
   With GQA the rep = H/KV query heads of a group all read the same K, V: their dK, dV
   contributions add up, which is why one task owns a whole group. Per row block [i0, i1) only
   the columns j < i1 exist (the rest of P is zero). W: a [ROW_BLOCK, T] scratch for dP, then
   dS, used with P's row stride i1. */
static void attn_backward_group(const AttnCtx *c, int bg, real *W) {
    int T = c->T, D = c->D, b = bg / c->KV, g = bg % c->KV, rep = c->H / c->KV;
    int ldq = c->H * D, ldk = c->KV * D;
    size_t qoff = (size_t)b * T * ldq, koff = (size_t)b * T * ldk + (size_t)g * D;
    for (int h = g * rep; h < (g + 1) * rep; h++) {
        size_t qh = qoff + (size_t)h * D;
        for (int i0 = 0; i0 < T; i0 += ATTN_ROW_BLOCK) {
            int rb = T - i0 < ATTN_ROW_BLOCK ? T - i0 : ATTN_ROW_BLOCK, i1 = i0 + rb;
            const real *P = c->P + ((size_t)b * c->H + h) * p_pair_size(T) + p_block_offset(i0);
            const real *dY = c->dy + qh + (size_t)i0 * ldq;
            if (c->dv) gemm(1, 0, i1, D, rb, 1, P, i1, dY, ldq, 1, c->dv + koff, ldk);
            if (!c->dq && !c->dk) continue;
            gemm(0, 1, rb, i1, D, 1, dY, ldq, c->v + koff, ldk, 0, W, i1);
            softmax_backward_rows(W, P, i1, rb, i0, i1);
            if (c->dq)
                gemm(0, 0, rb, D, i1, c->scale, W, i1, c->k + koff, ldk, 1,
                     c->dq + qh + (size_t)i0 * ldq, ldq);
            if (c->dk)
                gemm(1, 0, i1, D, rb, c->scale, W, i1, c->q + qh + (size_t)i0 * ldq, ldq, 1,
                     c->dk + koff, ldk);
        }
    }
}

/* Slot s handles items [s·n/slots, (s+1)·n/slots) with scratch s. */
static void attn_forward_slots(void *vc, long s0, long s1) {
    const AttnCtx *c = vc;
    long n = (long)c->B * c->H;
    for (long s = s0; s < s1; s++)
        for (long it = s * n / c->n_slots; it < (s + 1) * n / c->n_slots; it++)
            attn_forward_pair(c, (int)it, c->scratch ? c->scratch + (size_t)s * ATTN_ROW_BLOCK * c->T : NULL);
}

/* the backward of groups [s·n/slots, (s+1)·n/slots) for each slot s (attn_backward_group:
   dV += Pᵀ dY, dS = P ⊙ (dY Vᵀ − rowsum), dQ += scale·dS K, dK += scale·dSᵀ Q) */
static void attn_backward_slots(void *vc, long s0, long s1) {
    const AttnCtx *c = vc;
    long n = (long)c->B * c->KV;
    for (long s = s0; s < s1; s++)
        for (long it = s * n / c->n_slots; it < (s + 1) * n / c->n_slots; it++)
            attn_backward_group(c, (int)it, c->scratch + (size_t)s * ATTN_ROW_BLOCK * c->T);
}

static int slots_for(long n_items) {
    int nt = threads_count();
    return n_items < nt ? (int)n_items : nt;
}

/* ---- decode step (no tape) ---- */

typedef struct {
    real *out, *scratch;
    const real *q, *kc, *vc;
    int pos, H, KV, D;
} DecodeCtx;

static void decode_heads(void *vctx, long h0, long h1) {
    const DecodeCtx *c = vctx;
    int n = c->pos + 1, ldk = c->KV * c->D;
    real scale = (real)(1.0 / sqrt((double)c->D));
    for (long h = h0; h < h1; h++) {
        int g = (int)h / (c->H / c->KV);
        real *s = c->scratch + (size_t)h * n;
        gemm(0, 1, 1, n, c->D, scale, c->q + (size_t)h * c->D, c->D, c->kc + (size_t)g * c->D, ldk, 0, s, n);
        causal_softmax_rows(s, n, 1, c->pos, n);
        gemm(0, 0, 1, c->D, n, 1, s, n, c->vc + (size_t)g * c->D, ldk, 0, c->out + (size_t)h * c->D, c->D);
    }
}

void attention_decode_step(real *out, const real *q, const real *k_cache, const real *v_cache,
                           int pos, int H, int KV, int D, real *scratch) {
    CHECK(pos >= 0 && H > 0 && KV > 0 && D > 0 && H % KV == 0,
          "attention_decode_step: need pos >= 0 and H %% KV == 0 (pos %d, H %d, KV %d, D %d)", pos, H, KV, D);
    DecodeCtx c = { out, scratch, q, k_cache, v_cache, pos, H, KV, D };
    parallel_for(H, decode_heads, &c);
}

/* ---- op ---- */

typedef struct {
    real *P, *scratch;
    int n_slots;
} AttnSaved;

/* y = softmax(scale·q kᵀ, causal) v per head: dq, dk, dv from the saved P (attn_backward_group),
   the B·KV groups split over the pool's slots */
static void attn_backward(const TapeEntry *e) {
    const AttnSaved *sv = e->saved;
    Tensor *q = e->in[0], *k = e->in[1], *v = e->in[2];
    AttnCtx c = { q->data, k->data, v->data, e->out->grad, NULL, sv->P, q->grad, k->grad, v->grad,
                  sv->scratch, q->shape[0], q->shape[1], q->shape[2], k->shape[2], q->shape[3],
                  sv->n_slots, (real)(1.0 / sqrt((double)q->shape[3])) };
    parallel_for(c.n_slots, attn_backward_slots, &c);
}

static void check_shapes(const Tensor *q, const Tensor *k, const Tensor *v) {
    char sq[64], sk[64], sv[64];
    tensor_shape_str(q, sq, sizeof sq);
    tensor_shape_str(k, sk, sizeof sk);
    tensor_shape_str(v, sv, sizeof sv);
    CHECK(q->data && k->data && v->data, "causal_attention: inputs must hold real data (not bf16)");
    CHECK(q->ndim == 4 && k->ndim == 4 && tensor_same_shape(k, v) && k->shape[0] == q->shape[0] &&
          k->shape[1] == q->shape[1] && k->shape[3] == q->shape[3] && k->shape[2] > 0 &&
          q->shape[2] % k->shape[2] == 0,
          "causal_attention: need q [B,T,H,D], k = v [B,T,KV,D], H %% KV == 0; got q %s k %s v %s",
          sq, sk, sv);
}

Tensor *op_causal_attention(Tape *t, Tensor *q, Tensor *k, Tensor *v) {
    check_shapes(q, k, v);
    Tensor *in[3] = { q, k, v };
    Tensor *y = tape_output(t, 4, q->shape, tape_wants_grad(t, 3, in), "causal_attention");
    AttnCtx c = { q->data, k->data, v->data, NULL, y->data, NULL, NULL, NULL, NULL, NULL,
                  q->shape[0], q->shape[1], q->shape[2], k->shape[2], q->shape[3], 0,
                  (real)(1.0 / sqrt((double)q->shape[3])) };
    size_t block = (size_t)ATTN_ROW_BLOCK * c.T * sizeof(real);
    ArenaMark m = arena_mark(t->arena);
    c.n_slots = slots_for((long)c.B * c.H);
    if (y->grad) c.P = arena_alloc(t->arena, (size_t)c.B * c.H * p_pair_size(c.T) * sizeof(real));
    else c.scratch = arena_alloc(t->arena, (size_t)c.n_slots * block);
    parallel_for(c.n_slots, attn_forward_slots, &c);
    TapeEntry *e = tape_record(t, "causal_attention", attn_backward, y, 3, in);
    if (!e) {
        arena_rewind(t->arena, m);
        return y;
    }
    AttnSaved *sv = arena_alloc(t->arena, sizeof *sv);
    sv->P = c.P;
    sv->n_slots = slots_for((long)c.B * c.KV);
    sv->scratch = arena_alloc(t->arena, (size_t)sv->n_slots * block);
    e->saved = sv;
    return y;
}

size_t op_causal_attention_saved(int B, int T, int H, int KV, int threads) {
    long slots = (long)B * KV < threads ? (long)B * KV : threads;
    return (size_t)B * H * p_pair_size(T) + (size_t)slots * ATTN_ROW_BLOCK * T;
}

/* ---- examples for the gradient check ---- */

static void attn_example_shape(Arena *a, Rng *rng, OpExample *ex, int B, int T, int H, int KV, int D) {
    ex->n_in = 3;
    ex->in[0] = tensor_new(a, 4, (int[]){ B, T, H, D }, 1);
    ex->in[1] = tensor_new(a, 4, (int[]){ B, T, KV, D }, 1);
    ex->in[2] = tensor_new(a, 4, (int[]){ B, T, KV, D }, 1);
    for (int i = 0; i < 3; i++) rng_fill_uniform(rng, ex->in[i]->data, ex->in[i]->numel, -1.0, 1.0);
}

static void attn_example_gqa(Arena *a, Rng *rng, OpExample *ex) { attn_example_shape(a, rng, ex, 2, 5, 4, 2, 6); }
static void attn_example_mha(Arena *a, Rng *rng, OpExample *ex) { attn_example_shape(a, rng, ex, 1, 4, 2, 2, 3); }
/* T crosses ATTN_ROW_BLOCK, so the block bookkeeping is checked too */
static void attn_example_long(Arena *a, Rng *rng, OpExample *ex) {
    attn_example_shape(a, rng, ex, 1, ATTN_ROW_BLOCK + 3, 2, 1, 2);
}
static Tensor *attn_apply(Tape *t, const OpExample *ex) {
    return op_causal_attention(t, ex->in[0], ex->in[1], ex->in[2]);
}

static const OpCase ATTN_CASES[] = {
    { "gqa", attn_example_gqa, attn_apply, NULL },
    { "mha", attn_example_mha, attn_apply, NULL },
    { "long", attn_example_long, attn_apply, NULL },
};
const OpInfo OP_CAUSAL_ATTENTION = { "causal_attention", "y = softmax(q·kᵀ/√D, causal)·v per head, GQA", NULL,
                                     OP_CASES(ATTN_CASES) };
