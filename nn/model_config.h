/* nn/model_config.h — hyper-parameters of a Llama-style base model and of the adapter on it.
   defines: ModelConfig, AdapterKind, AdapterConfig, LORA_TARGET_*, MoeNormalize, MoeNullKind,
            MoeAuxKind, MOE_MAX_EXPERTS, adapter_kind_name, adapter_kind_parse, adapter_is_routed,
            moe_normalize_parse/name, moe_null_kind_parse/name, moe_aux_kind_parse/name,
            moe_routing_parse/name,
            adapter_moe_validate, adapter_moe_layer, adapter_moe_check_layers,
            int_list_parse, lora_targets_parse, lora_targets_str, model_config_validate,
            RopeScaling, rope_inv_freq, model_is_eos, MODEL_MAX_EOS
   Dimension glossary used across nn/: B batch, T sequence, C = dim, H heads, KV kv heads,
   D head_dim, F hidden_dim (FFN), V vocab, L layers, R LoRA rank, N = B*T rows. */
#ifndef MODEL_CONFIG_H
#define MODEL_CONFIG_H
#include <stddef.h>
#include "tensor/status.h"

/* RoPE frequency rescaling (HF config.json "rope_scaling"): none, or Llama 3.x's "llama3" */
typedef enum { ROPE_SCALING_NONE = 0, ROPE_SCALING_LLAMA3 = 1 } RopeScaling;

#define MODEL_MAX_EOS 8   /* eos_token_id may be a list (Llama 3.x Instruct: 3 ids) */

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len, head_dim;
    double norm_eps, rope_theta;
    int tied;             /* lm_head shares the embedding table */
    int rope_half;        /* 1: HF rows + half-split RoPE; 0: Meta/llama2.c rows + interleaved */
    int bos_id, eos_id;   /* eos_id = eos_ids[0] */
    int eos_ids[MODEL_MAX_EOS], n_eos;   /* every EOS id (generation stops at any); n_eos 0 = eos_id only */
    int n_experts;        /* Mixtral: FFN experts per layer (num_local_experts); 0 = dense Llama FFN */
    int experts_per_tok;  /* Mixtral: the base router's top-k (num_experts_per_tok) */
    /* Llama 3.x rope_scaling "llama3" (rope_inv_freq): factor F, low / high_freq_factor L / H,
       original_max_position_embeddings O; unused with ROPE_SCALING_NONE */
    RopeScaling rope_scaling;
    double rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max_pos;
    /* frozen biases on the attention projections (LORA_TARGET_Q/K/V/O bits): Qwen2 q,k,v;
       Llama attention_bias q,k,v,o; 0 = none. qwen2 = 1 marks model_type qwen2 (for writers). */
    int bias_targets;
    int qwen2;
} ModelConfig;

/* molora: n LoRA experts per adapted linear, top-k, renormalised over the selected (MoLA);
   adamoe: n true + m null experts, top-k over n+m (AdaMoE, Zeng et al. 2024) */
/* moe-ffn: AdaMoE on a Mixtral FFN (gate2 null-expert router + LoRA on the experts; nn/moe_ffn.h) */
typedef enum { ADAPTER_NONE, ADAPTER_LORA, ADAPTER_FULL, ADAPTER_MOLORA, ADAPTER_ADAMOE, ADAPTER_MOE_FFN } AdapterKind;
/* moe-ffn gate2 [m, C] init: copy (row j = gate row j mod n), zeros, random U(±1/sqrt(C)) */
typedef enum { MOE_GATE2_COPY, MOE_GATE2_ZEROS, MOE_GATE2_RANDOM } MoeGate2Init;

/* AdaMoE option 2 (renormalise over the selected TRUE experts; default) / option 1 (over all
   selected, nulls included) */
