/* cli/adapter_options.c — the shared adapter options (see adapter_options.h). */
#include "cli/adapter_options.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void adapter_options_default(AdapterOptions *o) {
    memset(o, 0, sizeof *o);
    o->adapter = "lora";
    o->targets = "all";
    o->rank = 8; o->alpha = 16; o->dropout = 0;
    o->experts = 4; o->n_null = 4; o->top_k = 0;
    o->experts_s = "4"; o->null_s = "4"; o->top_k_s = "0"; o->rank_s = "8";
    o->normalize = "true-only"; o->null_kind = "zero"; o->aux = "eq6"; o->aux_schedule = "const";
    o->aux_coef = 0.001; o->aux_coef_end = 0; o->k_baseline = 2;
    o->routing = "topk"; o->top_p = 0.4;
    o->gate2_init = "copy"; o->upcycle = 0;
    o->router = "learned";
}

int adapter_options_flags(AdapterOptions *o, Flag *f) {
    Flag t[] = {
        { "adapter", FLAG_STRING, &o->adapter, "lora | molora | adamoe | moe-ffn | full | none (none: the base model only)", 0 },
        { "experts", FLAG_STRING, &o->experts_s, "molora/adamoe: LoRA experts per adapted linear (true experts); one value or one per layer: 2,2,4,4", 0 },
        { "null", FLAG_STRING, &o->null_s, "adamoe / moe-ffn: null experts per router (molora: ignored); one value or one per layer", 0 },
        { "top-k", FLAG_STRING, &o->top_k_s, "experts chosen per token over true + null (0 = 2 for molora, 4 for adamoe); one value or one per layer", 0 },
        { "normalize", FLAG_STRING, &o->normalize, "true-only (renormalise over selected true experts) | all-selected", 0 },
        { "null-kind", FLAG_STRING, &o->null_kind, "zero | identity (copy; only where in == out) | constant (trainable vector, MoE++)", 0 },
        { "routing", FLAG_STRING, &o->routing, "topk | top-p (mass >= --top-p, no renormalisation) | dense (LoRAMoE) | stochastic (THOR: random expert in training, average at eval) | expert-choice (NON-CAUSAL: experts pick tokens; scoring only)", 0 },
        { "top-p", FLAG_DOUBLE, &o->top_p, "top-p routing threshold", 0 },
        { "entropy-coef", FLAG_DOUBLE, &o->entropy_coef, "router-entropy loss coefficient (top-p routing)", 0 },
        { "shared-experts", FLAG_INT, &o->shared_experts, "always-on shared LoRA experts (DeepSeek), weight 1, not counted in Load", 0 },
        { "aux", FLAG_STRING, &o->aux, "load-balancing loss: eq6 (nulls grouped) | vanilla | none", 0 },
        { "aux-coef", FLAG_DOUBLE, &o->aux_coef, "aux-loss coefficient (start value of a schedule)", 0 },
        { "aux-schedule", FLAG_STRING, &o->aux_schedule, "const | linear (aux-coef -> aux-coef-end) | epoch (--aux-coefs per epoch)", 0 },
        { "aux-coef-end", FLAG_DOUBLE, &o->aux_coef_end, "final coefficient of the linear schedule", 0 },
        { "aux-coefs", FLAG_STRING, &o->aux_coefs, "per-epoch coefficients c1,c2,... (last repeats)", 0 },
        { "k-baseline", FLAG_DOUBLE, &o->k_baseline, "top-k of the dense baseline for %FLOPs saved = 1 - Load/k", 0 },
        { "gate2-init", FLAG_STRING, &o->gate2_init, "moe-ffn: null-expert router gate2 init copy | zeros | random", 0 },
        { "upcycle", FLAG_INT, &o->upcycle, "moe-ffn on a dense model: each FFN becomes this many experts", 0 },
        { "rank", FLAG_STRING, &o->rank_s, "LoRA rank r (molora/adamoe: one value or one per layer)", 0 },
        { "alpha", FLAG_DOUBLE, &o->alpha, "LoRA alpha (scaling alpha/r)", 0 },
        { "rslora", FLAG_BOOL, &o->rslora, "rank-stabilised scaling alpha/sqrt(r)", 0 },
        { "dropout", FLAG_DOUBLE, &o->dropout, "LoRA dropout", 0 },
        { "router", FLAG_STRING, &o->router, "learned | frozen-random (SMoE-Dropout, Chen et al. 2023: the random init stays; no aux loss)", 0 },
        { "pregate", FLAG_BOOL, &o->pregate, "Pre-gated MoE (Hwang et al. 2024): layer l's routers read layer l-1's input (layer 0: its own)", 0 },
        { "freeze-experts", FLAG_BOOL, &o->freeze_experts, "the routed LoRA experts are not trained (e.g. with --experts-from)", 0 },
        { "targets", FLAG_STRING, &o->targets, "adapted linears: q,k,v,o,gate,up,down or all (+ router: the Mixtral router; moe-ffn: also none = gate2 only)", 0 },
    };
    _Static_assert(sizeof t / sizeof t[0] == ADAPTER_OPTIONS_N_FLAGS, "ADAPTER_OPTIONS_N_FLAGS is the table's size");
    memcpy(f, t, sizeof t);
    return ADAPTER_OPTIONS_N_FLAGS;
}

