/* nn/moe.c — the Mo-LoRA / AdaMoE linear, its router log and the per-layer aux loss (moe.h has
   the full semantics and the routing variants). Only ops here: every gradient comes from the
   tape, nothing is differentiated by hand.

   One routed linear (AdaMoE experiment 1, Zeng et al. 2024; REFERENCE.md §0-§1.1): N rows of
   x [N, in], n true experts (LoRA A_e, B_e) and m null experts, E = n + m, top-k over all E:
     y   = x·Wᵀ                  [N, out]  frozen base output, computed by the caller (lora.c)
     z   = x·W_rᵀ                [N, E]    router logits, W_r [E, in] trainable
     p   = softmax(z)            [N, E]    over ALL E experts, nulls included
     S_t = top-k(p_t)                      which experts row t uses (autograd/routing.h)
     W   = route_weights(z, S)   [N, E]    p renormalised over the selected TRUE experts
                                           (option 2, default) or over all selected (option 1)
     y  += Σ_{e ∈ S_t, e < n} s · W[t,e] · B_e A_e dropout(x_t),   s = alpha / R
   A selected null expert of the default zero kind adds nothing, so it costs nothing: no row is
   gathered for it, no GEMM runs, no memory is taken. The expert compute therefore follows the
   Load (true experts per token), not k: that is where AdaMoE's FLOPs saving comes from.
   On the tape (differentiable): the router op_linear, op_softmax (p feeds the aux and entropy
   losses), op_route_weights (z -> W), the LoRA dropout, op_routed_lora (one op for every true
   expert) and the ops of identity / constant nulls and shared experts. Constants (no
   gradient): the selection S, the pad mask, the row lists. So the task loss reaches the router
   only through W, the weights of the selected experts; the aux loss reaches it through p. */
#include "nn/moe.h"
#include "tensor/comm.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the trainable matrix PREFIX.SUFFIX [rows, cols] */
static Tensor *declare_named(ParamStore *ps, const char *prefix, const char *suffix, int rows, int cols) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return param_declare(ps, name, PARAM_TRAINABLE, 2, (int[]){ rows, cols });
}

/* The adapter of one linear, every tensor trainable (the frozen base weight is the caller's):
     PREFIX.lora_A.{e}.weight [R, in], PREFIX.lora_B.{e}.weight [out, R]   for e < n
     PREFIX.router.weight [n + m, in]                                        one row per expert
     PREFIX.shared_A|B.{j}.weight, PREFIX.null_const.weight [out, m]        when configured
   Zero and identity null experts own no parameters, only their router rows. The sizes are this
   layer's (adapter_moe_layer: MoLA-style per-layer lists); m is 0 unless the kind is adamoe.
   Identity nulls need in == out (the output is a copy of x); elsewhere they act as zero nulls. */