typedef enum { MOE_NORM_TRUE_ONLY, MOE_NORM_ALL_SELECTED } MoeNormalize;
/* null expert output: zero (default) or the input itself (only where in == out) */
typedef enum { MOE_NULL_ZERO, MOE_NULL_IDENTITY, MOE_NULL_CONSTANT } MoeNullKind;
/* routing rule (nn/moe.h explains each): top-k (default), top-p dynamic, dense (LoRAMoE),
   stochastic (THOR), expert-choice (non-causal; scoring only) */
typedef enum { MOE_ROUTING_TOPK, MOE_ROUTING_TOP_P, MOE_ROUTING_DENSE, MOE_ROUTING_STOCHASTIC,
               MOE_ROUTING_EXPERT_CHOICE } MoeRouting;
/* load-balancing loss: Eq. 6 (nulls balanced as one group), vanilla (each expert), none */
typedef enum { MOE_AUX_EQ6, MOE_AUX_VANILLA, MOE_AUX_NONE } MoeAuxKind;

#define MOE_MAX_EXPERTS 64      /* n_true + n_null per router */
#define MOE_MAX_LAYERS 64       /* length of the per-layer lists */

/* which linears of each layer get an adapter (bit set). ROUTER is the Mixtral router
   block_sparse_moe.gate (LoRA on the frozen router, nn/moe_ffn.h); it lies outside ALL, so "all"
   means the seven linears q..down, as before, and the router is asked for by name ("all,router"). */
enum {
    LORA_TARGET_Q = 1 << 0, LORA_TARGET_K = 1 << 1, LORA_TARGET_V = 1 << 2, LORA_TARGET_O = 1 << 3,
    LORA_TARGET_GATE = 1 << 4, LORA_TARGET_UP = 1 << 5, LORA_TARGET_DOWN = 1 << 6,
    LORA_TARGET_ALL = (1 << 7) - 1,
    LORA_TARGET_ROUTER = 1 << 7,
};
#define LORA_TARGET_BITS 8   /* bit indices 0..7 (lora_target_module, lora_targets_str) */

typedef struct {
    AdapterKind kind;
    int targets;          /* LORA_TARGET_* bits */
    int rank;
    double alpha;         /* scaling = alpha / rank (rsLoRA: alpha / sqrt(rank)) */
    int rslora;
    double dropout;       /* on the LoRA input; 0 = off */
    /* molora / adamoe only (zero for the others): */
    int n_true, n_null, top_k;  /* experts per adapted linear, top-k over n_true + n_null */
    MoeNormalize normalize;
    MoeNullKind null_kind;
    MoeAuxKind aux;
    double aux_coef;      /* loss = CE + aux_coef · Σ_layers aux (the trainer may schedule it) */
    double k_baseline;    /* %FLOPs saved = 1 - Load / k_baseline (0 means 2) */
    MoeGate2Init gate2_init;   /* moe-ffn only */
    int upcycle;          /* > 0: a dense model's FFN becomes this many experts (moe-ffn, nn/moe_ffn.h) */
    MoeRouting routing;   /* default top-k */
    double top_p;         /* top-p routing: smallest set with probability mass >= top_p */
    double entropy_coef;  /* loss += entropy_coef · Σ_modules mean router entropy (0 = off) */
    int n_shared;         /* always-on shared LoRA experts (weight 1, DeepSeek-style) */
    /* per-layer lists (MoLA-style "higher layers need more experts"; molora / adamoe only):
       n_layer_values = their length (0 = the scalars above for every layer); an entry 0 means
       the scalar, except for layer_n_null (adamoe) where 0 means no null experts in that layer;
       must equal the model's layer count (adapter_moe_check_layers) */
    int n_layer_values;
    int layer_n_true[MOE_MAX_LAYERS], layer_n_null[MOE_MAX_LAYERS], layer_top_k[MOE_MAX_LAYERS],
        layer_rank[MOE_MAX_LAYERS];
    /* the field around AdaMoE (molora / adamoe; nn/moe.h): */
    int pregate;          /* Pre-gated MoE: a layer's routers read the previous layer's module input */
    int router_frozen;    /* SMoE-Dropout: routers keep their random init (no gradient, no update) */
    int freeze_experts;   /* the routed LoRA experts get no gradient (e.g. --experts-from adapters) */
} AdapterConfig;

