/* nn/hf_config.c — a Hugging Face config.json read into a ModelConfig (hf_read_config in
   checkpoint.h). Families: model_type llama (and a file without model_type), mistral, mixtral,
   qwen2. Keys that change the math are either honoured or refused with a message naming the key:
     honoured  hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
               num_key_value_heads, head_dim, vocab_size, max_position_embeddings, rms_norm_eps,
               rope_theta, tie_word_embeddings, bos/eos_token_id (eos may be a list),
               rope_scaling null / {} / "default" / "llama3" (key "rope_type" or older "type"),
               attention_bias (llama: q/k/v/o biases; qwen2 always has q/k/v biases),
               num_local_experts / num_experts_per_tok (mixtral), sliding_window (mistral /
               mixtral: sequences are limited to the window, where sliding-window attention
               equals full causal attention)
     refused   other rope_scaling types, mlp_bias true, partial_rotary_factor != 1,
               use_sliding_window true, use_mrope true, attention_dropout > 0, hidden_act other
               than silu, quantization_config, attention_bias on mistral / mixtral
   Keys that do not change the result (pretraining_tp, initializer_range, use_cache, torch_dtype,
   rope_interleaved: transformers ignores it, ...) are ignored. */
#include "nn/checkpoint.h"
#include "nn/adapter_moe.h"
#include "data/json.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const JsonValue *r;
    const char *path;
    Error *err;
} Cfg;

/* the key's value, or NULL when absent or JSON null */
static const JsonValue *present(const Cfg *g, const char *key) {
    const JsonValue *v = json_get(g->r, key);
    return v && v->type != JSON_NULL ? v : NULL;
}

static Status bad_type(const Cfg *g, const char *key, const char *want) {
    return error_set(g->err, STATUS_FORMAT, NULL, "%s: key \"%s\" must be %s", g->path, key, want);
}

/* an integer in lo..2^30 (required, or dflt when absent; dflt < 0 = required) */
static Status get_int_from(const Cfg *g, const char *key, int dflt, int lo, int *out) {
    const JsonValue *v = present(g, key);
    if (!v && dflt >= 0) { *out = dflt; return STATUS_OK; }
    if (!v)
        return error_set(g->err, STATUS_FORMAT, "is this a Llama config.json?",
                         "%s: missing or non-integer key \"%s\"", g->path, key);
    if (v->type != JSON_NUMBER || v->number != (double)(long long)v->number) return bad_type(g, key, "an integer");
    if (v->number < lo || v->number > (double)(1 << 30))
        return error_set(g->err, STATUS_FORMAT, NULL, "%s: \"%s\" = %.17g is out of range", g->path, key, v->number);
    *out = (int)v->number;
    return STATUS_OK;
}

static Status get_int(const Cfg *g, const char *key, int dflt, int *out) {
    return get_int_from(g, key, dflt, 1, out);
}

static Status get_num(const Cfg *g, const char *key, double dflt, double *out) {
    const JsonValue *v = present(g, key);
    if (v && v->type != JSON_NUMBER) return bad_type(g, key, "a number");
    *out = v ? v->number : dflt;
    return STATUS_OK;
}

static Status get_bool(const Cfg *g, const char *key, int *out) {
    const JsonValue *v = present(g, key);
    if (v && v->type != JSON_BOOL) return bad_type(g, key, "true or false");
    *out = v ? v->boolean : 0;
    return STATUS_OK;
}

static Status refuse(const Cfg *g, const char *key, const char *what, const char *hint) {
    return error_set(g->err, STATUS_FORMAT, hint, "%s: \"%s\": %s is not supported", g->path, key, what);
}

/* eos_token_id: an integer or a list of integers (generation stops at any of them) */
static Status read_eos(const Cfg *g, ModelConfig *c) {
    const JsonValue *v = present(g, "eos_token_id");
    c->eos_id = 2;
    c->n_eos = 0;
    if (!v) return STATUS_OK;
    if (v->type == JSON_NUMBER) return get_int_from(g, "eos_token_id", 2, 0, &c->eos_id);
    if (v->type != JSON_ARRAY || v->count < 1 || v->count > MODEL_MAX_EOS)
        return bad_type(g, "eos_token_id", "an integer or a list of 1..8 integers");
    for (size_t i = 0; i < v->count; i++) {
        double x = v->items[i].number;
        if (v->items[i].type != JSON_NUMBER || x < 0 || x > (double)(1 << 30) || x != (double)(long long)x)
            return bad_type(g, "eos_token_id", "an integer or a list of 1..8 integers");
        c->eos_ids[c->n_eos++] = (int)x;
    }
    c->eos_id = c->eos_ids[0];
    return STATUS_OK;
}

