/* autograd/ops/aux_loss.h — the load-balancing loss of a router layer (Switch / MoLA form and
   AdaMoE's Eq. 6 with null experts grouped; REFERENCE.md §1.2-§1.3).
   defines: aux_loss_coefs, op_router_aux, op_router_entropy, OP_ROUTER_AUX, OP_ROUTER_ENTROPY
   For one layer, pooled over its routed modules (T rows in all, E = n_true + n_null experts,
   top-k): c_i = (row, slot) assignments of expert i, f_i = c_i / (kT), P_i = mean_t p_ti and
     L = E · Σ_i f̃_i P_i,   f̃_i = f_i (vanilla; and for every true expert under Eq. 6),
                            f̃_j = mean_{null l} f_l for every null expert j (Eq. 6, group_nulls).
   f is a constant (counts), so L is LINEAR in p: L = Σ_t Σ_i coef_i p_ti with
   coef_i = E f̃_i / T. aux_loss_coefs() computes coef from the pooled counts; op_router_aux()
   is the differentiable sum for one module's p (a layer's loss = the sum over its modules). */
#ifndef OPS_AUX_LOSS_H
#define OPS_AUX_LOSS_H
#include "autograd/op.h"

/* coef[E] from counts[E] (pooled over the layer's modules, pads excluded), T pooled rows.
   T == 0 gives all zeros. group_nulls = 1: Eq. 6; 0: vanilla (n_null = 0 makes them equal). */
void aux_loss_coefs(const double *counts, int n_true, int n_null, int k, double T, int group_nulls,
                    double *coef);

/* Scalar [1]: Σ_{rows r with mask[r]} Σ_i coef[i] · p[r][i]; p [N, E] 2-D, coef [E] (copied),
   mask [N] or NULL (every row). Backward: dp[r][i] += coef[i] · dy for unmasked rows. */
Tensor *op_router_aux(Tape *t, Tensor *p, const double *coef, const unsigned char *mask);

/* Scalar [1]: mean over unmasked rows of the entropy H_r = -Σ_i p_ri log p_ri of p [N, E]
   (top-p routing's dynamic loss, Huang et al. 2024). Backward: dp_ri += -(log p_ri + 1)·dy/T
   (entries with p = 0 get nothing). */
Tensor *op_router_entropy(Tape *t, Tensor *p, const unsigned char *mask);

extern const OpInfo OP_ROUTER_AUX, OP_ROUTER_ENTROPY;

#endif
