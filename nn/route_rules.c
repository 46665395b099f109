/* nn/route_rules.c — the routing rules of route_rules.h: top-k (autograd/routing.c), top-p
   dynamic routing (Huang et al. 2024), dense (LoRAMoE), one random true expert (THOR training),
   every true expert (THOR evaluation), expert choice (Zhou et al. 2022, non-causal).
   Every rule writes row r's experts into sel[r*k ..] (k = the slot count route_select_rule chose)
   and -1 into the unused slots, counts (row, expert) pairs per expert over unmasked rows and the
   TRUE experts per row. Masked rows select nothing.
   The selection is a constant for autograd: nothing here touches the tape. What a rule decides
   is only WHICH experts a row uses; how much each counts (renormalised, raw p, uniform) is the
   weight mode of op_route_weights (route.h), chosen next to the rule by moe_route_spec (the end
   of this file, for nn/moe.c's training forward and nn/generate_routed.c's decoding).
   Slots: top-p, dense, all-true and expert-choice give a row a variable number of experts (at
   most E), so they get k = E slots; random uses exactly one. routing_group() then builds the
   per-expert row lists the routed ops run on, exactly as for top-k.
 */
#include "nn/route_rules.h"
#include "nn/moe.h"
#include "tensor/check.h"
#include <math.h>
#include <string.h>

static int row_masked(const unsigned char *mask, int row) { return mask && !mask[row]; }

/* descending order of the row's p (stable: ties go to the lower index). An insertion sort:
   E <= MOE_ROUTE_MAX_E = 64, and stability is what makes ties deterministic. */
static void sort_desc(const real *pr, int E, int *order) {
    for (int e = 0; e < E; e++) order[e] = e;
    for (int i = 1; i < E; i++) {
        int v = order[i], j = i;
        while (j > 0 && pr[order[j - 1]] < pr[v]) { order[j] = order[j - 1]; j--; }
        order[j] = v;
    }
}

/* the row's chosen experts: the first n of list (top-p, dense, all-true, random), -1 after */
static void take(Routing *r, int row, const int *list, int n) {
    int *top = r->sel + (size_t)row * r->k;
    for (int s = 0; s < r->k; s++) top[s] = s < n ? list[s] : -1;
    for (int s = 0; s < n; s++) {
        r->count[list[s]]++;
        r->n_true_sel[row] += list[s] < r->n_true;
    }
}

/* The rules that decide each row on its own. Top-p (Huang et al. 2024): walk the experts by
   descending p, true and null alike, and stop as soon as the mass reaches top_p, so the set is
   the shortest prefix with Σ p >= top_p (the official code stops at the first cumsum > p_thr:
   the two differ only on an exact tie) and never empty. A confident row (one p >= top_p) uses
   one expert; a flat one uses many. */
static void fill_row_rule(const Tensor *p, const RouteSpec *spec, Routing *r, int row) {
    int E = r->E, order[MOE_ROUTE_MAX_E];
    const real *pr = p->data + (size_t)row * E;
    switch (spec->rule) {
    case ROUTE_TOP_P: {
        sort_desc(pr, E, order);
        double mass = 0.0;
        int n = 0;
        while (n < E && (n == 0 || mass < spec->top_p)) mass += (double)pr[order[n++]];
        take(r, row, order, n);
        break;
    }
    case ROUTE_DENSE:   /* LoRAMoE: every expert, nulls included */
        for (int e = 0; e < E; e++) order[e] = e;
        take(r, row, order, E);
        break;
    case ROUTE_ALL_TRUE:   /* THOR at evaluation: all true experts (weights 1/n, moe.c) */
        for (int e = 0; e < r->n_true; e++) order[e] = e;
        take(r, row, order, r->n_true);
        break;
    case ROUTE_RANDOM:   /* THOR training: one true expert, uniform; p does not decide */
        order[0] = (int)rng_int(spec->rng, (uint64_t)r->n_true);
        take(r, row, order, 1);
        break;
    default:
        CHECK(0, "route rule %d is not a per-row rule", (int)spec->rule);
    }
}

/* Expert choice (Zhou et al. 2022): the experts choose the tokens. Each true expert e takes the
   c unmasked rows with the largest p_e (ties -> lower row), with the capacity
     c = ceil(k · T / n_true),  T = unmasked rows (capped at T)
   so a row gets about k experts on average, and every expert is exactly full: perfect balance by
   construction, no aux loss needed. A row may be picked by several experts or by none. The
   row's experts land in ascending expert order. Per expert, candidates are kept in a
   descending list of at most c rows: a row enters while the list is short, or if it beats the
   c-th. */
