/* autograd/ops/route.h — the mixing weights of a token-level router (Mo-LoRA / AdaMoE;
   ARCHITECTURE.md "AdaMoE semantics", REFERENCE.md §1.1), given a selection (autograd/routing.h:
   top-k; nn/route_rules.h: the other rules).
   defines: op_route_weights, route_weights_rows, op_row_sum_cols, ROUTE_W_*, OP_ROUTE_WEIGHTS, OP_ROW_SUM_COLS
   Experts 0..n_true-1 are true experts, n_true..E-1 are null experts. op_route_weights() is
   differentiable in the router logits z; the selection is a constant. Forward and backward run
   on the thread pool over fixed row ranges (every row is its own output). */
#ifndef OPS_ROUTE_H
#define OPS_ROUTE_H
#include "autograd/op.h"
#include "autograd/routing.h"

/* Mixing weights W [N, E] from the router LOGITS z [N, E] (p = softmax(z) per row, recomputed
   in double) and the selection r (row r's true set T, selected set S):
     true-only (all_selected = 0, AdaMoE option 2, the default):
        W[e] = p_e / Σ_{j∈T} p_j for e ∈ T; W[j] = p_j (raw, as the official code) for selected
        nulls; T empty → true weights 0 (base output only)
     all-selected (option 1, vanilla Mo-LoRA renormalisation):  W[e] = p_e / Σ_{j∈S} p_j, e ∈ S
   Every other entry (and every masked row) is 0. The gradient goes to z directly (route.c says
   why: it stays finite when a selected probability underflows).
     raw (ROUTE_W_RAW; top-p, dense, expert-choice): W[e] = p_e for every selected e, no
        renormalisation; dW/dz through the softmax only
     uniform (ROUTE_W_UNIFORM; stochastic): W[e] = 1 / (number of selected TRUE experts) for the
        selected true experts, nulls 0; a constant (no gradient to z)
   all_selected is one of ROUTE_W_* (0 / 1 keep their old meaning). */
enum { ROUTE_W_TRUE_ONLY = 0, ROUTE_W_ALL_SELECTED = 1, ROUTE_W_RAW = 2, ROUTE_W_UNIFORM = 3 };
Tensor *op_route_weights(Tape *t, Tensor *z, const Routing *r, int all_selected);
/* op_route_weights's forward on raw arrays, no tape: W [r->N, r->E] from z [r->N, r->E] (the
   decode step's routers, nn/generate_routed.c) */
void route_weights_rows(real *W, const real *z, const Routing *r, int all_selected);



/* y [rows, 1], y[r] = Σ_{j=start}^{start+len-1} x[r][j]; x [..., C]. (Identity null experts:
   the total null weight of a row.) */
Tensor *op_row_sum_cols(Tape *t, Tensor *x, int start, int len);

extern const OpInfo OP_ROUTE_WEIGHTS;   /* cases: true_only, all_selected, masked, raw */
extern const OpInfo OP_ROW_SUM_COLS;

#endif