void moe_linear_declare(MoeLinear *m, ParamStore *ps, const char *prefix, int in, int out,
                        const AdapterConfig *cfg_all, MoeState *state, int layer, int module) {
    AdapterConfig layer_cfg = adapter_moe_layer(cfg_all, layer);
    const AdapterConfig *cfg = &layer_cfg;
    memset(m, 0, sizeof *m);
    m->in = in;
    m->out = out;
    m->rank = cfg->rank;
    m->n_true = cfg->n_true;
    m->n_null = cfg->kind == ADAPTER_ADAMOE ? cfg->n_null : 0;
    m->top_k = cfg->top_k;
    m->all_selected = cfg->normalize == MOE_NORM_ALL_SELECTED;
    m->identity_nulls = cfg->null_kind == MOE_NULL_IDENTITY && in == out && m->n_null > 0;
    /* LoRA scaling s = alpha / R; rsLoRA (Kalajdzievski 2023) uses alpha / sqrt(R) */
    m->scaling = (real)(cfg->rslora ? cfg->alpha / sqrt((double)cfg->rank) : cfg->alpha / cfg->rank);
    m->dropout = (real)cfg->dropout;
    m->state = state;
    m->layer = layer;
    m->module = module;
    m->lora_a = xcalloc((size_t)m->n_true, sizeof *m->lora_a);
    m->lora_b = xcalloc((size_t)m->n_true, sizeof *m->lora_b);
    char suffix[64];
    for (int e = 0; e < m->n_true; e++) {
        snprintf(suffix, sizeof suffix, "lora_A.%d.weight", e);
        m->lora_a[e] = declare_named(ps, prefix, suffix, m->rank, in);
        snprintf(suffix, sizeof suffix, "lora_B.%d.weight", e);
        m->lora_b[e] = declare_named(ps, prefix, suffix, out, m->rank);
    }
    m->router = declare_named(ps, prefix, "router.weight", m->n_true + m->n_null, in);
    m->routing = (int)cfg->routing;
    m->top_p = cfg->top_p;
    m->n_shared = cfg->n_shared;
    m->shared_a = xcalloc((size_t)m->n_shared + 1, sizeof *m->shared_a);
    m->shared_b = xcalloc((size_t)m->n_shared + 1, sizeof *m->shared_b);
    for (int j = 0; j < m->n_shared; j++) {
        snprintf(suffix, sizeof suffix, "shared_A.%d.weight", j);
        m->shared_a[j] = declare_named(ps, prefix, suffix, m->rank, in);
        snprintf(suffix, sizeof suffix, "shared_B.%d.weight", j);
        m->shared_b[j] = declare_named(ps, prefix, suffix, out, m->rank);
    }
    if (cfg->null_kind == MOE_NULL_CONSTANT && m->n_null > 0)
        m->null_const = declare_named(ps, prefix, "null_const.weight", out, m->n_null);
    m->pregate = cfg->pregate;
    m->router_frozen = cfg->router_frozen;
    m->freeze_experts = cfg->freeze_experts;
}

void moe_linear_free(MoeLinear *m) {
    free(m->lora_a);
    free(m->lora_b);
    free(m->shared_a);
    free(m->shared_b);
    m->lora_a = m->lora_b = m->shared_a = m->shared_b = NULL;
}

/* PEFT / MoLA initialisation: A_e and the router U(±1/sqrt(in)) (nn.Linear's default), B_e = 0,
   so a fresh adapter adds exactly 0 and the model starts as the base model whatever the routing.
   Draw order: A_0 .. A_{n-1}, the router, then the shared A_j. */
void moe_linear_init(MoeLinear *m, Rng *rng) {
    for (int e = 0; e < m->n_true; e++) {
        rng_fill_kaiming_uniform(rng, m->lora_a[e]->data, m->lora_a[e]->numel, m->in);
        memset(m->lora_b[e]->data, 0, m->lora_b[e]->numel * sizeof(real));
    }
    rng_fill_kaiming_uniform(rng, m->router->data, m->router->numel, m->in);
    for (int j = 0; j < m->n_shared; j++) {   /* after the router: old streams stay the same */
        rng_fill_kaiming_uniform(rng, m->shared_a[j]->data, m->shared_a[j]->numel, m->in);
        memset(m->shared_b[j]->data, 0, m->shared_b[j]->numel * sizeof(real));
    }
    if (m->null_const) memset(m->null_const->data, 0, m->null_const->numel * sizeof(real));
}

/* a parameter's values without its gradient: frozen routers and experts (the ops skip NULL grads) */
static Tensor *no_grad_view(Tape *t, const Tensor *p) {
    Tensor *v = arena_alloc(t->arena, sizeof *v);
    *v = *p;
    v->grad = NULL, v->grad_unset = NULL;
    return v;
}

/* Pre-gating: the router input of module m in this forward, x_{l-1} of the same module if the
   previous layer ran it (else x2, its own: layer 0); x2 is then kept for the next layer. */
static Tensor *router_input(MoeState *st, const MoeLinear *m, Tensor *x2) {
    if (!m->pregate || !st) return x2;
    Tensor *prev = st->pregate_in[m->module];
    int j = m->module, ok = prev && st->pregate_layer[j] == m->layer - 1 && tensor_rows(prev) == tensor_rows(x2);
    CHECK(!ok || tensor_cols(prev) == m->in, "pregate: module %d input %d wide, router %d", j, tensor_cols(prev), m->in);
    st->pregate_in[j] = x2;
    st->pregate_layer[j] = m->layer;
    return ok ? prev : x2;
}

