/* nn/adapter_experts.h — the LoRA experts of a Mo-LoRA / AdaMoE adapter initialised from several
   existing PEFT LoRA adapters, one per expert (in the spirit of "Leveraging Open Knowledge for
   Advancing Task Expertise in Large Language Models", Yang et al. 2024: task experts trained
   separately, then a router learns to choose among them).
   defines: adapter_experts_from
   Expert e of every routed linear takes adapter e's lora_A (as is) and lora_B scaled by
   s_src / s_dst (s = alpha / r, or alpha / sqrt(r) with rsLoRA), so the expert's update
   s_dst·B_e·A_e equals adapter e's s_src·B·A exactly. The router (fresh, from llama_init_adapter),
   shared experts and constant nulls are left as they are. Every source must be a plain LoRA
   adapter with the model's targets and rank (every layer's rank), and there must be exactly one
   source per true expert of every layer; each mismatch is an error naming the directory, the
   key and both values. Nothing in the model changes unless every source checks out, though a
   failed tensor read may leave earlier experts filled (the caller drops the model). */
#ifndef ADAPTER_EXPERTS_H
#define ADAPTER_EXPERTS_H
#include "nn/llama.h"
#include "tensor/status.h"

Status adapter_experts_from(LlamaModel *m, const char *const *dirs, int n_dirs, Error *err);

#endif
