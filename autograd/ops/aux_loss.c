/* autograd/ops/aux_loss.c — load-balancing loss coefficients and the linear router-aux op
   (see aux_loss.h).
   L = E Σ_i f̃_i P_i is linear in p once the counts are fixed: L = Σ_t Σ_i coef_i p_ti
   (derivation above router_aux_backward_entry).
   Eq. 6 replaces every null count by the mean null count; Σ_i c_i = kT is unchanged by that.
   Padding rows (mask 0) are left out of T, of the counts (done by the caller, route_select) and
   of the sum: a deliberate deviation from the official code, which sees pads (documented in
   nn/moe.h). Sums accumulate in double. */
#include "autograd/ops/aux_loss.h"
#include "tensor/check.h"
#include <string.h>
#include <math.h>

void aux_loss_coefs(const double *counts, int n_true, int n_null, int k, double T, int group_nulls,
                    double *coef) {
    int E = n_true + n_null;
    if (!(T > 0)) {
        for (int i = 0; i < E; i++) coef[i] = 0.0;
        return;
    }
    double null_mean = 0.0;
    for (int j = n_true; j < E; j++) null_mean += counts[j];
    if (n_null > 0) null_mean /= n_null;
    for (int i = 0; i < E; i++) {
        double c = group_nulls && i >= n_true ? null_mean : counts[i];
        double f = c / ((double)k * T);
        coef[i] = (double)E * f / T;
    }
}

typedef struct { double *coef; const unsigned char *mask; } AuxSaved;

static double router_aux_forward(const real *p, int N, int E, const double *coef, const unsigned char *mask) {
    double s = 0.0;
    for (int r = 0; r < N; r++) {
        if (mask && !mask[r]) continue;
        const real *pr = p + (size_t)r * E;
        for (int i = 0; i < E; i++) s += coef[i] * (double)pr[i];
    }
    return s;
}

/* L = E Σ_i f̃_i P_i with P_i = (1/T) Σ_t p_ti (t over the T unmasked rows). f̃ comes from
   the counts of a discrete selection, a constant with no gradient (Eq. 6 only averages the
   null counts, which keeps it constant). So
     L = Σ_t Σ_i (E f̃_i / T) p_ti = Σ_t Σ_i coef_i p_ti   ⇒   ∂L/∂p_ti = coef_i
     dp_ti += coef_i · dy   on unmasked rows (masked rows are not in L)
   Through the router softmax p_t = softmax(z_t) this becomes REFERENCE.md §1.3's
     dz_tj = p_tj (coef_j − Σ_i coef_i p_ti) = (E/T) p_tj (f̃_j − Σ_i f̃_i p_ti)
   which op_softmax's backward forms; this op stops at p. */
static void router_aux_backward_entry(const TapeEntry *e) {
    const AuxSaved *sv = e->saved;
    Tensor *p = e->in[0];
    if (!p->grad) return;
    int N = p->shape[0], E = p->shape[1];
    double g = (double)e->out->grad[0];
    for (int r = 0; r < N; r++) {
        if (sv->mask && !sv->mask[r]) continue;
        real *dp = p->grad + (size_t)r * E;
        for (int i = 0; i < E; i++) dp[i] += (real)(sv->coef[i] * g);
    }
}

Tensor *op_router_aux(Tape *t, Tensor *p, const double *coef, const unsigned char *mask) {
    char sp[64];
    CHECK(p->ndim == 2 && p->data, "router_aux: p %s must be 2-D [N, E] with real data", tensor_shape_str(p, sp, sizeof sp));
    int N = p->shape[0], E = p->shape[1];
    Tensor *y = tape_output(t, 1, (int[]){ 1 }, tape_wants_grad(t, 1, &p), "router_aux");
    y->data[0] = (real)router_aux_forward(p->data, N, E, coef, mask);
    TapeEntry *e = tape_record(t, "router_aux", router_aux_backward_entry, y, 1, &p);
    if (e) {
        AuxSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->coef = arena_alloc(t->arena, (size_t)E * sizeof(double));
        memcpy(sv->coef, coef, (size_t)E * sizeof(double));
        sv->mask = mask;    /* the caller keeps the mask alive for the step (arena) */
        e->saved = sv;
    }
    return y;
}

