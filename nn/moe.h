/* nn/moe.h — a mixture of LoRA experts on a frozen linear layer (Mo-LoRA, MoLA-style) and its
   AdaMoE form with null experts; the per-forward router log, the Eq. 6 loss and router statistics.
   defines: MoeLinear, MoeModuleStats, MoeStats, MoeSummary, MoeState, MOE_MODULES,
            moe_linear_declare, moe_linear_init, moe_linear_forward, moe_linear_forward_into, moe_route_spec,
            moe_route_rng, moe_state_new, moe_state_free,
            moe_forward_begin, moe_aux_loss, moe_stats_reset, moe_stats_accumulate, moe_summary_module,
            moe_summary_layer, moe_summary_model, MoeExpertSpan, moe_expert_span_begin, moe_expert_span_end
   Semantics (ARCHITECTURE.md "AdaMoE semantics", REFERENCE.md §1; torch_ref.py `route`,
   `Forward.linear`, `aux_loss_from_probs`, `layer_stats` are the executable spec):
     y = x·Wᵀ + Σ_{e ∈ S_t, e < n} w_e · s · B_e A_e dropout(x)  (+ w_null·x for identity nulls)
     p = softmax(x·W_rᵀ) over all E = n + m experts, S_t = top-k(p) (ties → lower index),
     w per route.h (true-only = AdaMoE option 2, default; all-selected = option 1), s = alpha/r.
   W_r [E, in] and A_e [r, in] are U(±1/sqrt(in)); B_e [out, r] zero. Names (ParamStore; PEFT
   files add "base_model.model."): PREFIX.lora_A.{e}.weight, PREFIX.lora_B.{e}.weight,
   PREFIX.router.weight. Compute follows the routing: for each TRUE expert the rows routed to it
   are gathered, run through A_e and B_e, scaled by their weights and scatter-added into y; null
   experts (zero kind) cost nothing.
   Padding: moe_forward_begin() may pass a row mask; masked rows (pads) are routed to no expert
   (base output only) and are left out of the statistics and of the aux loss. The official code
   does not mask pads (REFERENCE.md §1.3) — a deliberate deviation: with right padding a pad row
   never influences a real row, and torch_ref's tokens.json has no pads, so parity is unaffected.
   Aux loss per layer pooled over the layer's routed modules, summed over layers (aux_loss.h).
   Routing variants (AdapterConfig.routing; all through route_select_rule / op_route_weights):
     topk           the above (default)
     top-p          smallest set with mass >= top_p over true + null, weights = raw p (no
                    renormalisation); optional entropy loss entropy_coef · Σ_modules mean H(p)
     dense          LoRAMoE: every expert, weights = raw p (the softmax over all experts)
     stochastic     THOR: training (tape records gradients) = one uniformly random TRUE expert per
                    token with weight 1 (router unused, gets no gradient); evaluation (no-grad
                    tape) = the average of all true experts (weight 1/n each) — for linear LoRA
                    experts that is the expected training output. Random source: drop_rng, or a
                    fixed stream per (layer, module) when drop_rng is NULL (gradchecks).
     expert-choice  each true expert takes its ceil(k·T/n) highest-scoring tokens of the batch,
                    weights = raw p. NON-CAUSAL (a token's experts depend on later tokens): for
                    scoring / classification, not for generation. Null experts are never chosen
                    (constant nulls then get no gradient; the train command says so).
   Aux loss under the rules with a variable number of experts per token (top-p, dense,
   expert-choice): f_i = c_i / (k·T) keeps the configured k, so k only scales the loss there;
   under dense routing every c_i = T and the loss is the constant E/k (no gradient).
   Null kinds (MoE++): zero, identity (copy: w·x), constant (a trainable vector v_j per null
   expert j: PREFIX.null_const.weight [out, m], zero-initialised; adds Σ_j w_j v_j).
   Shared experts (DeepSeek-MoE): n_shared LoRA experts on every token with weight 1
   (PREFIX.shared_A.{j}.weight, PREFIX.shared_B.{j}.weight); they are not in the Load, which
   counts routed TRUE experts; %FLOPs saved = 1 - (Load + n_shared) / k_baseline.
   Data-parallel runs (global_counts): the aux loss is a property of the GLOBAL batch, so each
   rank's (counts, rows) per layer are summed over the ranks BEFORE the coefficients are formed;
   a rank's aux is then Σ over ITS rows of coef_i p_ti (coef from the global counts and rows),
   and the ranks' values and gradients add up to one process's. The entropy loss divides by the
   global row count the same way. moe_aux_loss / moe_entropy_loss are then collective.
   The field around AdaMoE (same code path; adapter_config.json keys in nn/adapter_moe.h):
     pregate        Pre-gated MoE (Hwang et al. 2024): the router of module j in layer l >= 1 reads
                    x_{l-1,j}, the input module j had in layer l-1 in this forward, instead of its
                    own input (z = x_{l-1,j}·W_rᵀ; the experts still run on x_{l,j}), so a layer's
                    experts are known one layer ahead. Layer 0 has no predecessor: it routes on its
                    own input (the paper's first block keeps a conventional gate). The task loss
                    reaches x_{l-1,j} through the routing weights (the gradient is exact).
     router_frozen  SMoE-Dropout (Chen et al. 2023): the router keeps its random initialisation;
                    it is used through a view without gradient, so it is never updated (routers
                    get no weight decay either) and the aux loss has nothing to train (the CLI
                    turns it off). The number of active experts grows with MoeState.k_now.
     freeze_experts the routed LoRA experts are used without gradient (experts initialised from
                    existing adapters, nn/adapter_experts.h); routers, shared experts and constant
                    nulls still train. */
