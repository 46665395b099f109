/* nn/model_config.c — parsing and validation of model / adapter settings. */
#include "model_config.h"
#include <stdio.h>
#include <string.h>

static const char *const TARGET_SHORT[7] = { "q", "k", "v", "o", "gate", "up", "down" };
static const char *const TARGET_PEFT[7] = { "q_proj", "k_proj", "v_proj", "o_proj",
                                            "gate_proj", "up_proj", "down_proj" };

const char *lora_target_module(int bit_index) { return TARGET_PEFT[bit_index]; }

const char *adapter_kind_name(AdapterKind k) {
    switch (k) {
    case ADAPTER_NONE: return "none";
    case ADAPTER_LORA: return "lora";
    case ADAPTER_FULL: return "full";
    }
    return "?";
}

Status adapter_kind_parse(const char *s, AdapterKind *out, Error *err) {
    for (int k = ADAPTER_NONE; k <= ADAPTER_FULL; k++)
        if (!strcmp(s, adapter_kind_name((AdapterKind)k))) {
            *out = (AdapterKind)k;
            return STATUS_OK;
        }
    return error_set(err, STATUS_INVALID, "use one of: none, lora, full",
                     "unknown adapter kind '%s'", s);
}

Status lora_targets_parse(const char *s, int *out, Error *err) {
    if (!strcmp(s, "all")) { *out = LORA_TARGET_ALL; return STATUS_OK; }
    int bits = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < 7; i++)
            if ((strlen(TARGET_SHORT[i]) == len && !strncmp(p, TARGET_SHORT[i], len)) ||
                (strlen(TARGET_PEFT[i]) == len && !strncmp(p, TARGET_PEFT[i], len)))
                found = i;
        if (found < 0)
            return error_set(err, STATUS_INVALID, "targets are a comma list of q,k,v,o,gate,up,down (or all)",
                             "unknown LoRA target '%.*s' in '%s'", (int)len, p, s);
        bits |= 1 << found;
        p += len;
        if (*p == ',') p++;
    }
    if (!bits) return error_set(err, STATUS_INVALID, "name at least one of q,k,v,o,gate,up,down", "empty LoRA target list");
    *out = bits;
    return STATUS_OK;
}

const char *lora_targets_str(int targets, char *buf, size_t n) {
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < 7 && off < n; i++)
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
    return STATUS_OK;
}
