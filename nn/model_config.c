/* nn/model_config.c — parsing and validation of model / adapter settings. */
#include "nn/model_config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TARGET_SHORT[LORA_TARGET_BITS] = { "q", "k", "v", "o", "gate", "up", "down", "router" };
/* the router's PEFT name is its module path suffix: PEFT matches target_modules against the end of
   the module name, and "block_sparse_moe.gate" (unlike a bare "gate") cannot be read as gate_proj */
static const char *const TARGET_PEFT[LORA_TARGET_BITS] = { "q_proj", "k_proj", "v_proj", "o_proj",
                                                           "gate_proj", "up_proj", "down_proj",
                                                           "block_sparse_moe.gate" };

const char *lora_target_module(int bit_index) { return TARGET_PEFT[bit_index]; }

const char *adapter_kind_name(AdapterKind k) {
    switch (k) {
    case ADAPTER_NONE: return "none";
    case ADAPTER_LORA: return "lora";
    case ADAPTER_FULL: return "full";
    case ADAPTER_MOLORA: return "molora";
    case ADAPTER_ADAMOE: return "adamoe";
    case ADAPTER_MOE_FFN: return "moe-ffn";
    }
    return "?";
}

Status adapter_kind_parse(const char *s, AdapterKind *out, Error *err) {
    for (int k = ADAPTER_NONE; k <= ADAPTER_MOE_FFN; k++)
        if (!strcmp(s, adapter_kind_name((AdapterKind)k))) {
            *out = (AdapterKind)k;
            return STATUS_OK;
        }
    return error_set(err, STATUS_INVALID, "use one of: none, lora, full, molora, adamoe, moe-ffn",
                     "unknown adapter kind '%s'", s);
}

int adapter_is_routed(const AdapterConfig *a) {
    return a->kind == ADAPTER_MOLORA || a->kind == ADAPTER_ADAMOE || a->kind == ADAPTER_MOE_FFN;
}

/* s equals name when '-' and '_' are treated alike */
static int same_name(const char *s, const char *name) {
    for (; *s && *name; s++, name++)
        if (*s != *name && !((*s == '-' || *s == '_') && (*name == '-' || *name == '_'))) return 0;
    return *s == *name;
}

static Status parse_enum(const char *s, const char *const *names, int n, int *out, const char *what, Error *err) {
    for (int i = 0; i < n; i++)
        if (same_name(s, names[i])) { *out = i; return STATUS_OK; }
    char hint[160];
    size_t off = (size_t)snprintf(hint, sizeof hint, "use one of:");
    for (int i = 0; i < n && off < sizeof hint; i++)
        off += (size_t)snprintf(hint + off, sizeof hint - off, " %s", names[i]);
    return error_set(err, STATUS_INVALID, hint, "unknown %s '%s'", what, s);
}

static const char *const NORMALIZE_NAMES[] = { "true_only", "all_selected" };
static const char *const NULL_KIND_NAMES[] = { "zero", "identity", "constant" };
static const char *const ROUTING_NAMES[] = { "topk", "top_p", "dense", "stochastic", "expert_choice" };
static const char *const AUX_KIND_NAMES[] = { "eq6", "vanilla", "none" };
static const char *const GATE2_NAMES[] = { "copy", "zeros", "random" };
static const char *const TARGET_MIXTRAL[LORA_TARGET_BITS] = { "", "", "", "", "w1", "w3", "w2", "" };

const char *moe_gate2_init_name(MoeGate2Init v) { return GATE2_NAMES[v]; }
Status moe_gate2_init_parse(const char *s, MoeGate2Init *out, Error *err) {
    int v = 0;
    Status st = parse_enum(s, GATE2_NAMES, 3, &v, "gate2 init", err);
    if (!st) *out = (MoeGate2Init)v;
    return st;
}