/* y2 [N, out] += Σ over true experts of their weighted LoRA outputs on the routed rows: one op
   (autograd/ops/routed_lora.h) whose cost follows the routing, nothing per expert on the tape.
   xin [N, in] (after dropout), W [N, E]. When y2 is the caller's own fresh tensor (base_owned),
   the experts are added into its storage: no [N, out] copy forward, no gradient add backward. */
static Tensor *add_experts(Tape *t, const MoeLinear *m, Tensor *xin, Tensor *W, const Routing *r, Tensor *y2,
                           const Tensor *base_owned) {
    Tensor **a = m->lora_a, **b = m->lora_b;
    if (m->freeze_experts) {   /* the same values through views without gradient */
        a = arena_alloc(t->arena, 2 * (size_t)m->n_true * sizeof *a);
        b = a + m->n_true;
        for (int e = 0; e < m->n_true; e++) a[e] = no_grad_view(t, m->lora_a[e]), b[e] = no_grad_view(t, m->lora_b[e]);
    }
    return op_routed_lora(t, y2, xin, W, r, a, b, m->scaling, y2 == base_owned);
}

/* identity nulls (MoE++'s "copy" expert): y2 += (Σ_{selected nulls j} W[t, j]) · x_t on every row.
   Under true-only renormalisation a selected null keeps its raw p as weight (route.h), so a row
   that selected nulls gets that much of its input added. wn [N, 1]; x2 is the input before
   dropout: a copy of x, not a LoRA path. Masked rows have W = 0 and get nothing. */
static Tensor *add_identity_nulls(Tape *t, const MoeLinear *m, Tensor *x2, Tensor *W, Tensor *y2) {
    int N = x2->shape[0];
    int *all = arena_alloc(t->arena, (size_t)N * sizeof(int));
    for (int i = 0; i < N; i++) all[i] = i;
    Tensor *wn = op_row_sum_cols(t, W, m->n_true, m->n_null);
    return op_scatter_add_rows(t, y2, x2, all, wn);
}

/* shared experts (DeepSeek-MoE): y2 += s · B_j A_j x on every row, weight 1, not routed;
   constant nulls (MoE++): y2 += W[:, n..E) · Vᵀ with V = null_const [out, m], i.e. each selected
   null j adds its weight times its own trainable vector v_j. */
static Tensor *add_shared_and_const(Tape *t, const MoeLinear *m, Tensor *xin, Tensor *W, Tensor *y2) {
    for (int j = 0; j < m->n_shared; j++)
        y2 = op_add_scaled(t, y2, op_linear(t, op_linear(t, xin, m->shared_a[j]), m->shared_b[j]), m->scaling);
    if (m->null_const) y2 = op_add(t, y2, op_linear(t, op_slice_cols(t, W, m->n_true, m->n_null), m->null_const));
    return y2;
}

/* moe_linear_forward (y_owned = 0) and moe_linear_forward_into (y_owned = 1): the equations
   of the file header, in order. x [..., in] and y_base [..., out] are viewed as [N, in] and
   [N, out]; the result keeps y_base's shape. The routing of this forward is logged in the
   MoeState (for the aux loss, computed after the whole model has run) and counted into its
   statistics. Shape mismatches are programming errors (CHECK). */