static void expert_choice(Arena *a, const Tensor *p, const RouteSpec *spec, Routing *r) {
    int N = r->N, E = r->E, n_real = r->n_rows;
    int c = r->n_true ? (int)ceil((double)spec->k * n_real / r->n_true) : 0;
    if (c > n_real) c = n_real;
    int *fill = arena_alloc_zero(a, (size_t)(N ? N : 1) * sizeof(int));
    int *cand = arena_alloc(a, (size_t)(N ? N : 1) * sizeof(int));
    for (int e = 0; e < r->n_true; e++) {
        int n = 0;
        for (int row = 0; row < N; row++) {   /* insertion into a descending list of size <= c */
            if (row_masked(r->mask, row) || c == 0) continue;
            real v = p->data[(size_t)row * E + e];
            int pos = n;
            while (pos > 0 && p->data[(size_t)cand[pos - 1] * E + e] < v) pos--;
            if (pos >= c) continue;
            int last = n < c ? n : c - 1;
            for (int i = last; i > pos; i--) cand[i] = cand[i - 1];
            cand[pos] = row;
            if (n < c) n++;
        }
        for (int i = 0; i < n; i++) {
            int row = cand[i];
            r->sel[(size_t)row * r->k + fill[row]++] = e;
            r->count[e]++;
            r->n_true_sel[row]++;
        }
    }
}

/* See route_rules.h. Everything (the record's arrays, scratch) lives in arena a; a bad shape or
   spec is a programming error (CHECK). */
void route_select_rule(Arena *a, const Tensor *p, const RouteSpec *spec, const unsigned char *mask, Routing *r) {
    if (spec->rule == ROUTE_TOPK) { route_select(a, p, spec->n_true, spec->k, mask, r); return; }
    char sp[64];
    CHECK(p->ndim == 2 && p->data, "route_select_rule: p %s must be 2-D [N, E] with real data",
          tensor_shape_str(p, sp, sizeof sp));
    int N = p->shape[0], E = p->shape[1];
    CHECK(E <= MOE_ROUTE_MAX_E, "route_select_rule: %d experts > %d", E, MOE_ROUTE_MAX_E);
    CHECK(spec->rule != ROUTE_RANDOM || (spec->rng && spec->n_true > 0), "route: random rule needs an rng and true experts");
    CHECK(spec->k >= 1 && spec->k <= E, "route_select_rule: k %d for E %d", spec->k, E);
    routing_alloc(a, N, E, spec->n_true, spec->rule == ROUTE_RANDOM ? 1 : E, mask, r);
    for (int row = 0; row < N; row++) r->n_rows += !row_masked(mask, row);
    if (spec->rule == ROUTE_EXPERT_CHOICE) expert_choice(a, p, spec, r);
    else
        for (int row = 0; row < N; row++)
            if (!row_masked(mask, row)) fill_row_rule(p, spec, r, row);
    routing_group(a, r);
}

/* ---- a Mo-LoRA / AdaMoE linear's rule (nn/moe.h), shared by training and decoding ---- */

/* Without a caller's rng (gradient checks), the stochastic rule draws from a stream fixed per
   (layer, module), so two forwards route identically. */
Rng moe_route_rng(const MoeLinear *m) {
    return rng_derive(0x5eedULL + (uint64_t)(m->layer * MOE_MODULES + m->module), 17);
}

/* The selection rule (spec) and the weight mode (ROUTE_W_*, the return value) of this forward.
   Stochastic (THOR) is the one rule that differs between training and evaluation. */
int moe_route_spec(const MoeLinear *m, int training, RouteSpec *spec, Rng *rng) {
    int E = m->n_true + m->n_null, k_now = m->state ? m->state->k_now : 0;
    int k = k_now > 0 ? (k_now < E ? k_now : E) : m->top_k;   /* --top-k-schedule */
    *spec = (RouteSpec){ .rule = ROUTE_TOPK, .n_true = m->n_true, .k = k, .top_p = m->top_p, .rng = rng };
    switch ((MoeRouting)m->routing) {
    case MOE_ROUTING_TOP_P: spec->rule = ROUTE_TOP_P; return ROUTE_W_RAW;
    case MOE_ROUTING_DENSE: spec->rule = ROUTE_DENSE; return ROUTE_W_RAW;
    case MOE_ROUTING_EXPERT_CHOICE: spec->rule = ROUTE_EXPERT_CHOICE; return ROUTE_W_RAW;
    case MOE_ROUTING_STOCHASTIC: spec->rule = training ? ROUTE_RANDOM : ROUTE_ALL_TRUE; return ROUTE_W_UNIFORM;
    case MOE_ROUTING_TOPK: break;
    }
    return m->all_selected ? ROUTE_W_ALL_SELECTED : ROUTE_W_TRUE_ONLY;
}