const char *moe_normalize_name(MoeNormalize v) { return NORMALIZE_NAMES[v]; }
const char *moe_null_kind_name(MoeNullKind v) { return NULL_KIND_NAMES[v]; }
const char *moe_aux_kind_name(MoeAuxKind v) { return AUX_KIND_NAMES[v]; }

Status moe_normalize_parse(const char *s, MoeNormalize *out, Error *err) {
    int v = 0;
    Status st = parse_enum(s, NORMALIZE_NAMES, 2, &v, "--normalize", err);
    if (!st) *out = (MoeNormalize)v;
    return st;
}

Status moe_null_kind_parse(const char *s, MoeNullKind *out, Error *err) {
    int v = 0;
    Status st = parse_enum(s, NULL_KIND_NAMES, 3, &v, "--null-kind", err);
    if (!st) *out = (MoeNullKind)v;
    return st;
}

Status moe_aux_kind_parse(const char *s, MoeAuxKind *out, Error *err) {
    int v = 0;
    Status st = parse_enum(s, AUX_KIND_NAMES, 3, &v, "--aux", err);
    if (!st) *out = (MoeAuxKind)v;
    return st;
}

const char *moe_routing_name(MoeRouting v) { return ROUTING_NAMES[v]; }

Status moe_routing_parse(const char *s, MoeRouting *out, Error *err) {
    int v = 0;
    Status st = parse_enum(s, ROUTING_NAMES, 5, &v, "--routing", err);
    if (!st) *out = (MoeRouting)v;
    return st;
}

void adapter_moe_defaults(AdapterConfig *a) {
    int ada = a->kind == ADAPTER_ADAMOE || a->kind == ADAPTER_MOE_FFN;
    a->n_true = 4;
    a->n_null = ada ? 4 : 0;
    a->top_k = ada ? 4 : 2;
    a->normalize = MOE_NORM_TRUE_ONLY;
    a->null_kind = MOE_NULL_ZERO;
    a->aux = MOE_AUX_EQ6;
    a->aux_coef = 0.001;
    a->k_baseline = 2;
    a->routing = MOE_ROUTING_TOPK;
    a->top_p = 0.4;
    a->entropy_coef = 0;
    a->n_shared = 0;
}

Status adapter_moe_validate(const AdapterConfig *a, Error *err) {
    if (!adapter_is_routed(a)) return STATUS_OK;
    int E = a->n_true + a->n_null;
    if (a->n_true < 1 || a->n_null < 0 || E > MOE_MAX_EXPERTS)
        return error_set(err, STATUS_INVALID, "e.g. --experts 4 --null 4",
                         "need --experts >= 1 and --null >= 0 with at most %d experts in all (got %d + %d)",
                         MOE_MAX_EXPERTS, a->n_true, a->n_null);
    if (a->top_k < 1 || a->top_k > E)
        return error_set(err, STATUS_INVALID, NULL, "--top-k %d outside 1..%d (experts + null)", a->top_k, E);
    if (a->kind == ADAPTER_MOLORA && a->n_null != 0)
        return error_set(err, STATUS_INVALID, "use --adapter adamoe for null experts", "molora has no null experts (--null %d)", a->n_null);
    if (a->rank < 1 && !(a->kind == ADAPTER_MOE_FFN && !a->targets)) return error_set(err, STATUS_INVALID, NULL, "--rank must be >= 1 for %s", adapter_kind_name(a->kind));
    if (!(a->aux_coef >= 0)) return error_set(err, STATUS_INVALID, NULL, "--aux-coef must be >= 0");
    if (a->routing == MOE_ROUTING_TOP_P && !(a->top_p > 0 && a->top_p <= 1)) return error_set(err, STATUS_INVALID, NULL, "--top-p must be in (0, 1]");
    if (!(a->entropy_coef >= 0)) return error_set(err, STATUS_INVALID, NULL, "--entropy-coef must be >= 0");
    if (a->n_shared < 0 || a->n_shared > MOE_MAX_EXPERTS)
        return error_set(err, STATUS_INVALID, NULL, "--shared-experts must be in 0..%d", MOE_MAX_EXPERTS);
    if (a->k_baseline < 0) return error_set(err, STATUS_INVALID, NULL, "--k-baseline must be > 0");
    if (a->kind == ADAPTER_MOE_FFN && (a->pregate || a->router_frozen || a->freeze_experts))
        return error_set(err, STATUS_INVALID, "use --adapter molora or adamoe",
                         "--pregate, --router frozen-random and --freeze-experts are for molora / adamoe linears, not moe-ffn");
    return STATUS_OK;
}

