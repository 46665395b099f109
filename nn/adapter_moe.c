/* nn/adapter_moe.c — the "moe" object of adapter_config.json (see adapter_moe.h).
   PEFT knows nothing of routed experts, so everything MoE-specific lives in this one extra
   object, next to an otherwise standard LoraConfig. Reading is strict where a wrong value would
   change the model (sizes, kinds, names: each an error naming the key) and lenient where PEFT
   is (absent keys keep adapter_moe_defaults). torch_ref.py reads the keys it knows and ignores
   ours (routing variants, per-layer lists). */
#include "nn/adapter_moe.h"
#include <math.h>
#include <string.h>

/* The adapter's tensors by name: LoRA A/B (single or per expert), routers, gate2, shared
   experts and constant nulls. Frozen base weights never contain these substrings. */
int adapter_is_param_name(const char *name) {
    return strstr(name, ".lora_") || strstr(name, ".router.") || strstr(name, ".gate2.") ||
           strstr(name, ".shared_") || strstr(name, ".null_const.");
}

const char *adapter_target_module(const AdapterConfig *a, int bit_index) {
    static const char *const mixtral[3] = { "w1", "w3", "w2" };
    if (a->kind == ADAPTER_MOE_FFN && a->upcycle <= 0 && bit_index >= 4 && bit_index <= 6) return mixtral[bit_index - 4];
    return lora_target_module(bit_index);
}

/* moe-ffn: the Mixtral block's (or upcycled FFN's) experts, m gate2 nulls, top-k over n + m */
static void write_moe_ffn(FILE *f, const AdapterConfig *a) {
    fprintf(f, ",\n  \"moe\": {\n    \"type\": \"moe-ffn\",\n    \"n_true\": %d,\n    \"n_null\": %d,\n"
               "    \"top_k\": %d,\n    \"normalize\": \"%s\",\n    \"null_kind\": \"%s\",\n    \"targets\": [\"%s\"],\n"
               "    \"aux\": {\n      \"kind\": \"%s\",\n      \"coef\": %.17g\n    },\n    \"gate2_init\": \"%s\"",
            a->upcycle > 0 ? a->upcycle : a->n_true, a->n_null, a->top_k, moe_normalize_name(a->normalize),
            moe_null_kind_name(a->null_kind), a->upcycle > 0 ? "mlp" : "block_sparse_moe", moe_aux_kind_name(a->aux),
            a->aux_coef, moe_gate2_init_name(a->gate2_init));
    if (a->upcycle > 0) fprintf(f, ",\n    \"upcycle\": %d", a->upcycle);
    fputs("\n  }", f);
}

/* Our own keys (torch_ref.py has no per-layer form): "layer_n_true", "layer_n_null",
   "layer_top_k", "layer_rank" — arrays with one integer per layer, each layer's resolved value
   (adapter_moe_layer); written only when the adapter has per-layer lists. */
static const char *const LAYER_KEYS[4] = { "layer_n_true", "layer_n_null", "layer_top_k", "layer_rank" };

static void write_layer_lists(FILE *f, const AdapterConfig *a) {
    for (int k = 0; k < 4 && a->n_layer_values > 0; k++) {
        fprintf(f, "    \"%s\": [", LAYER_KEYS[k]);
        for (int l = 0; l < a->n_layer_values; l++) {
            AdapterConfig c = adapter_moe_layer(a, l);
            int v[4] = { c.n_true, a->kind == ADAPTER_ADAMOE ? c.n_null : 0, c.top_k, c.rank };
            fprintf(f, "%s%d", l ? ", " : "", v[k]);
        }
        fprintf(f, "],\n");
    }
}

/* molora / adamoe: torch_ref's keys (n_null forced to 0 for molora, whatever the config holds),
   then ours (routing variant, shared experts, per-layer lists), then "aux" last. */
