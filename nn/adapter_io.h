/* nn/adapter_io.h — plain LoRA adapters on disk in the PEFT layout (REFERENCE.md §4.6,
   ARCHITECTURE.md "File formats"), so PEFT / torch_ref.py load what we write and vice versa.
   defines: ADAPTER_KEY_PREFIX, adapter_file_key, adapter_save, adapter_read_config, adapter_load
   A directory holds two files, each written atomically (temp file + fsync + rename):
     adapter_model.safetensors  F32 tensors "base_model.model.<module>.lora_A.weight" [R, in] and
                                "base_model.model.<module>.lora_B.weight" [out, R]; our ParamStore
                                names are the same without the "base_model.model." prefix
     adapter_config.json        PEFT LoraConfig keys: peft_type "LORA", task_type "CAUSAL_LM",
                                r, lora_alpha, lora_dropout, target_modules (q_proj ... down_proj;
                                Mixtral: w1 / w3 / w2 for moe-ffn experts, block_sparse_moe.gate
                                for a LoRA on the router; read: a bare "gate" is the router too),
                                bias "none", fan_in_fan_out false, use_rslora, ... and NO "moe"
                                key for plain LoRA. Mo-LoRA / AdaMoE adapters add expert banks
                                (lora_A.{e}, lora_B.{e}), routers (router.weight) and a "moe"
                                object (nn/adapter_moe.h), as torch_ref.py writes them.
   Layout caveat: the rows of a q/k lora_B live in the row layout of the base file they adapt
   (llama2.c .bin = Meta rows + interleaved RoPE, HF = HF rows + half-split RoPE). An adapter is
   therefore tied to the layout of the base file it was trained on; moving it to the same model
   in the other format needs its q/k lora_B rows permuted like the base q/k rows
   (rope_permute_rows in checkpoint.h; torch_ref.py `convert --adapter-dir` does the same).
   Full fine-tuning (ADAPTER_FULL) is not an adapter and is refused. */
#ifndef ADAPTER_IO_H
#define ADAPTER_IO_H
#include <stddef.h>
#include "nn/llama.h"
#include "nn/model_config.h"
#include "tensor/status.h"

#define ADAPTER_KEY_PREFIX "base_model.model."

/* "model.layers.0.self_attn.q_proj.lora_A.weight" -> "base_model.model.model.layers.0...." */
const char *adapter_file_key(const char *param_name, char *buf, size_t n);

/* Writes DIR/adapter_model.safetensors and DIR/adapter_config.json (DIR created if needed).
   base_name goes to base_model_name_or_path (may be NULL). */
Status adapter_save(const LlamaModel *m, const char *dir, const char *base_name, Error *err);

/* Reads DIR/adapter_config.json into cfg (kind ADAPTER_LORA, targets, rank, alpha, rslora,
   dropout; a "moe" object makes it molora / adamoe / moe-ffn, nn/adapter_moe.h) so the model
   can be declared with the right adapter shapes. */
Status adapter_read_config(const char *dir, AdapterConfig *cfg, Error *err);

/* Fills the model's LoRA tensors from DIR. Strict: the config must equal the model's adapter
   config, every LoRA tensor must be present with its shape, and an unknown key is an error. */
Status adapter_load(LlamaModel *m, const char *dir, Error *err);

/* model_load + (if adapter_dir) the adapter's shapes from its config and its values. */
Status model_load_with_adapter(LlamaModel *m, const char *model_path, const char *adapter_dir, int frozen_bf16,
                               Error *err);

#endif