/* "4" or "2,2,4,4": the first value into *first, the list into vals (n = 1 for one value) */
static Status one_list(const char *s, const char *what, int lo, int *first, int *vals, int *n, Error *err) {
    Status st = int_list_parse(s, what, lo, vals, n, err);
    if (!st) *first = vals[0];
    return st;
}

Status adapter_options_lists(AdapterOptions *o, AdapterConfig *a, Error *err) {
    int n[4], *lists[4] = { a->layer_n_true, a->layer_n_null, a->layer_top_k, a->layer_rank };
    Status s = one_list(o->experts_s, "experts", 1, &o->experts, lists[0], &n[0], err);
    if (!s) s = one_list(o->null_s, "null", 0, &o->n_null, lists[1], &n[1], err);
    if (!s) s = one_list(o->top_k_s, "top-k", 0, &o->top_k, lists[2], &n[2], err);
    if (!s) s = one_list(o->rank_s, "rank", 0, &o->rank, lists[3], &n[3], err);
    if (s) return s;
    int len = 1;
    for (int i = 0; i < 4; i++) {
        if (n[i] == 1) continue;
        if (len > 1 && n[i] != len)
            return error_set(err, STATUS_INVALID, "give every per-layer list one value per layer",
                             "per-layer lists of different lengths (%d and %d values)", len, n[i]);
        len = n[i];
    }
    a->n_layer_values = len > 1 ? len : 0;
    for (int i = 0; i < 4 && len > 1; i++)   /* a single value fills every layer */
        for (int l = 1; l < len; l++) lists[i][l] = n[i] == 1 ? lists[i][0] : lists[i][l];
    for (int i = 0; i < 4 && len <= 1; i++) memset(lists[i], 0, MOE_MAX_LAYERS * sizeof(int));
    return STATUS_OK;   /* entries 0 (top-k 0) mean the scalar / the kind's default */
}

Status adapter_options_aux_coef0(const AdapterOptions *o, double *coef, Error *err) {
    *coef = o->aux_coef;
    if (!strcmp(o->aux_schedule, "const")) return STATUS_OK;
    if (!strcmp(o->aux_schedule, "linear"))
        return o->aux_coef_end >= 0 ? STATUS_OK
                                    : error_set(err, STATUS_INVALID, NULL, "--aux-coef-end must be >= 0, got %g", o->aux_coef_end);
    if (strcmp(o->aux_schedule, "epoch"))
        return error_set(err, STATUS_INVALID, "use const, linear or epoch", "unknown --aux-schedule '%s'", o->aux_schedule);
    if (!o->aux_coefs) return error_set(err, STATUS_INVALID, "e.g. --aux-coefs 0.01,0.001", "--aux-schedule epoch needs --aux-coefs");
    for (const char *p = o->aux_coefs;; p++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v >= 0) || isinf(v))
            return error_set(err, STATUS_INVALID, "give non-negative numbers separated by commas, e.g. 0.01,0.001",
                             "--aux-coefs: bad coefficient list '%s' at '%s'", o->aux_coefs, p);
        if (p == o->aux_coefs) *coef = v;
        p = end;
        if (!*p) return STATUS_OK;
    }
}