/* one number of rope_scaling (required for llama3) */
static Status scaling_num(const Cfg *g, const JsonValue *rs, const char *key, double *out) {
    const JsonValue *v = json_get(rs, key);
    if (!v || v->type != JSON_NUMBER)
        return error_set(g->err, STATUS_FORMAT, "Llama 3.x configs give factor, low_freq_factor, high_freq_factor "
                         "and original_max_position_embeddings", "%s: rope_scaling (llama3) needs a number \"%s\"",
                         g->path, key);
    *out = v->number;
    return STATUS_OK;
}

/* rope_scaling: null, {} or type "default" = none; "llama3"; anything else is refused */
static Status read_rope_scaling(const Cfg *g, ModelConfig *c) {
    const JsonValue *rs = present(g, "rope_scaling");
    c->rope_scaling = ROPE_SCALING_NONE;
    if (!rs || (rs->type == JSON_OBJECT && rs->count == 0)) return STATUS_OK;
    if (rs->type != JSON_OBJECT) return bad_type(g, "rope_scaling", "an object or null");
    const char *kind = NULL;
    if (!json_get_string(rs, "rope_type", &kind) && !json_get_string(rs, "type", &kind))
        return error_set(g->err, STATUS_FORMAT, NULL, "%s: rope_scaling has no string \"rope_type\" (or \"type\")", g->path);
    if (!strcmp(kind, "default")) return STATUS_OK;
    if (strcmp(kind, "llama3"))
        return error_set(g->err, STATUS_FORMAT, "supported: rope_scaling null or rope_type \"llama3\"",
                         "%s: rope_scaling type \"%s\" is not supported", g->path, kind);
    double orig = 0;
    Status s = scaling_num(g, rs, "factor", &c->rope_factor);
    if (!s) s = scaling_num(g, rs, "low_freq_factor", &c->rope_low_freq);
    if (!s) s = scaling_num(g, rs, "high_freq_factor", &c->rope_high_freq);
    if (!s) s = scaling_num(g, rs, "original_max_position_embeddings", &orig);
    if (s) return s;
    if (orig != (double)(int)orig || orig < 1)
        return bad_type(g, "rope_scaling.original_max_position_embeddings", "a positive integer");
    c->rope_orig_max_pos = (int)orig;
    c->rope_scaling = ROPE_SCALING_LLAMA3;
    return STATUS_OK;
}

/* the keys that change the math and are not implemented */
static Status refuse_unsupported(const Cfg *g, int mixtral, int mistral) {
    int b = 0;
    double x = 1.0;
    const char *act = NULL;
    Status s = get_bool(g, "mlp_bias", &b);
    if (!s && b) return refuse(g, "mlp_bias", "true (biases on the MLP projections)", "only attention biases are implemented");
    if (!s) s = get_num(g, "partial_rotary_factor", 1.0, &x);
    if (!s && x != 1.0) return refuse(g, "partial_rotary_factor", "a value other than 1 (RoPE on part of each head)", NULL);
    if (!s) s = get_bool(g, "use_sliding_window", &b);
    if (!s && b) return refuse(g, "use_sliding_window", "true (sliding-window attention)", "set it to false: full causal attention");
    if (!s) s = get_bool(g, "use_mrope", &b);
    if (!s && b) return refuse(g, "use_mrope", "true (multimodal RoPE)", NULL);
    if (!s) s = get_num(g, "attention_dropout", 0.0, &x);
    if (!s && x != 0.0) return refuse(g, "attention_dropout", "a value other than 0", "set it to 0.0");
    if (!s && present(g, "quantization_config")) return refuse(g, "quantization_config", "a quantized checkpoint", "use the f32 / f16 / bf16 weights");
    if (!s && (json_get_string(g->r, "hidden_act", &act) || json_get_string(g->r, "hidden_activation", &act)) && strcmp(act, "silu"))
        return refuse(g, "hidden_act", "an activation other than silu", NULL);
    if (!s) s = get_bool(g, "attention_bias", &b);
    if (!s && b && (mixtral || mistral))
        return refuse(g, "attention_bias", "true on a Mistral / Mixtral model (transformers ignores it)", NULL);
    return s;
}

