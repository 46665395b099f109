/* autograd/ops/route_rules.c — the routing variants of route_select_ex (route.h): top-p dynamic
   routing (Huang et al. 2024), dense (LoRAMoE), one random true expert (THOR training), every
   true expert (THOR evaluation), expert choice (Zhou et al. 2022, non-causal); plus the column
   slice op used by constant null experts (MoE++).
   Every rule writes row r's experts into sel[r*k ..] (k = the slot count route_select_ex chose)
   and -1 into the unused slots, counts (row, expert) pairs per expert over unmasked rows and the
   TRUE experts per row. Masked rows select nothing.
 */
#include "route.h"
#include "activation.h"
#include "../../tensor/check.h"
#include <math.h>
#include <string.h>

static int row_masked(const unsigned char *mask, int row) { return mask && !mask[row]; }

/* descending order of the row's p (stable: ties go to the lower index) */
static void sort_desc(const real *pr, int E, int *order) {
    for (int e = 0; e < E; e++) order[e] = e;
    for (int i = 1; i < E; i++) {
        int v = order[i], j = i;
        while (j > 0 && pr[order[j - 1]] < pr[v]) { order[j] = order[j - 1]; j--; }
        order[j] = v;
    }
}

/* the row's chosen experts: the first n of order (top-p, dense, all-true) */
static void take(Routing *r, int row, const int *list, int n) {
    int *top = r->sel + (size_t)row * r->k;
    for (int s = 0; s < r->k; s++) top[s] = s < n ? list[s] : -1;
    for (int s = 0; s < n; s++) {
        r->count[list[s]]++;
        r->n_true_sel[row] += list[s] < r->n_true;
    }
}

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
    case ROUTE_DENSE:
        for (int e = 0; e < E; e++) order[e] = e;
        take(r, row, order, E);
        break;
    case ROUTE_ALL_TRUE:
        for (int e = 0; e < r->n_true; e++) order[e] = e;
        take(r, row, order, r->n_true);
        break;
    case ROUTE_RANDOM:
        order[0] = (int)rng_int(spec->rng, (uint64_t)r->n_true);
        take(r, row, order, 1);
        break;
    default:
        CHECK(0, "route rule %d is not a per-row rule", (int)spec->rule);
    }
}

/* Each true expert e takes the c unmasked rows with the largest p_e (ties → lower row). */
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

void route_rules_fill(Arena *a, const Tensor *p, const RouteSpec *spec, const unsigned char *mask, Routing *r) {
    CHECK(spec->rule != ROUTE_RANDOM || (spec->rng && r->n_true > 0), "route: random rule needs an rng and true experts");
    for (int row = 0; row < r->N; row++) {
        r->n_true_sel[row] = 0;
        for (int s = 0; s < r->k; s++) r->sel[(size_t)row * r->k + s] = -1;
        if (!row_masked(mask, row)) r->n_rows++;
    }
    if (spec->rule == ROUTE_EXPERT_CHOICE) { expert_choice(a, p, spec, r); return; }
    for (int row = 0; row < r->N; row++)
        if (!row_masked(mask, row)) fill_row_rule(p, spec, r, row);
}

/* ---- examples for the gradient check ---- */

/* raw weights of a dense routing: W = softmax(z) on every entry (selection is everything, so no
   tie can flip); z [5, 4] */
static void raw_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->in[0] = tensor_2d(a, 5, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -2.0, 2.0);
    ex->n_in = 1;
}

static Tensor *raw_apply(Tape *t, const OpExample *ex) {
    Tensor *p = op_softmax(t, ex->in[0]);
    Routing *r = arena_alloc(t->arena, sizeof *r);
    RouteSpec spec = { .rule = ROUTE_DENSE, .n_true = 2, .k = 1 };
    route_select_ex(t->arena, p, &spec, NULL, r);
    return op_route_weights(t, ex->in[0], r, ROUTE_W_RAW);
}

const OpInfo OP_ROUTE_RAW = { "route_raw", raw_example, raw_apply, NULL };