/* the enum-valued options, checked whatever the kind (a typo is never ignored) */
static Status parse_names(const AdapterOptions *o, AdapterConfig *v, Error *err) {
    double coef0;
    Status s = moe_normalize_parse(o->normalize, &v->normalize, err);
    if (!s) s = moe_null_kind_parse(o->null_kind, &v->null_kind, err);
    if (!s) s = moe_routing_parse(o->routing, &v->routing, err);
    if (!s) s = moe_aux_kind_parse(o->aux, &v->aux, err);
    if (!s) s = moe_gate2_init_parse(o->gate2_init, &v->gate2_init, err);
    if (!s) s = adapter_options_aux_coef0(o, &coef0, err);
    if (!s && strcmp(o->router, "learned") && strcmp(o->router, "frozen-random") && strcmp(o->router, "frozen_random"))
        s = error_set(err, STATUS_INVALID, NULL, "--router must be learned or frozen-random, got '%s'", o->router);
    return s;
}

/* kind, targets and the LoRA scalars (rank = the first value of --rank) */
static Status lora_part(const AdapterOptions *o, AdapterConfig *a, Error *err) {
    Status s = adapter_kind_parse(o->adapter, &a->kind, err);
    if (s) return s;
    if (a->kind == ADAPTER_MOE_FFN && !strcmp(o->targets, "none")) a->targets = 0;
    else if ((s = lora_targets_parse(o->targets, &a->targets, err))) return s;
    a->rank = o->rank;
    a->alpha = o->alpha;
    a->rslora = o->rslora;
    a->dropout = o->dropout;
    int lora = a->kind == ADAPTER_LORA || (adapter_is_routed(a) && a->targets);
    if (lora && (a->rank < 1 || a->rank > 4096))
        return error_set(err, STATUS_INVALID, NULL, "--rank must be in 1..4096 for %s, got %d", o->adapter, a->rank);
    if (lora && !(a->alpha > 0)) return error_set(err, STATUS_INVALID, NULL, "--alpha must be > 0, got %g", a->alpha);
    if (!(o->dropout >= 0 && o->dropout < 1)) return error_set(err, STATUS_INVALID, NULL, "--dropout must be in [0, 1)");
    return moe_ffn_options(a, NULL, o->upcycle, o->gate2_init, err);
}

Status adapter_options_config(const AdapterOptions *o, const ModelConfig *c, AdapterConfig *a, Error *err) {
    memset(a, 0, sizeof *a);
    AdapterOptions oc = *o;
    AdapterConfig names;
    Status s = parse_names(o, &names, err);
    if (!s) s = adapter_options_lists(&oc, a, err);
    if (!s) s = lora_part(&oc, a, err);
    if (s) return s;
    if (!adapter_is_routed(a)) {
        if (a->n_layer_values)
            return error_set(err, STATUS_INVALID, "give single values for --adapter lora", "per-layer lists are for "
                             "--adapter molora / adamoe, not %s", o->adapter);
        return STATUS_OK;
    }
    adapter_moe_defaults(a);                                   /* scalars only: the lists stay */
    a->n_true = oc.upcycle > 0 ? oc.upcycle : oc.experts;
    if (a->kind == ADAPTER_MOE_FFN && c && c->n_experts > 0) a->n_true = c->n_experts;
    a->n_null = a->kind != ADAPTER_MOLORA ? oc.n_null : 0;
    if (oc.top_k > 0) a->top_k = oc.top_k;
    a->normalize = names.normalize;
    a->null_kind = names.null_kind;
    a->routing = names.routing;
    a->aux = names.aux;
    a->top_p = o->top_p;
    a->entropy_coef = o->entropy_coef;
    a->n_shared = o->shared_experts;
    a->aux_coef = o->aux_coef;
    a->k_baseline = o->k_baseline;
    a->pregate = o->pregate;
    a->freeze_experts = o->freeze_experts;
    a->router_frozen = strcmp(o->router, "learned") != 0;
    if (a->router_frozen) a->aux = MOE_AUX_NONE;   /* SMoE-Dropout: nothing to balance */
    if (c) s = adapter_moe_check_layers(a, c->n_layers, err);
    else s = adapter_moe_validate(a, err);
    return s || !c ? s : moe_ffn_check_model(c, a, "the model", err);
}