const char *adapter_kind_name(AdapterKind k);
Status adapter_kind_parse(const char *s, AdapterKind *out, Error *err);
int adapter_is_routed(const AdapterConfig *a);        /* molora or adamoe */
/* "true-only" / "true_only", "all-selected" / "all_selected" */
Status moe_normalize_parse(const char *s, MoeNormalize *out, Error *err);
const char *moe_normalize_name(MoeNormalize v);       /* underscore spelling, as torch_ref / JSON */
Status moe_null_kind_parse(const char *s, MoeNullKind *out, Error *err);
const char *moe_null_kind_name(MoeNullKind v);
Status moe_aux_kind_parse(const char *s, MoeAuxKind *out, Error *err);
/* "topk", "top-p", "dense", "stochastic", "expert-choice" */
Status moe_routing_parse(const char *s, MoeRouting *out, Error *err);
const char *moe_routing_name(MoeRouting v);
const char *moe_aux_kind_name(MoeAuxKind v);
Status moe_gate2_init_parse(const char *s, MoeGate2Init *out, Error *err);
const char *moe_gate2_init_name(MoeGate2Init v);
/* Sets the MoE defaults of a kind (molora: 4 experts, top-2; adamoe: 4 + 4 null, top-4; eq6,
   coef 0.001, true-only, zero nulls, k_baseline 2). */
void adapter_moe_defaults(AdapterConfig *a);
/* Checks n_true >= 1, n_true + n_null <= MOE_MAX_EXPERTS, 1 <= top_k <= n_true + n_null,
   molora has no nulls, rank >= 1, aux_coef >= 0. */
Status adapter_moe_validate(const AdapterConfig *a, Error *err);
/* the config of one layer: the scalars replaced by the layer's list entries (a layer past the
   lists' end takes the last entry) */
AdapterConfig adapter_moe_layer(const AdapterConfig *a, int layer);
/* every layer's config valid and the lists as long as the model (n_layers) */
Status adapter_moe_check_layers(const AdapterConfig *a, int n_layers, Error *err);
/* "4" or "2,2,4,4" → vals[0..*n) (each >= lo), *n <= MOE_MAX_LAYERS; what names the flag */
Status int_list_parse(const char *s, const char *what, int lo, int *vals, int *n, Error *err);

/* a comma list of q,k,v,o,gate,up,down,router and "all" (= the seven linears, not the router),
   e.g. "q,v", "all", "all,router" (PEFT names q_proj, ..., block_sparse_moe.gate and Mixtral
   w1,w3,w2 accepted too) */
Status lora_targets_parse(const char *s, int *out, Error *err);
/* writes "q,v,router" style names into buf */
const char *lora_targets_str(int targets, char *buf, size_t n);
/* PEFT module name of target bit i: "q_proj", ..., "down_proj", "block_sparse_moe.gate" */
const char *lora_target_module(int bit_index);
/* Checks the dimensions are consistent; `source` names the file in the error. */
Status model_config_validate(const ModelConfig *c, const char *source, Error *err);
/* RoPE inverse frequencies inv_freq[0..head_dim/2), in double: theta^(-2j/D); with llama3
   scaling (Llama 3.1 / 3.2; as HF transformers' _compute_llama3_parameters), wavelen = 2π/inv_freq:
     wavelen > O/L: inv_freq / F            (low frequencies: stretched by the factor)
     wavelen < O/H: inv_freq                (high frequencies: unchanged)
     otherwise:     (1 - s)·inv_freq/F + s·inv_freq,  s = (O/wavelen - L) / (H - L) */
void rope_inv_freq(const ModelConfig *c, double *inv_freq);
/* 1 if id is one of the model's EOS ids */
int model_is_eos(const ModelConfig *c, int id);

#endif
