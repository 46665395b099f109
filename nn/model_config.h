/* nn/model_config.h — hyper-parameters of a Llama-style base model and of the adapter on it.
   defines: ModelConfig, AdapterKind, AdapterConfig, LORA_TARGET_*, adapter_kind_name,
            adapter_kind_parse, lora_targets_parse, lora_targets_str, model_config_validate
   Dimension glossary used across nn/: B batch, T sequence, C = dim, H heads, KV kv heads,
   D head_dim, F hidden_dim (FFN), V vocab, L layers, R LoRA rank, N = B*T rows. */
#ifndef MODEL_CONFIG_H
#define MODEL_CONFIG_H
#include <stddef.h>
#include "../tensor/status.h"

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len, head_dim;
    double norm_eps, rope_theta;
    int tied;             /* lm_head shares the embedding table */
    int rope_half;        /* 1: HF rows + half-split RoPE; 0: Meta/llama2.c rows + interleaved */
    int bos_id, eos_id;
} ModelConfig;

typedef enum { ADAPTER_NONE, ADAPTER_LORA, ADAPTER_FULL } AdapterKind;

/* which linears of each layer get an adapter (bit set) */
enum {
    LORA_TARGET_Q = 1 << 0, LORA_TARGET_K = 1 << 1, LORA_TARGET_V = 1 << 2, LORA_TARGET_O = 1 << 3,
    LORA_TARGET_GATE = 1 << 4, LORA_TARGET_UP = 1 << 5, LORA_TARGET_DOWN = 1 << 6,
    LORA_TARGET_ALL = (1 << 7) - 1,
};

typedef struct {
    AdapterKind kind;
    int targets;          /* LORA_TARGET_* bits */
    int rank;
    double alpha;         /* scaling = alpha / rank (rsLoRA: alpha / sqrt(rank)) */
    int rslora;
    double dropout;       /* on the LoRA input; 0 = off */
} AdapterConfig;

const char *adapter_kind_name(AdapterKind k);
Status adapter_kind_parse(const char *s, AdapterKind *out, Error *err);
/* "q,k,v,o,gate,up,down" or "all" (PEFT names q_proj,... accepted too) */
Status lora_targets_parse(const char *s, int *out, Error *err);
/* writes "q,v" style names into buf */
const char *lora_targets_str(int targets, char *buf, size_t n);
/* PEFT module name of target bit i: "q_proj", ..., "down_proj" */
const char *lora_target_module(int bit_index);
/* Checks the dimensions are consistent; `source` names the file in the error. */
Status model_config_validate(const ModelConfig *c, const char *source, Error *err);

#endif