void adapter_moe_write_json(FILE *f, const AdapterConfig *a) {
    if (a->kind == ADAPTER_MOE_FFN) { write_moe_ffn(f, a); return; }
    if (!adapter_is_routed(a)) return;
    fprintf(f, ",\n  \"moe\": {\n    \"type\": \"%s\",\n    \"n_true\": %d,\n    \"n_null\": %d,\n    \"top_k\": %d,\n"
               "    \"normalize\": \"%s\",\n    \"null_kind\": \"%s\",\n    \"targets\": [",
            adapter_kind_name(a->kind), a->n_true, a->kind == ADAPTER_ADAMOE ? a->n_null : 0, a->top_k,
            moe_normalize_name(a->normalize), moe_null_kind_name(a->null_kind));
    int first = 1;
    for (int i = 0; i < 7; i++)
        if (a->targets & (1 << i)) {
            fprintf(f, "%s\"%s\"", first ? "" : ", ", lora_target_module(i));
            first = 0;
        }
    fprintf(f, "],\n    \"routing\": \"%s\",\n    \"top_p\": %.17g,\n    \"entropy_coef\": %.17g,\n"
               "    \"n_shared\": %d,\n", moe_routing_name(a->routing), a->top_p, a->entropy_coef, a->n_shared);
    if (a->pregate || a->router_frozen || a->freeze_experts)   /* absent = off: older readers stay happy */
        fprintf(f, "    \"pregate\": %s,\n    \"router\": \"%s\",\n    \"freeze_experts\": %s,\n",
                a->pregate ? "true" : "false", a->router_frozen ? "frozen_random" : "learned",
                a->freeze_experts ? "true" : "false");
    write_layer_lists(f, a);
    fprintf(f, "    \"aux\": {\n      \"kind\": \"%s\",\n      \"coef\": %.17g\n    }\n  }",
            moe_aux_kind_name(a->aux), a->aux_coef);
}

/* a required integer member in lo..hi (the error points at the "moe" object) */
static Status read_int(const JsonValue *v, const char *key, const char *path, int lo, int hi, int *out, Error *err) {
    long long x;
    if (!json_get_int(v, key, &x) || x < lo || x > hi)
        return error_set(err, STATUS_FORMAT, NULL, "%s:%d:%d: \"moe\".\"%s\" must be an integer in %d..%d", path,
                         v->line, v->col, key, lo, hi);
    *out = (int)x;
    return STATUS_OK;
}

/* optional string member parsed with fn; absent = keep the default */
static Status read_name(const JsonValue *v, const char *key, const char *path, Error *err,
                        Status (*fn)(const char *, int *, Error *), int *out) {
    const char *s;
    if (!json_get(v, key)) return STATUS_OK;
    if (!json_get_string(v, key, &s))
        return error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"%s\" must be a string", path, key);
    Error inner;
    if (fn(s, out, &inner))
        return error_set(err, STATUS_FORMAT, inner.hint, "%s: \"moe\".\"%s\": %s", path, key, inner.message);
    return STATUS_OK;
}

/* the enum parsers of model_config.h behind one int-valued signature, for read_name */
static Status parse_norm(const char *s, int *o, Error *e) { MoeNormalize v; Status st = moe_normalize_parse(s, &v, e); *o = (int)v; return st; }
static Status parse_null(const char *s, int *o, Error *e) { MoeNullKind v; Status st = moe_null_kind_parse(s, &v, e); *o = (int)v; return st; }
static Status parse_aux(const char *s, int *o, Error *e) { MoeAuxKind v; Status st = moe_aux_kind_parse(s, &v, e); *o = (int)v; return st; }
static Status parse_gate2(const char *s, int *o, Error *e) { MoeGate2Init v = MOE_GATE2_COPY; Status st = moe_gate2_init_parse(s, &v, e); *o = (int)v; return st; }

static Status parse_routing(const char *s, int *o, Error *e) { MoeRouting v; Status st = moe_routing_parse(s, &v, e); *o = (int)v; return st; }

/* the keys of the field around AdaMoE (absent = off): "pregate" and "freeze_experts" booleans,
   "router": "learned" | "frozen_random" (SMoE-Dropout) */
static Status read_field(const JsonValue *v, const char *path, AdapterConfig *cfg, Error *err) {
    const char *keys[2] = { "pregate", "freeze_experts" };
    int *dst[2] = { &cfg->pregate, &cfg->freeze_experts };
    for (int i = 0; i < 2; i++)
        if (json_get(v, keys[i]) && !json_get_bool(v, keys[i], dst[i]))
            return error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"%s\" must be true or false", path, keys[i]);
    const char *router;
    if (!json_get(v, "router")) return STATUS_OK;
    if (!json_get_string(v, "router", &router) || (strcmp(router, "learned") && strcmp(router, "frozen_random")))
        return error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"router\" must be \"learned\" or \"frozen_random\"", path);
    cfg->router_frozen = !strcmp(router, "frozen_random");
    return STATUS_OK;
}