static Status read_family(const Cfg *g, ModelConfig *c, int *mixtral, int *mistral) {
    const char *mt = NULL;
    const JsonValue *mv = present(g, "model_type");
    if (mv && !json_get_string(g->r, "model_type", &mt)) return bad_type(g, "model_type", "a string");
    if (mt && strcmp(mt, "llama") && strcmp(mt, "mistral") && strcmp(mt, "mixtral") && strcmp(mt, "qwen2"))
        return error_set(g->err, STATUS_FORMAT, "supported: llama, mistral, mixtral, qwen2",
                         "%s: model_type \"%s\" is not supported", g->path, mt);
    *mixtral = json_get(g->r, "num_local_experts") != NULL || (mt && !strcmp(mt, "mixtral"));
    *mistral = mt && !strcmp(mt, "mistral");
    c->qwen2 = mt && !strcmp(mt, "qwen2");
    if (*mixtral && c->qwen2) return refuse(g, "num_local_experts", "on a qwen2 model (Qwen2-MoE)", NULL);
    Status s = refuse_unsupported(g, *mixtral, *mistral);
    if (s || !*mixtral) return s;
    s = get_int(g, "num_local_experts", -1, &c->n_experts);
    if (!s) s = get_int(g, "num_experts_per_tok", 2, &c->experts_per_tok);
    if (!s && (c->n_experts > MOE_MAX_EXPERTS || c->experts_per_tok > c->n_experts))
        s = error_set(g->err, STATUS_FORMAT, NULL, "%s: num_experts_per_tok %d / num_local_experts %d out of range "
                      "(1..experts, at most %d experts)", g->path, c->experts_per_tok, c->n_experts, MOE_MAX_EXPERTS);
    return s;
}

static Status read_dims(const Cfg *g, ModelConfig *c) {
    Status s = get_int(g, "hidden_size", -1, &c->dim);
    if (!s) s = get_int(g, "intermediate_size", -1, &c->hidden_dim);
    if (!s) s = get_int(g, "num_hidden_layers", -1, &c->n_layers);
    if (!s) s = get_int(g, "num_attention_heads", -1, &c->n_heads);
    if (!s) s = get_int(g, "vocab_size", -1, &c->vocab_size);
    if (!s) s = get_int(g, "num_key_value_heads", c->n_heads, &c->n_kv_heads);
    if (!s) s = get_int(g, "head_dim", c->n_heads > 0 ? c->dim / c->n_heads : 1, &c->head_dim);
    if (!s) s = get_int(g, "max_position_embeddings", 2048, &c->max_seq_len);
    if (!s) s = get_int_from(g, "bos_token_id", 1, 0, &c->bos_id);
    if (!s) s = read_eos(g, c);
    if (!s) s = get_num(g, "rms_norm_eps", 1e-6, &c->norm_eps);
    if (!s) s = get_num(g, "rope_theta", 10000.0, &c->rope_theta);
    if (!s) s = get_bool(g, "tie_word_embeddings", &c->tied);
    return s;
}

/* sliding_window W of Mistral / Mixtral: full causal attention for sequences of <= W tokens */
static Status read_window(const Cfg *g, ModelConfig *c, int applies) {
    int w = 0;
    Status s = get_int_from(g, "sliding_window", 0, 0, &w);
    if (!s && applies && w > 0 && w < c->max_seq_len) c->max_seq_len = w;
    return s;
}

Status hf_read_config(const char *dir, ModelConfig *c, Error *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    JsonDoc doc;
    Status s = json_parse_file(&doc, path, err);
    if (s) return s;
    memset(c, 0, sizeof *c);
    Cfg g = { doc.root, path, err };
    int mixtral = 0, mistral = 0, attn_bias = 0;
    if (doc.root->type != JSON_OBJECT) s = bad_type(&g, "(root)", "an object");
    if (!s) s = read_family(&g, c, &mixtral, &mistral);
    if (!s) s = read_dims(&g, c);
    if (!s) s = read_rope_scaling(&g, c);
    if (!s) s = read_window(&g, c, mixtral || mistral);
    if (!s) s = get_bool(&g, "attention_bias", &attn_bias);
    if (!s) {
        c->rope_half = 1;
        if (c->qwen2) c->bias_targets = LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V;
        else if (attn_bias) c->bias_targets = LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V | LORA_TARGET_O;
        s = model_config_validate(c, path, err);
    }
    json_doc_free(&doc);
    return s;
}
