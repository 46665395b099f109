/* autograd/ops/route.h — top-k expert selection and the mixing weights of a token-level router
   (Mo-LoRA / AdaMoE; ARCHITECTURE.md "AdaMoE semantics", REFERENCE.md §1.1).
   defines: Routing, RouteRule, RouteSpec, route_select, route_select_ex, op_route_weights,
            op_row_sum_cols, ROUTE_W_*, OP_ROUTE_TRUE_ONLY, OP_ROUTE_ALL_SELECTED,
            OP_ROUTE_MASKED, OP_ROUTE_RAW, OP_ROW_SUM_COLS
   Experts 0..n_true-1 are true experts, n_true..E-1 are null experts. route_select() is a plain
   function (the selection is a constant for autograd); op_route_weights() is differentiable in
   the router probabilities p.
   Routing variants (route_select_ex; one selection code path, the same Routing layout; a rule
   with a variable number of experts per row uses k = E slots and fills unused slots with -1):
     TOPK          the k largest p (Mo-LoRA / AdaMoE)
     TOP_P         the smallest prefix of the descending p whose mass >= top_p (Huang et al. 2024,
                   "Harder tasks need more experts"); at least one expert per row
     DENSE         every expert (LoRAMoE: dense softmax)
     RANDOM        one TRUE expert per row, uniform, from spec->rng (THOR training)
     ALL_TRUE      every TRUE expert (THOR at evaluation: the average of the experts)
     EXPERT_CHOICE each TRUE expert takes the c = ceil(k·T/n_true) unmasked rows with the largest
                   p_e (ties → lower row) — Zhou et al. 2022. NON-CAUSAL: a token's experts
                   depend on the other tokens of the batch (later ones included), so it is for
                   scoring whole sequences, not for generation. A row may get no expert. */
#ifndef OPS_ROUTE_H
#define OPS_ROUTE_H
#include "../op.h"
#include "../../tensor/rng.h"

#define MOE_ROUTE_MAX_E 64   /* experts per router (true + null) */

/* The top-k choice of every row of p [N, E], grouped by expert for the expert GEMMs. Every
   array lives in the arena given to route_select. Masked rows (pads) select nothing. */
typedef struct {
    int N, E, n_true, k;
    int *sel;          /* [N*k] chosen experts of row r at sel[r*k ..], by descending p (ties go to
                          the lower index); -1 for masked rows */
    int *n_true_sel;   /* [N] number of TRUE experts among the row's k (0 for masked rows) */
    int *count;        /* [E] (row, slot) assignments of each expert over unmasked rows */
    int *offset;       /* [n_true+1] true expert e's rows are rows[offset[e] .. offset[e+1]) */
    int *rows;         /* rows routed to each true expert, grouped by expert, ascending rows */
    int *flat;         /* same order: row*E + e = the element of the [N, E] weight matrix */
    int n_rows;        /* unmasked rows */
    const unsigned char *mask;   /* the mask given to route_select (NULL: every row real) */
} Routing;

typedef enum { ROUTE_TOPK, ROUTE_TOP_P, ROUTE_DENSE, ROUTE_RANDOM, ROUTE_ALL_TRUE, ROUTE_EXPERT_CHOICE } RouteRule;

typedef struct {
    RouteRule rule;
    int n_true, k;       /* k: top-k; expert-choice capacity factor (mean experts per row) */
    double top_p;
    Rng *rng;            /* ROUTE_RANDOM only */
} RouteSpec;

/* The selection of spec->rule (see above); route_select() is the TOPK case. */
void route_select_ex(Arena *a, const Tensor *p, const RouteSpec *spec, const unsigned char *mask, Routing *r);

/* internal (route_rules.c): fills sel, n_true_sel, count, n_rows for the non-TOPK rules */
void route_rules_fill(Arena *a, const Tensor *p, const RouteSpec *spec, const unsigned char *mask, Routing *r);

/* Top-k of every row of p [N, E] (2-D), E = n_true + n_null, 1 <= k <= E. mask [N] (1 = real
   row, 0 = pad) or NULL (all rows real). Ties go to the lower index (a stable descending sort,
   as torch_ref.py topk_mask). */
void route_select(Arena *a, const Tensor *p, int n_true, int k, const unsigned char *mask, Routing *r);

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



/* y [rows, 1], y[r] = Σ_{j=start}^{start+len-1} x[r][j]; x [..., C]. (Identity null experts:
   the total null weight of a row.) */
Tensor *op_row_sum_cols(Tape *t, Tensor *x, int start, int len);

extern const OpInfo OP_ROUTE_TRUE_ONLY, OP_ROUTE_ALL_SELECTED, OP_ROUTE_MASKED, OP_ROUTE_RAW, OP_ROW_SUM_COLS;

#endif