static Tensor *linear_forward(Tape *t, const MoeLinear *m, Tensor *x, Tensor *y_base, Rng *drop_rng, int y_owned) {
    int N = (int)tensor_rows(x);
    MoeState *st = m->state;
    CHECK(tensor_cols(x) == m->in && tensor_cols(y_base) == m->out && (int)tensor_rows(y_base) == N,
          "moe_linear: x [%d, %d] / y [%zu, %d] do not match [in %d, out %d]", N, tensor_cols(x),
          tensor_rows(y_base), tensor_cols(y_base), m->in, m->out);
    const unsigned char *mask = NULL;
    if (st && st->row_mask) {
        CHECK(st->mask_rows == N, "moe_linear: row mask has %d rows, input %d", st->mask_rows, N);
        mask = st->row_mask;
    }
    Tensor *x2 = tensor_view(t->arena, x, 2, (int[]){ N, m->in });
    Tensor *y2 = tensor_view(t->arena, y_base, 2, (int[]){ N, m->out });
    Tensor *router = m->router_frozen ? no_grad_view(t, m->router) : m->router;
    Tensor *z = op_linear(t, router_input(st, m, x2), router);   /* [N, E] logits */
    Tensor *p = op_softmax(t, z);                            /* [N, E] over true + null */
    Routing *r = arena_alloc(t->arena, sizeof *r);           /* in the step arena */
    Rng fixed = moe_route_rng(m);
    RouteSpec spec;
    int force = st ? st->stochastic_rule : 0;
    int training = force ? force == 1 : !t->no_grad;   /* forced, else recording tape = training */
    int mode = moe_route_spec(m, training, &spec, drop_rng ? drop_rng : &fixed);
    route_select_rule(t->arena, p, &spec, mask, r);          /* S: a constant, no tape entry */
    if (st && st->observe) st->observe(st->observe_ctx, m->layer, m->module, z, r);
    if (st) {
        st->log[m->layer * MOE_MODULES + m->module] = (MoeRecord){ p, r, NULL, 0, 0 };
        if (st->stats_on) moe_stats_accumulate(&st->stats, m->layer, m->module, p, r);
    }
    /* W from z, not from p: the op stays finite when a selected p underflows (route.c) */
    Tensor *W = op_route_weights(t, z, r, mode);             /* [N, E], 0 off the selection */
    if (st) st->log[m->layer * MOE_MODULES + m->module].w = W;
    Tensor *xin = x2;                                        /* LoRA dropout: training only */
    if (m->dropout > 0 && drop_rng && !t->no_grad) xin = op_dropout(t, x2, m->dropout, drop_rng);
    if (!(st && st->experts_off)) {
        MoeExpertSpan sp = moe_expert_span_begin(st, t);
        y2 = add_experts(t, m, xin, W, r, y2, y_owned ? y2 : NULL);
        if (st) moe_expert_span_end(st, t, sp, &st->log[m->layer * MOE_MODULES + m->module]);
    }
    if (m->identity_nulls) y2 = add_identity_nulls(t, m, x2, W, y2);
    y2 = add_shared_and_const(t, m, xin, W, y2);
    return tensor_view(t->arena, y2, y_base->ndim, y_base->shape);
}

Tensor *moe_linear_forward(Tape *t, const MoeLinear *m, Tensor *x, Tensor *y_base, Rng *drop_rng) {
    return linear_forward(t, m, x, y_base, drop_rng, 0);
}

Tensor *moe_linear_forward_into(Tape *t, const MoeLinear *m, Tensor *x, Tensor *y, Rng *drop_rng) {
    return linear_forward(t, m, x, y, drop_rng, 1);
}

/* ---- state: the per-forward router log and the statistics ---- */

/* The log has one slot per (layer, module), MOE_MODULES per layer (q, k, v, o, gate, up, down;
   a Mixtral FFN router uses slot MOE_FFN_SLOT). The statistics keep each layer's own n, m and
   k (per-layer lists); the model-level n, m, k are the maxima over the layers. */
