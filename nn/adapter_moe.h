/* nn/adapter_moe.h — the "moe" object of adapter_config.json for Mo-LoRA / AdaMoE adapters, as
   shared/tools/torch_ref.py adapter_config_dict() writes it (ARCHITECTURE.md "File formats"):
     "moe": {"type": "molora"|"adamoe", "n_true": n, "n_null": m, "top_k": k,
             "normalize": "true_only"|"all_selected", "null_kind": "zero"|"identity"|"constant",
             "targets": ["q_proj", ...], "aux": {"kind": "eq6"|"vanilla"|"none", "coef": c}}
   plus our own keys (absent = the defaults: top-k routing, no shared experts, no lists):
   "routing", "top_p", "entropy_coef", "n_shared", "pregate" / "router" ("learned" |
   "frozen_random") / "freeze_experts" (written only when one is on), per-layer "layer_n_true" / "layer_n_null" /
   "layer_top_k" / "layer_rank"; moe-ffn adapters: "type": "moe-ffn", "gate2_init", "upcycle".
   "targets" is written (as torch_ref.py does) but not read back: PEFT's target_modules decides.
   The tensors sit next to PEFT's: PREFIX.lora_A.{e}.weight [r, in], PREFIX.lora_B.{e}.weight
   [out, r], PREFIX.router.weight [n+m, in] (PREFIX = base_model.model.<module path>).
   defines: adapter_is_param_name, adapter_moe_write_json, adapter_moe_read_json,
            adapter_moe_matches */
#ifndef ADAPTER_MOE_H
#define ADAPTER_MOE_H
#include <stdio.h>
#include "nn/model_config.h"
#include "data/json.h"

/* 1 for the parameter names an adapter file holds: LoRA tensors and routers */
int adapter_is_param_name(const char *name);
/* PEFT module name of target bit i: Mixtral expert linears of a moe-ffn adapter (not upcycled)
   are w1 / w3 / w2, everything else as lora_target_module() (the router: block_sparse_moe.gate) */
const char *adapter_target_module(const AdapterConfig *a, int bit_index);
/* writes `,\n  "moe": {...}` (nothing for plain LoRA); moe-ffn adds "gate2_init" (and "upcycle": n
   for an upcycled dense model) and its "targets" are ["block_sparse_moe"] (["mlp"] upcycled) */
void adapter_moe_write_json(FILE *f, const AdapterConfig *a);
/* Reads the "moe" object (v) of `path` into cfg (kind, n_true, n_null, top_k, normalize,
   null_kind, aux, aux_coef and the keys above), over adapter_moe_defaults; then every layer's
   config must be valid (adapter_moe_check_layers). */
Status adapter_moe_read_json(const JsonValue *v, const char *path, AdapterConfig *cfg, Error *err);
/* The expert layout of file config f equals that of model config m (kind, n, m, k, normalize,
   null kind); the aux settings may differ (they are training settings). */
Status adapter_moe_matches(const AdapterConfig *f, const AdapterConfig *m, const char *dir, Error *err);

#endif