#ifndef MOE_H
#define MOE_H
#include "nn/param_store.h"
#include "nn/model_config.h"
#include "autograd/ops/route.h"
#include "nn/route_rules.h"
#include "tensor/rng.h"

#define MOE_MODULES 7   /* routed linears per layer: q, k, v, o, gate, up, down (LORA_TARGET_* bit order) */

typedef struct MoeState MoeState;

typedef struct {
    int in, out, rank, n_true, n_null, top_k;
    int all_selected;        /* normalisation option 1 */
    int identity_nulls;      /* null_kind identity and in == out */
    int routing;             /* MoeRouting */
    double top_p;
    int n_shared;
    Tensor **shared_a, **shared_b;   /* [n_shared] [R, in] / [out, R] */
    Tensor *null_const;      /* constant null experts [out, n_null] or NULL */
    real scaling, dropout;
    Tensor *router;          /* [n_true + n_null, in] */
    Tensor **lora_a;         /* [n_true] tensors [R, in] */
    Tensor **lora_b;         /* [n_true] tensors [out, R] */
    MoeState *state;         /* where its router records and statistics go */
    int layer, module;       /* its slot in the state */
    int pregate, router_frozen, freeze_experts;   /* AdapterConfig's (header: "The field") */
} MoeLinear;

/* Declares router and expert banks under PREFIX (the base weight is declared by the caller). */
void moe_linear_declare(MoeLinear *m, ParamStore *ps, const char *prefix, int in, int out,
                        const AdapterConfig *cfg, MoeState *state, int layer, int module);
void moe_linear_free(MoeLinear *m);
/* A_e and the router ~ U(±1/sqrt(in)) from rng (per expert A_e, B_e; then the router), B_e = 0 */
void moe_linear_init(MoeLinear *m, Rng *rng);
/* y_base [..., out] = x·Wᵀ already computed; returns y_base + the experts' output (a new
   tensor). x [..., in]. */
Tensor *moe_linear_forward(Tape *t, const MoeLinear *m, Tensor *x, Tensor *y_base, Rng *drop_rng);
/* The same, with the experts added INTO y's own storage and gradient, for a y that is the
   caller's fresh tensor that nothing else reads (no [N, out] copy forward nor gradient add
   backward); returns y (a view of it). */
Tensor *moe_linear_forward_into(Tape *t, const MoeLinear *m, Tensor *x, Tensor *y, Rng *drop_rng);
/* The routing of m in one forward: the selection rule into *spec (k after the state's k_now,
   top_p, rng for the stochastic training rule) and the weight mode (ROUTE_W_*) as the return
   value; training picks the stochastic rule's training form. The forward above and the decode
   step (nn/generate_routed.c) both route through it. */
int moe_route_spec(const MoeLinear *m, int training, RouteSpec *spec, Rng *rng);
/* the stream the stochastic training rule draws from when the caller gives no rng (fixed per
   (layer, module), so two forwards route identically) */
Rng moe_route_rng(const MoeLinear *m);

/* Router statistics of one module, summed over every forward since the last reset. */
typedef struct {
    double tokens;           /* routed rows (pads excluded) */
    double true_sum;         /* Σ_rows number of selected TRUE experts */
    double bypass;           /* rows with no true expert */
    double entropy_sum;      /* Σ_rows -Σ_i p_i log p_i */
    double counts[MOE_MAX_EXPERTS];   /* (row, slot) assignments per expert */
    double true_hist[MOE_MAX_EXPERTS + 1];   /* rows with j = 0..k true experts */
} MoeModuleStats;

typedef struct {
    int n_layers, n_true, n_null, top_k;
    double k_baseline;
    MoeModuleStats *mod;     /* [n_layers * MOE_MODULES]; tokens == 0 for modules not routed */
    int n_shared;            /* always-on shared experts (last: positional initialisers stay valid) */
    int *layer_true, *layer_null, *layer_k;   /* [n_layers] per-layer sizes (NULL: the scalars);
                                                 the scalars above are then the maxima */
} MoeStats;

typedef struct {
    double tokens;
    double load;             /* mean number of TRUE experts per token */
    double flops_saved;      /* 1 - (load + shared) / k_baseline */
    double shared;           /* always-on shared experts per token (not in load) */
    double null_fraction;    /* Σ_null c_i / (kT) */
    double bypass_fraction;  /* tokens with 0 true experts / T */
    double entropy;          /* mean router entropy (nats) */
    double expert_fraction[MOE_MAX_EXPERTS];   /* raw c_i / (kT), true then null */
    double true_hist[MOE_MAX_EXPERTS + 1];      /* fraction of tokens with j true experts */
    int n_experts;
} MoeSummary;