/* the routing-variant keys (our own; absent = top-k, no shared experts) */
static Status read_variant(const JsonValue *v, const char *path, AdapterConfig *cfg, Error *err) {
    int rt = (int)cfg->routing;
    Status st = read_name(v, "routing", path, err, parse_routing, &rt);
    cfg->routing = (MoeRouting)rt;
    if (!st && json_get(v, "n_shared")) st = read_int(v, "n_shared", path, 0, MOE_MAX_EXPERTS, &cfg->n_shared, err);
    if (!st && json_get(v, "top_p") && !json_get_number(v, "top_p", &cfg->top_p))
        st = error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"top_p\" must be a number", path);
    if (!st && json_get(v, "entropy_coef") && !json_get_number(v, "entropy_coef", &cfg->entropy_coef))
        st = error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"entropy_coef\" must be a number", path);
    return st ? st : read_field(v, path, cfg, err);
}

/* the optional per-layer arrays; all present ones must have the same length (entries >= 1, but
   layer_n_null may be 0: no nulls in that layer). A list left out repeats its scalar on every
   layer, so adapter_moe_layer() can read all four lists. */
static Status read_layer_lists(const JsonValue *v, const char *path, AdapterConfig *cfg, Error *err) {
    int *dst[4] = { cfg->layer_n_true, cfg->layer_n_null, cfg->layer_top_k, cfg->layer_rank };
    for (int k = 0; k < 4; k++) {
        const JsonValue *arr = json_get(v, LAYER_KEYS[k]);
        if (!arr) continue;
        int n = arr->type == JSON_ARRAY ? (int)arr->count : -1;
        if (n < 1 || n > MOE_MAX_LAYERS || (cfg->n_layer_values && n != cfg->n_layer_values))
            return error_set(err, STATUS_FORMAT, NULL, "%s:%d:%d: \"moe\".\"%s\" must be an array of 1..%d integers "
                             "(as long as the other per-layer lists)", path, arr->line, arr->col, LAYER_KEYS[k], MOE_MAX_LAYERS);
        cfg->n_layer_values = n;
        for (int l = 0; l < n; l++) {
            const JsonValue *e = json_array_at(arr, (size_t)l);
            if (e->type != JSON_NUMBER || e->number != (int)e->number || e->number < (k == 1 ? 0 : 1) || e->number > 1 << 20)
                return error_set(err, STATUS_FORMAT, NULL, "%s:%d:%d: \"moe\".\"%s\"[%d] must be an integer >= %d",
                                 path, e->line, e->col, LAYER_KEYS[k], l, k == 1 ? 0 : 1);
            dst[k][l] = (int)e->number;
        }
    }
    int scalar[4] = { cfg->n_true, cfg->n_null, cfg->top_k, cfg->rank };
    for (int k = 0; k < 4; k++)   /* a list left out: its scalar on every layer */
        if (!json_get(v, LAYER_KEYS[k]))
            for (int l = 0; l < cfg->n_layer_values; l++) dst[k][l] = scalar[k];
    return STATUS_OK;
}

/* "aux": {"kind", "coef" >= 0}; absent keeps the defaults (Eq. 6, 0.001 as exp_1) */
static Status read_aux(const JsonValue *v, const char *path, AdapterConfig *cfg, Error *err) {
    const JsonValue *aux = json_get(v, "aux");
    if (!aux) return STATUS_OK;
    if (aux->type != JSON_OBJECT) return error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"aux\" must be an object", path);
    int kind = (int)cfg->aux;
    Status st = read_name(aux, "kind", path, err, parse_aux, &kind);
    cfg->aux = (MoeAuxKind)kind;
    if (!st && json_get(aux, "coef") && (!json_get_number(aux, "coef", &cfg->aux_coef) || !(cfg->aux_coef >= 0)))
        st = error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\".\"aux\".\"coef\" must be a number >= 0", path);
    return st;
}