MoeState *moe_state_new(const AdapterConfig *acfg, int n_layers) {
    MoeState *s = xcalloc(1, sizeof *s);
    s->acfg = *acfg;
    s->n_layers = n_layers;
    s->log = xcalloc((size_t)n_layers * MOE_MODULES, sizeof *s->log);
    s->aux_per_layer = xcalloc((size_t)n_layers, sizeof *s->aux_per_layer);
    s->stats.n_layers = n_layers;
    s->stats.n_true = acfg->n_true;
    s->stats.n_null = acfg->kind == ADAPTER_ADAMOE ? acfg->n_null : 0;
    s->stats.top_k = acfg->top_k;
    s->stats.n_shared = acfg->n_shared;
    s->stats.layer_true = xcalloc((size_t)n_layers * 3, sizeof(int));
    s->stats.layer_null = s->stats.layer_true + n_layers;
    s->stats.layer_k = s->stats.layer_null + n_layers;
    for (int l = 0; l < n_layers; l++) {   /* per-layer lists: the model-level sizes are the maxima */
        AdapterConfig c = adapter_moe_layer(acfg, l);
        s->stats.layer_true[l] = c.n_true;
        s->stats.layer_null[l] = acfg->kind == ADAPTER_ADAMOE ? c.n_null : 0;
        s->stats.layer_k[l] = c.top_k;
        if (c.n_true > s->stats.n_true) s->stats.n_true = c.n_true;
        if (s->stats.layer_null[l] > s->stats.n_null) s->stats.n_null = s->stats.layer_null[l];
        if (c.top_k > s->stats.top_k) s->stats.top_k = c.top_k;
    }
    s->stats.k_baseline = acfg->k_baseline > 0 ? acfg->k_baseline : 2.0;
    s->stats.mod = xcalloc((size_t)n_layers * MOE_MODULES, sizeof *s->stats.mod);
    s->stats_on = 1;
    s->dp_sums = xcalloc((size_t)n_layers * (MOE_MAX_EXPERTS + 1) + 1, sizeof *s->dp_sums);
    return s;
}

void moe_state_free(MoeState *s) {
    if (!s) return;
    free(s->log);
    free(s->aux_per_layer);
    free(s->stats.mod);
    free(s->stats.layer_true);
    free(s->dp_sums);
    free(s);
}

/* Every forward overwrites the slots it routes; clearing first means a module that did not
   run this time (e.g. not targeted) cannot leave a stale record for the aux loss. */
void moe_forward_begin(MoeState *s, const unsigned char *row_mask, int n_rows) {
    memset(s->log, 0, (size_t)s->n_layers * MOE_MODULES * sizeof *s->log);
    memset(s->pregate_in, 0, sizeof s->pregate_in);
    s->row_mask = row_mask;
    s->mask_rows = n_rows;
    s->dp_ready = 0;
}

/* The pooled (counts, rows) of `layer` in this forward: the rank's own, or with global_counts
   the global batch's, summed over the ranks once per forward (all layers and the forward's
   unmasked rows in one comm_sum_f64, the same call on every rank: the control flow up to here
   depends on the configuration only). Returns the pooled rows T. */
static double layer_counts(MoeState *s, int layer, double *counts) {
    int stride = MOE_MAX_EXPERTS + 1;
    if (s->global_counts && s->dp_ready) {
        memcpy(counts, s->dp_sums + (size_t)layer * stride, MOE_MAX_EXPERTS * sizeof *counts);
        return s->dp_sums[(size_t)layer * stride + MOE_MAX_EXPERTS];
    }
    memset(counts, 0, MOE_MAX_EXPERTS * sizeof *counts);
    double T = 0;
    const MoeRecord *rec = s->log + layer * MOE_MODULES;
    for (int j = 0; j < MOE_MODULES; j++) {
        if (!rec[j].p) continue;
        T += rec[j].r->n_rows;
        for (int i = 0; i < rec[j].r->E; i++) counts[i] += rec[j].r->count[i];
    }
    return T;
}

static void sum_counts_over_ranks(MoeState *s) {
    if (!s->global_counts || s->dp_ready) return;
    int stride = MOE_MAX_EXPERTS + 1;
    for (int l = 0; l < s->n_layers; l++)
        s->dp_sums[(size_t)l * stride + MOE_MAX_EXPERTS] = layer_counts(s, l, s->dp_sums + (size_t)l * stride);
    double rows = 0;   /* the forward's unmasked rows: what each router's entropy averages over */
    for (int r = 0; r < s->mask_rows; r++) rows += !s->row_mask || s->row_mask[r];
    s->dp_sums[(size_t)s->n_layers * stride] = rows;
    comm_sum_f64(s->dp_sums, (size_t)s->n_layers * stride + 1);
    s->dp_ready = 1;
}