AdapterConfig adapter_moe_layer(const AdapterConfig *a, int layer) {
    AdapterConfig c = *a;
    if (a->n_layer_values <= 0) return c;
    int i = layer < a->n_layer_values ? layer : a->n_layer_values - 1;
    if (a->layer_n_true[i] > 0) c.n_true = a->layer_n_true[i];
    if (a->kind == ADAPTER_ADAMOE) c.n_null = a->layer_n_null[i];   /* 0 is a real value: no nulls there */
    if (a->layer_top_k[i] > 0) c.top_k = a->layer_top_k[i];
    if (a->layer_rank[i] > 0) c.rank = a->layer_rank[i];
    return c;
}

Status adapter_moe_check_layers(const AdapterConfig *a, int n_layers, Error *err) {
    if (!adapter_is_routed(a) || a->n_layer_values <= 0) return adapter_moe_validate(a, err);
    if (a->n_layer_values != n_layers)
        return error_set(err, STATUS_INVALID, "give one value per layer, or a single value for all layers",
                         "per-layer expert lists have %d values, the model has %d layers", a->n_layer_values, n_layers);
    for (int l = 0; l < n_layers; l++) {
        AdapterConfig c = adapter_moe_layer(a, l);
        Error inner;
        if (adapter_moe_validate(&c, &inner))
            return error_set(err, STATUS_INVALID, inner.hint, "layer %d: %s", l, inner.message);
    }
    return STATUS_OK;
}

Status int_list_parse(const char *s, const char *what, int lo, int *vals, int *n, Error *err) {
    *n = 0;
    const char *p = s;
    while (1) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < lo || v > 1 << 20 || (*end && *end != ','))
            return error_set(err, STATUS_INVALID, "e.g. 4 or 2,2,4,4 (one value per layer)",
                             "--%s: bad value at \"%s\" (expected integers >= %d, comma-separated)", what, p, lo);
        if (*n >= MOE_MAX_LAYERS) return error_set(err, STATUS_INVALID, NULL, "--%s: more than %d values", what, MOE_MAX_LAYERS);
        vals[(*n)++] = (int)v;
        if (!*end) return STATUS_OK;
        p = end + 1;
    }
}

/* bit index of one name (short, PEFT or Mixtral spelling) of length len, or -1 */
static int target_index(const char *p, size_t len) {
    for (int i = 0; i < LORA_TARGET_BITS; i++)
        if ((strlen(TARGET_SHORT[i]) == len && !strncmp(p, TARGET_SHORT[i], len)) ||
            (strlen(TARGET_PEFT[i]) == len && !strncmp(p, TARGET_PEFT[i], len)) ||
            (TARGET_MIXTRAL[i][0] && strlen(TARGET_MIXTRAL[i]) == len && !strncmp(p, TARGET_MIXTRAL[i], len)))
            return i;
    return -1;
}

Status lora_targets_parse(const char *s, int *out, Error *err) {
    int bits = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = target_index(p, len);
        if (len == 3 && !strncmp(p, "all", 3)) bits |= LORA_TARGET_ALL;
        else if (found >= 0) bits |= 1 << found;
        else
            return error_set(err, STATUS_INVALID, "targets are a comma list of q,k,v,o,gate,up,down (or all), "
                             "plus router (the Mixtral router block_sparse_moe.gate)",
                             "unknown LoRA target '%.*s' in '%s'", (int)len, p, s);
        p += len;
        if (*p == ',') p++;
    }
    if (!bits) return error_set(err, STATUS_INVALID, "name at least one of q,k,v,o,gate,up,down,router", "empty LoRA target list");
    *out = bits;
    return STATUS_OK;
}