/* "type" picks the kind and with it the defaults (adapter_moe_defaults); n_true, n_null and
   top_k are required, every other key overrides a default when present. Sizes are checked per
   layer at the end (adapter_moe_check_layers). */
Status adapter_moe_read_json(const JsonValue *v, const char *path, AdapterConfig *cfg, Error *err) {
    const char *type;
    if (v->type != JSON_OBJECT || !json_get_string(v, "type", &type))
        return error_set(err, STATUS_FORMAT, NULL, "%s: \"moe\" must be an object with a \"type\"", path);
    if (!strcmp(type, "molora")) cfg->kind = ADAPTER_MOLORA;
    else if (!strcmp(type, "adamoe")) cfg->kind = ADAPTER_ADAMOE;
    else if (!strcmp(type, "moe-ffn")) cfg->kind = ADAPTER_MOE_FFN;
    else return error_set(err, STATUS_INVALID, "molora, adamoe and moe-ffn adapters are supported",
                          "%s: \"moe\".\"type\" \"%s\" is not supported", path, type);
    adapter_moe_defaults(cfg);
    int norm = (int)cfg->normalize, nk = (int)cfg->null_kind, g2 = (int)MOE_GATE2_COPY;
    Status st = read_int(v, "n_true", path, 1, MOE_MAX_EXPERTS, &cfg->n_true, err);
    if (!st) st = read_int(v, "n_null", path, 0, MOE_MAX_EXPERTS, &cfg->n_null, err);
    if (!st) st = read_int(v, "top_k", path, 1, MOE_MAX_EXPERTS, &cfg->top_k, err);
    if (!st) st = read_name(v, "normalize", path, err, parse_norm, &norm);
    if (!st) st = read_name(v, "null_kind", path, err, parse_null, &nk);
    if (!st) st = read_aux(v, path, cfg, err);
    if (!st && cfg->kind == ADAPTER_MOE_FFN) st = read_name(v, "gate2_init", path, err, parse_gate2, &g2);
    if (!st && cfg->kind == ADAPTER_MOE_FFN && json_get(v, "upcycle"))
        st = read_int(v, "upcycle", path, 1, MOE_MAX_EXPERTS, &cfg->upcycle, err);
    cfg->gate2_init = (MoeGate2Init)g2;
    if (!st) st = read_variant(v, path, cfg, err);
    if (!st) st = read_layer_lists(v, path, cfg, err);
    cfg->normalize = (MoeNormalize)norm;
    cfg->null_kind = (MoeNullKind)nk;
    Error inner;
    if (!st && adapter_moe_check_layers(cfg, cfg->n_layer_values > 0 ? cfg->n_layer_values : 1, &inner))
        st = error_set(err, STATUS_FORMAT, inner.hint, "%s: \"moe\": %s", path, inner.message);
    return st;
}

/* Compares what shapes the tensors or changes the routing of a trained adapter (kinds, sizes,
   normalisation, null kind, upcycle, shared experts, the per-layer list length); the aux
   settings are training-only and may differ. Not compared (the model is normally declared from
   this very file): the per-layer values, where different n / m / rank lists still fail later on
   a tensor's shape, and the routing rule and a top-k list, which would go unnoticed. */
Status adapter_moe_matches(const AdapterConfig *f, const AdapterConfig *m, const char *dir, Error *err) {
    if (f->kind != m->kind || f->n_true != m->n_true || f->n_null != m->n_null || f->top_k != m->top_k ||
        f->normalize != m->normalize || f->null_kind != m->null_kind || f->upcycle != m->upcycle ||
        f->n_shared != m->n_shared || f->n_layer_values != m->n_layer_values)
        return error_set(err, STATUS_INVALID, "declare the model with adapter_read_config() of this directory",
                         "%s: the file's experts (%s, %d + %d null, top-%d, %s, %s) differ from the model's "
                         "(%s, %d + %d null, top-%d, %s, %s)", dir, adapter_kind_name(f->kind), f->n_true, f->n_null,
                         f->top_k, moe_normalize_name(f->normalize), moe_null_kind_name(f->null_kind),
                         adapter_kind_name(m->kind), m->n_true, m->n_null, m->top_k, moe_normalize_name(m->normalize),
                         moe_null_kind_name(m->null_kind));
    return STATUS_OK;
}
