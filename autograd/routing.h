/* autograd/routing.h — the Routing record the routed ops consume (op_route_weights,
   op_routed_lora, op_router_aux), and the top-k selection that builds it (Mo-LoRA / AdaMoE;
   ARCHITECTURE.md "AdaMoE semantics", REFERENCE.md §1.1). The other routing rules (top-p, dense,
   expert choice, ...) are nn/route_rules.h; they fill the same record.
   defines: MOE_ROUTE_MAX_E, Routing, route_select, routing_alloc, routing_group
   Experts 0..n_true-1 are true experts, n_true..E-1 are null experts. The selection is a constant
   for autograd: nothing here records a tape entry. The per-row top-k runs on the thread pool over
   fixed row ranges; counts and the grouping are serial (the same record for any thread count). */
#ifndef AUTOGRAD_ROUTING_H
#define AUTOGRAD_ROUTING_H
#include "tensor/arena.h"
#include "tensor/tensor.h"

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

/* Top-k of every row of p [N, E] (2-D), E = n_true + n_null, 1 <= k <= E. mask [N] (1 = real
   row, 0 = pad) or NULL (all rows real). Ties go to the lower index (a stable descending sort,
   as torch_ref.py topk_mask). */
void route_select(Arena *a, const Tensor *p, int n_true, int k, const unsigned char *mask, Routing *r);

/* For other rules: an empty record of `slots` experts per row (sel filled with -1, counts 0),
   then, once a rule has filled sel / n_true_sel / count / n_rows, the grouping by expert. */
void routing_alloc(Arena *a, int N, int E, int n_true, int slots, const unsigned char *mask, Routing *r);
void routing_group(Arena *a, Routing *r);

#endif