/* one router's routing in the current forward: p [N, E] probabilities, r the selection, w [N, E]
   the mixing weights as applied (op_route_weights; set once computed, NULL before);
   [tape_begin, tape_end) the tape entries of its routed experts (empty when nothing recorded) */
typedef struct { Tensor *p; const Routing *r; Tensor *w; int tape_begin, tape_end; } MoeRecord;

struct MoeState {
    AdapterConfig acfg;
    int n_layers;
    MoeRecord *log;                   /* [n_layers * MOE_MODULES] of the current forward */
    const unsigned char *row_mask;    /* [N] of the current forward (NULL: every row) */
    int mask_rows;
    double *aux_per_layer;            /* [n_layers], set by moe_aux_loss */
    MoeStats stats;
    int stats_on;                     /* accumulate statistics (default 1) */
    int keep_log;                     /* 1: a no-grad forward keeps every record whole (`route` reads
                                         the selections and weights afterwards); 0 (default): each
                                         layer is rewound and only p and the counts of its records
                                         survive, enough for the aux / entropy losses (recompute.h) */
    int stochastic_rule;              /* stochastic routing: 0 = by the tape (no-grad → eval rule),
                                         1 = always the training rule, 2 = always the eval rule */
    int experts_off;                  /* measurement: routers, statistics and aux loss run, the routed
                                         experts (LoRA experts, MoE FFN experts) are skipped (bench:
                                         the non-expert share) */
    double (*expert_clock)(void);     /* measurement (bench): when set, expert_fwd_seconds sums this
                                         clock over the routed experts' forward work */
    double expert_fwd_seconds;
    int global_counts;                /* data-parallel training (optim/trainer.c): the aux and entropy
                                         losses use the counts of the GLOBAL batch, summed over the
                                         ranks first (tensor/comm.h; collective) */
    double *dp_sums;                  /* [n_layers*(MOE_MAX_EXPERTS+1) + 1] those sums: per layer the
                                         pooled counts then the pooled rows; last, the forward's rows */
    int dp_ready;                     /* dp_sums hold this forward's sums */
    int k_now;                        /* > 0: every top-k router uses min(k_now, E) for now (the
                                         trainer's --top-k-schedule), else its layer's k */
    Tensor *pregate_in[MOE_MODULES];  /* pre-gating: each module's input in the last layer that ran */
    int pregate_layer[MOE_MODULES];   /* ... and that layer */
    /* called after every routed linear selects (calibration, e.g. `merge-experts`): z [N, E] the
       router logits, r the selection (r->mask: pads) */
    void (*observe)(void *ctx, int layer, int module, const Tensor *z, const Routing *r);
    void *observe_ctx;
};

/* the routed experts' forward: timed by st->expert_clock when set, its tape span recorded */
typedef struct { double t0; int n0; } MoeExpertSpan;
static inline MoeExpertSpan moe_expert_span_begin(const MoeState *st, const Tape *t) {
    MoeExpertSpan s = { st && st->expert_clock ? st->expert_clock() : 0, t->n };
    return s;
}
static inline void moe_expert_span_end(MoeState *st, const Tape *t, MoeExpertSpan s, MoeRecord *rec) {
    if (!st) return;
    if (st->expert_clock) st->expert_fwd_seconds += st->expert_clock() - s.t0;
    rec->tape_begin = s.n0;
    rec->tape_end = t->n;
}

MoeState *moe_state_new(const AdapterConfig *acfg, int n_layers);
void moe_state_free(MoeState *s);
/* Starts a forward pass: forgets the previous records; row_mask [n_rows] (1 = real token) or NULL.
   The mask must stay alive until the backward has run (put it in the step arena). */
void moe_forward_begin(MoeState *s, const unsigned char *row_mask, int n_rows);
/* Σ_layers aux of the current forward as a scalar tensor (NULL if aux is none or nothing was
   routed); fills s->aux_per_layer with each layer's value. */
Tensor *moe_aux_loss(Tape *t, MoeState *s);
/* entropy_coef · Σ over routed modules of the mean router entropy (NULL when entropy_coef is 0) */
Tensor *moe_entropy_loss(Tape *t, MoeState *s);

void moe_stats_reset(MoeStats *st);
/* Sums every rank's statistics (tensor/comm.h; collective): afterwards each rank holds the
   statistics of the global batch (every sum is raw, so pooling ranks is exact). */
void moe_stats_sum_ranks(MoeStats *st);
/* Adds one module's routing of one forward: p [N, E] probabilities, r its selection. */
void moe_stats_accumulate(MoeStats *st, int layer, int module, const Tensor *p, const Routing *r);
void moe_summary_module(const MoeStats *st, int layer, int module, MoeSummary *out);
/* pooled over the layer's routed modules */
void moe_summary_layer(const MoeStats *st, int layer, MoeSummary *out);
/* model level: mean over the layers that saw tokens (load, fractions, entropy) */
void moe_summary_model(const MoeStats *st, MoeSummary *out);

#endif