/* The load-balancing loss of one layer (AdaMoE Eq. 6 as the official exp_1 code computes it,
   REFERENCE.md §1.3): the layer's routed modules are POOLED, as if their T rows were one batch,
     c_i = Σ_modules (row, slot) assignments of expert i,   T = Σ_modules unmasked rows
     L   = E · Σ_i f̃_i P_i,   f_i = c_i / (kT),   P_i = mean_t p_ti over the pooled rows
   with f̃ = f, except that under Eq. 6 every null expert gets the MEAN null f (nulls are
   balanced as one group, never against each other). f is a count, a constant, so L is linear
   in p: L = Σ_t Σ_i coef_i p_ti with coef_i = E f̃_i / T (aux_loss.h). The coefficients come
   from the pooled counts; the sum is one op_router_aux per module. NULL if nothing was routed. */
static Tensor *layer_aux(Tape *t, MoeState *s, int layer) {
    const AdapterConfig *a = &s->acfg;
    int n = s->stats.layer_true[layer], m = s->stats.layer_null[layer], E = n + m;
    double counts[MOE_MAX_EXPERTS], coef[MOE_MAX_EXPERTS];
    double T = layer_counts(s, layer, counts);
    if (!(T > 0)) return NULL;
    int k = s->k_now > 0 && s->k_now < E ? s->k_now : s->k_now > 0 ? E : s->stats.layer_k[layer];
    aux_loss_coefs(counts, n, m, k, T, a->aux == MOE_AUX_EQ6, coef);
    Tensor *sum = NULL;
    const MoeRecord *rec = s->log + layer * MOE_MODULES;
    for (int j = 0; j < MOE_MODULES; j++) {
        if (!rec[j].p) continue;
        Tensor *l = op_router_aux(t, rec[j].p, coef, s->row_mask);
        sum = sum ? op_add(t, sum, l) : l;
    }
    return sum;
}

/* Σ_layers L_l (summed, not averaged, as exp_1); the caller scales it by aux_coef. Balanced
   under Eq. 6, each of the n + m experts gets 1/(n+m) of the assignments, so Load approaches
   k·n/(n+m) (REFERENCE.md §0's sanity check: m5k4 -> 1.78). */
Tensor *moe_aux_loss(Tape *t, MoeState *s) {
    memset(s->aux_per_layer, 0, (size_t)s->n_layers * sizeof *s->aux_per_layer);
    if (s->acfg.aux == MOE_AUX_NONE) return NULL;
    sum_counts_over_ranks(s);
    Tensor *total = NULL;
    for (int l = 0; l < s->n_layers; l++) {
        Tensor *la = layer_aux(t, s, l);
        if (!la) continue;
        s->aux_per_layer[l] = (double)la->data[0];
        total = total ? op_add(t, total, la) : la;
    }
    return total;
}

/* Top-p routing's dynamic loss (Huang et al. 2024): entropy_coef · Σ over every routed module
   of the mean router entropy H = -Σ_i p_i log p_i. Lowering H makes the router confident, so
   top-p needs fewer experts to reach its mass. NULL when entropy_coef is 0. */
Tensor *moe_entropy_loss(Tape *t, MoeState *s) {
    if (!(s->acfg.entropy_coef > 0)) return NULL;
    double share = 1;   /* a shard's share of the global mean: its rows / the global rows */
    if (s->global_counts) {
        sum_counts_over_ranks(s);
        double rows = 0, all = s->dp_sums[(size_t)s->n_layers * (MOE_MAX_EXPERTS + 1)];
        for (int r = 0; r < s->mask_rows; r++) rows += !s->row_mask || s->row_mask[r];
        share = all > 0 ? rows / all : 0;
    }
    Tensor *total = NULL;
    for (int i = 0; i < s->n_layers * MOE_MODULES; i++) {
        if (!s->log[i].p) continue;
        Tensor *h = op_router_entropy(t, s->log[i].p, s->row_mask);
        total = total ? op_add(t, total, h) : h;
    }
    return total ? op_scale(t, total, (real)(s->acfg.entropy_coef * share)) : NULL;
}
