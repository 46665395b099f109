/* autograd/ops/routed_ffn.h — the routed SwiGLU experts of a MoE FFN block (nn/moe_ffn.c) as ONE op.
   defines: op_routed_ffn, OP_ROUTED_FFN
   With a routing r (autograd/routing.h; a constant for autograd) over N rows and E experts, true
   experts e < r->n_true with w1_e, w3_e [F, C] and w2_e [C, F], route weights W [N, E]:
     y[t] = Σ_{e ∈ S_t, e < n_true} W[t, e] · w2_e (silu(w1_e h[t]) ⊙ w3_e h[t])     y [N, C]
   (zero for rows with no true expert). Each expert runs dense GEMMs on its own rows (route by
   gathering rows, as the unfused form); null experts and unchosen experts cost nothing.
   Weights may be trainable f32, frozen f32, or frozen bf16 / quantised (as op_linear's w).
   MEMORY: per routed (row, expert) assignment only g = w1 x, u = w3 x [F] and d = w2 s [C] are
   kept for the backward (2F + C reals); the gathered rows, s = silu(g) ⊙ u and every gradient
   of an intermediate are per-expert scratch, rebuilt in the backward (a gather and an
   elementwise pass, no GEMM) and released. The unfused chain (gather_rows, linear, linear,
   swiglu_shared_grad, linear, gather_rows, scatter_add_rows_inplace) keeps 4C + 5F reals (and a
   tape entry per op per expert): at C = 288, F = 768 that is 4992 against 1824 reals.
   SPEED TWIN of that chain: the same GEMMs on the same operands, the same elementwise formulas
   and the same accumulation orders (forward: experts ascending into each row; backward: experts
   descending, as the tape replays the chain), so values and gradients equal the chain's bit for
   bit (tests/autograd/test_routed_ffn.c). Parallel inside: the GEMMs, and row / element ranges
   of the gathers, scatters and SwiGLU (an expert's rows are distinct, so no two tasks write one
   element): results do not depend on the thread count. */
#ifndef OPS_ROUTED_FFN_H
#define OPS_ROUTED_FFN_H
#include "autograd/op.h"
#include "autograd/routing.h"

/* h [N, C], W [N, E]; w1, w3, w2: [r->n_true] weight tensors. Returns a fresh y [N, C]. */
Tensor *op_routed_ffn(Tape *t, Tensor *h, Tensor *W, const Routing *r, Tensor *const *w1, Tensor *const *w3,
                      Tensor *const *w2);

extern const OpInfo OP_ROUTED_FFN;   /* cases: trainable, frozen_w */

#endif