const char *lora_targets_str(int targets, char *buf, size_t n) {
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < LORA_TARGET_BITS && off < n; i++)
        if (targets & (1 << i)) off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "", TARGET_SHORT[i]);
    return buf;
}

Status model_config_validate(const ModelConfig *c, const char *source, Error *err) {
    const char *hint = "the checkpoint header / config.json is inconsistent or not a Llama model";
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->max_seq_len <= 0 || c->head_dim <= 0)
        return error_set(err, STATUS_FORMAT, hint,
                         "%s: dimensions must be positive (dim %d, hidden %d, layers %d, heads %d, kv_heads %d, "
                         "vocab %d, seq_len %d, head_dim %d)", source, c->dim, c->hidden_dim, c->n_layers,
                         c->n_heads, c->n_kv_heads, c->vocab_size, c->max_seq_len, c->head_dim);
    if (c->n_heads % c->n_kv_heads)
        return error_set(err, STATUS_FORMAT, hint, "%s: n_heads %d is not a multiple of n_kv_heads %d",
                         source, c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2)
        return error_set(err, STATUS_FORMAT, hint, "%s: head_dim %d must be even for RoPE", source, c->head_dim);
    if (c->dim > (1 << 16) || c->hidden_dim > (1 << 18) || c->n_layers > 1024 || c->vocab_size > (1 << 22) ||
        c->max_seq_len > (1 << 20) || c->n_heads > 1024)
        return error_set(err, STATUS_FORMAT, hint, "%s: implausibly large dimensions (dim %d, layers %d, vocab %d)",
                         source, c->dim, c->n_layers, c->vocab_size);
    if (!(c->norm_eps > 0) || !(c->rope_theta > 0))
        return error_set(err, STATUS_FORMAT, hint, "%s: norm_eps and rope_theta must be positive", source);
    if (c->rope_scaling == ROPE_SCALING_LLAMA3 &&
        !(c->rope_factor > 0 && c->rope_low_freq > 0 && c->rope_low_freq < c->rope_high_freq &&
          c->rope_orig_max_pos > 0))
        return error_set(err, STATUS_FORMAT, "Llama 3.1 / 3.2 use factor 8 / 32, low 1, high 4, original 8192",
                         "%s: rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                         "original_max_position_embeddings > 0 (got %g, %g, %g, %d)", source, c->rope_factor,
                         c->rope_low_freq, c->rope_high_freq, c->rope_orig_max_pos);
    if (c->bias_targets & ~(LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V | LORA_TARGET_O))
        return error_set(err, STATUS_FORMAT, hint, "%s: biases exist only on q, k, v, o", source);
    return STATUS_OK;
}

void rope_inv_freq(const ModelConfig *c, double *inv_freq) {
    int D = c->head_dim;
    double F = c->rope_factor, L = c->rope_low_freq, H = c->rope_high_freq, O = c->rope_orig_max_pos;
    for (int j = 0; j < D / 2; j++) {
        double f = 1.0 / pow(c->rope_theta, (double)(2 * j) / (double)D);
        if (c->rope_scaling == ROPE_SCALING_LLAMA3) {
            double wavelen = 2.0 * M_PI / f;
            if (wavelen > O / L) f = f / F;
            else if (!(wavelen < O / H)) {
                double s = (O / wavelen - L) / (H - L);
                f = (1.0 - s) * f / F + s * f;
            }
        }
        inv_freq[j] = f;
    }
}

int model_is_eos(const ModelConfig *c, int id) {
    if (id == c->eos_id) return 1;
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] == id) return 1;
    return 0;
}