/* "v0,v1,..." of one per-layer field (k: 0 experts, 1 null, 2 top-k, 3 rank) over n layers */
static const char *layer_list(const AdapterConfig *a, int k, int n, char *buf, size_t cap) {
    size_t off = 0;
    buf[0] = 0;
    for (int l = 0; l < n && off < cap; l++) {
        AdapterConfig c = adapter_moe_layer(a, l);
        int v[4] = { c.n_true, a->kind == ADAPTER_MOLORA ? 0 : c.n_null, c.top_k, c.rank };
        off += (size_t)snprintf(buf + off, cap - off, "%s%d", l ? "," : "", v[k]);
    }
    return buf;
}

void adapter_options_from_config(AdapterOptions *o, const AdapterConfig *a, AdapterOptionsText *t) {
    o->adapter = adapter_kind_name(a->kind);
    o->targets = a->targets ? lora_targets_str(a->targets, t->s[0], sizeof t->s[0]) : "none";
    o->alpha = a->alpha;
    o->rslora = a->rslora;
    o->dropout = a->dropout;
    int routed = adapter_is_routed(a), n = routed && a->n_layer_values > 0 ? a->n_layer_values : 1;
    o->rank_s = layer_list(a, 3, n, t->s[4], sizeof t->s[4]);
    if (!routed) return;
    const char **lists[3] = { &o->experts_s, &o->null_s, &o->top_k_s };
    for (int k = 0; k < 3; k++) *lists[k] = layer_list(a, k, n, t->s[1 + k], sizeof t->s[1 + k]);
    o->normalize = moe_normalize_name(a->normalize);
    o->null_kind = moe_null_kind_name(a->null_kind);
    o->routing = moe_routing_name(a->routing);
    o->top_p = a->top_p;
    o->entropy_coef = a->entropy_coef;
    o->shared_experts = a->n_shared;
    o->aux = moe_aux_kind_name(a->aux);
    o->aux_coef = a->aux_coef;
    if (a->k_baseline > 0) o->k_baseline = a->k_baseline;
    o->gate2_init = moe_gate2_init_name(a->gate2_init);
    o->upcycle = a->upcycle;
    o->router = a->router_frozen ? "frozen-random" : "learned";
    o->pregate = a->pregate;
    o->freeze_experts = a->freeze_experts;
}

static Status parse_pass(Flag *f, int n, int argc, char **argv, const char *const *config, int *help, Error *err) {
    Status s = flags_parse(f, n, argc, argv, 1, help, err);
    if (!s && *config && !*help) s = flags_load_config(f, n, *config, err);
    return s;
}

Status adapter_options_parse(Flag *f, int n, int argc, char **argv, AdapterOptions *o, AdapterOptionsText *t,
                             const char *const *adapter_dir, const char *const *config, int *help, Error *err) {
    Status s = parse_pass(f, n, argc, argv, config, help, err);
    if (s || *help || !*adapter_dir) return s;
    AdapterConfig a;
    if ((s = adapter_read_config(*adapter_dir, &a, err))) return s;
    adapter_options_from_config(o, &a, t);
    return parse_pass(f, n, argc, argv, config, help, err);   /* given options override the file's */
}

Status adapter_options_load_model(LlamaModel *m, const char *model_path, const char *adapter_dir,
                                  const AdapterConfig *a, uint64_t seed, int base_dtype, Error *err) {
    if (a->kind == ADAPTER_FULL)
        return error_set(err, STATUS_INVALID, "use --adapter lora, molora, adamoe or moe-ffn (or none)",
                         "--adapter full is full fine-tuning: there is no adapter to load or build");
    if (adapter_dir && a->kind == ADAPTER_NONE)
        return error_set(err, STATUS_INVALID, "drop --adapter none to use the directory's adapter",
                         "--adapter none contradicts --adapter-dir %s", adapter_dir);
    Status s = model_load(m, model_path, a, base_dtype, err);   /* auto: bf16 files stay bf16 */
    if (s) return s;
    s = adapter_moe_check_layers(a, m->cfg.n_layers, err);
    if (!s && !adapter_dir && a->kind != ADAPTER_NONE) llama_init_adapter(m, seed);
    if (!s && adapter_dir && (s = adapter_load(m, adapter_dir, err)) == STATUS_INVALID)
        snprintf(err->hint, sizeof err->hint, "with --adapter-dir, leave out the expert-layout options (--adapter, "
                 "--experts, --null, --top-k, --rank, --alpha, --targets, --normalize, --null-kind, ...) or give "
                 "the directory's values");
    if (s) llama_free(m);
    return s;
}
