/* nn/route_rules.h — the routing rules: which experts each token (row) uses. One selection code
   path for every variant, filling the same Routing record (autograd/routing.h) that the routed
   ops consume; a rule with a variable number of experts per row uses k = E slots and fills the
   unused slots with -1.
   defines: RouteRule, RouteSpec, route_select_rule
   Rules:
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
#ifndef NN_ROUTE_RULES_H
#define NN_ROUTE_RULES_H
#include "autograd/routing.h"
#include "tensor/rng.h"

typedef enum { ROUTE_TOPK, ROUTE_TOP_P, ROUTE_DENSE, ROUTE_RANDOM, ROUTE_ALL_TRUE, ROUTE_EXPERT_CHOICE } RouteRule;

typedef struct {
    RouteRule rule;
    int n_true, k;       /* k: top-k; expert-choice capacity factor (mean experts per row) */
    double top_p;
    Rng *rng;            /* ROUTE_RANDOM only */
} RouteSpec;

/* The selection of spec->rule over the router probabilities p [N, E]; mask [N] (1 = real row) or
   NULL. ROUTE_TOPK is route_select(). Masked rows select nothing. */
void route_select_rule(Arena *a, const Tensor *p, const RouteSpec *spec, const unsigned char *mask, Routing *r);

#endif