/* ---- example for the gradient check: p [5, 4] (2 true + 2 null), counts of a top-2 routing ---- */

static const unsigned char AUX_MASK[5] = { 1, 0, 1, 1, 1 };

static void router_aux_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->in[0] = tensor_2d(a, 5, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, 0.05, 1.0);
    ex->n_in = 1;
}

static Tensor *router_aux_apply(Tape *t, const OpExample *ex) {
    static const double counts[4] = { 3, 1, 4, 0 };   /* 4 unmasked rows × top-2 = 8 */
    double coef[4];
    aux_loss_coefs(counts, 2, 2, 2, 4.0, 1, coef);
    return op_router_aux(t, ex->in[0], coef, AUX_MASK);
}

static const OpCase ROUTER_AUX_CASES[] = { { "eq6_masked", router_aux_example, router_aux_apply, NULL } };
const OpInfo OP_ROUTER_AUX = { "router_aux", "load-balancing loss Σ_t Σ_i coef_i p_ti (Switch / AdaMoE Eq. 6)", NULL,
                               OP_CASES(ROUTER_AUX_CASES) };

/* ---- router entropy (mean over unmasked rows) ---- */

typedef struct { const unsigned char *mask; double T; } EntSaved;

/* L = (1/T) Σ_r H_r over the T unmasked rows, H_r = −Σ_i p_ri log p_ri. Each term depends
   on one entry:  ∂(−p log p)/∂p = −(log p + 1),  so
     dp_ri += −(log p_ri + 1) · dy / T
   An entry with p = 0 contributes 0 to H (p log p → 0) but its derivative diverges (−log 0);
   it gets nothing (a softmax only gives 0 by underflow). The "+1" adds the same constant to a
   whole row, which a softmax backward cancels (Σ_j p_j = 1), but p need not come from one. */
static void router_entropy_backward(const TapeEntry *e) {
    const EntSaved *sv = e->saved;
    Tensor *p = e->in[0];
    if (!p->grad || !(sv->T > 0)) return;
    int N = p->shape[0], E = p->shape[1];
    double g = (double)e->out->grad[0] / sv->T;
    for (int r = 0; r < N; r++) {
        if (sv->mask && !sv->mask[r]) continue;
        for (int i = 0; i < E; i++) {
            double v = (double)p->data[(size_t)r * E + i];
            if (v > 0) p->grad[(size_t)r * E + i] += (real)(-(log(v) + 1.0) * g);
        }
    }
}

Tensor *op_router_entropy(Tape *t, Tensor *p, const unsigned char *mask) {
    char sp[64];
    CHECK(p->ndim == 2 && p->data, "router_entropy: p %s must be 2-D [N, E]", tensor_shape_str(p, sp, sizeof sp));
    int N = p->shape[0], E = p->shape[1];
    double h = 0.0, T = 0.0;
    for (int r = 0; r < N; r++) {
        if (mask && !mask[r]) continue;
        T += 1;
        for (int i = 0; i < E; i++) {
            double v = (double)p->data[(size_t)r * E + i];
            if (v > 0) h -= v * log(v);
        }
    }
    Tensor *y = tape_output(t, 1, (int[]){ 1 }, tape_wants_grad(t, 1, &p), "router_entropy");
    y->data[0] = (real)(T > 0 ? h / T : 0.0);
    TapeEntry *e = tape_record(t, "router_entropy", router_entropy_backward, y, 1, &p);
    if (e) {
        EntSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->mask = mask;
        sv->T = T;
        e->saved = sv;
    }
    return y;
}

static Tensor *router_entropy_apply(Tape *t, const OpExample *ex) { return op_router_entropy(t, ex->in[0], AUX_MASK); }

static const OpCase ROUTER_ENTROPY_CASES[] = { { "masked", router_aux_example, router_entropy_apply, NULL } };
const OpInfo OP_ROUTER_ENTROPY = { "router_entropy", "mean over unmasked rows of −Σ_i p_i log p_i", NULL,
                                   OP_CASES(ROUTER_ENTROPY_CASES) };
