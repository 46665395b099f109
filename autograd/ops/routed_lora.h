/* autograd/ops/routed_lora.h — the routed LoRA experts of a Mo-LoRA / AdaMoE linear as ONE op.
   defines: op_routed_lora, OP_ROUTED_LORA
   With a routing r (route.h; a constant for autograd) over N rows and E experts, true experts
   e < r->n_true with A_e [R, in] and B_e [out, R], route weights W [N, E] and a scale s:
     y[t] = base[t] + Σ_{e ∈ S_t, e < n_true} s · W[t, e] · B_e A_e x[t]
   Compute follows the routing: each (row, true expert) assignment costs one A_e·x (R dot
   products over `in`) and one rank-R update of the output row; rows never routed to an expert
   and null experts cost nothing, no [rows, in] / [rows, out] copy is made, nothing per expert
   goes on the tape. Saved for the backward: h = A_e x per assignment [P, R] and Bᵀ_e.
   Gradients flow to base, x, W and every A_e, B_e (derivation in routed_lora.c).
   Parallel over rows (a row's assignments in ascending expert order) for y, dx, dW, the rows cut
   into ranges of equal ASSIGNMENT counts (parallel_for_weighted: AdaMoE rows have 0..k true
   experts, so equal row counts would not be equal work); over
   (expert, column slice) for dA, dB, each summing its assignments in routing order, so results
   do not depend on the thread count.
   inplace = 1: base is the caller's fresh tensor that nothing else reads (the frozen linear's
   output): y is base itself (same data, same gradient buffer) — no [N, out] copy forward, no
   gradient add backward. inplace = 0: y is a new tensor and dbase = dy.
   The in-place form is a SPEED TWIN of the plain one: the same adds in the same order, so values
   and gradients are equal bit for bit (tests/autograd/test_inplace_twins.c,
   test_routed_lora_inplace_matches_plain). Being a flag of this one function, it is registered
   as a case of op "routed_lora" ("inplace"), not as an op of its own (autograd/op_registry.c). */
#ifndef OPS_ROUTED_LORA_H
#define OPS_ROUTED_LORA_H
#include "autograd/ops/route.h"

Tensor *op_routed_lora(Tape *t, Tensor *base, Tensor *x, Tensor *W, const Routing *r,
                       Tensor *const *a, Tensor *const *b, real s, int inplace);

extern const OpInfo OP_ROUTED_LORA;   /* cases: plain, inplace */

#endif
