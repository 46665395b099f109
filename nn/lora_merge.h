/* nn/lora_merge.h — folding a trained LoRA adapter into the base weights, for `./train export`.
   defines: lora_merge_check, lora_merge
   For every adapted linear with A [r, in], B [out, r] and scaling s (α/r, or α/√r for rsLoRA,
   the adapter's own setting; Hu et al. 2021, Kalajdzievski 2023):
       W' = W + s · B·A            [out, in]
   so x·W'ᵀ = x·Wᵀ + s·(x·Aᵀ)·Bᵀ for every x: the merged model computes what base + adapter
   computed (up to float rounding), and tools that know nothing of LoRA can load it.
   A mixture of LoRA experts cannot be merged: its output is Σ_e g_e(x)·B_e·A_e·x with weights g
   that depend on the input (a router's top-k), so no single dense W' equals it for every x. */
#ifndef LORA_MERGE_H
#define LORA_MERGE_H
#include "nn/llama.h"
#include "tensor/status.h"

/* STATUS_INVALID with the reason for the adapter kinds that cannot be merged (molora, adamoe,
   moe-ffn), pointing to generate / eval, which use them as they are; STATUS_OK for lora and full.
   adapter_dir names the directory in the message. */
Status lora_merge_check(const AdapterConfig *a, const char *adapter_dir, Error *err);
/* W += s·B·A for every "X.lora_A.weight" / "X.lora_B.weight" pair into "X.weight" (the base
   weight must be held in real storage), then B is zeroed, so the model without its adapter and
   the model with it give the same output. Returns the number of pairs merged. */
int lora_merge(LlamaModel *m);

#endif
