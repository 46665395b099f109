/* nn/lora.h — a frozen linear layer with an optional LoRA adapter.
   defines: LoraLinear, lora_linear_declare, lora_linear_declare_bias, lora_linear_init,
            lora_linear_forward, lora_linear_forward_residual
   y = x·Wᵀ + s · (dropout(x)·Aᵀ)·Bᵀ,  W [out, in] frozen, A [R, in], B [out, R] trainable,
   s = alpha / R (rsLoRA: alpha / sqrt(R)). A is kaiming-uniform (PyTorch's default
   U(±1/sqrt(in))), B is zero, so a fresh adapter leaves the model unchanged. W + s·B·A is never
   materialised during training (Hu et al. 2021, "LoRA"; PEFT's LoraLayer semantics).
   Names: base "PREFIX.weight", adapter "PREFIX.lora_A.weight" / "PREFIX.lora_B.weight", where
   PREFIX is the HF module path ("model.layers.0.self_attn.q_proj"); PEFT files add
   "base_model.model." in front. With rank 0 it is a plain (frozen or, for full fine-tuning,
   trainable) linear. For molora / adamoe the adapter is a bank of routed LoRA experts
   (`moe`, nn/moe.h) instead of the single A, B: lora_linear_forward then adds the experts' output.
   An optional bias b [out] ("PREFIX.bias"; Qwen2 q/k/v, Llama attention_bias) belongs to the base:
   y = x·Wᵀ + b + (adapter), frozen like W (trainable for full fine-tuning). */
#ifndef LORA_H
#define LORA_H
#include "nn/param_store.h"
#include "nn/model_config.h"
#include "nn/moe.h"
#include "autograd/tape.h"
#include "tensor/rng.h"

typedef struct {
    int in, out, rank;
    real scaling;
    real dropout;
    Tensor *weight;            /* [out, in] */
    Tensor *lora_a, *lora_b;   /* [R, in], [out, R]; NULL when rank == 0 */
    Tensor *bias;              /* [out] base bias, or NULL */
    MoeLinear *moe;            /* routed LoRA experts (molora / adamoe), else NULL; owned */
} LoraLinear;

/* Declares the base weight (trainable when full_ft) and, if rank > 0, A and B. */
void lora_linear_declare(LoraLinear *m, ParamStore *ps, const char *prefix, int in, int out,
                         int rank, const AdapterConfig *cfg, int full_ft);
/* Declares the base bias "PREFIX.bias" [out] (trainable when full_ft); after lora_linear_declare. */
void lora_linear_declare_bias(LoraLinear *m, ParamStore *ps, const char *prefix, int full_ft);
/* A ~ kaiming-uniform from rng, B = 0. */
void lora_linear_init(LoraLinear *m, Rng *rng);
/* x [..., in] -> [..., out]. `drop_rng` (may be NULL) drives LoRA dropout when training. */
Tensor *lora_linear_forward(Tape *t, const LoraLinear *m, Tensor *x, Rng *drop_rng);
/* lora_linear_forward(x) + res, res [..., out] a residual that no op recorded later reads for its
   gradient (a decoder's residual stream): the output shares res's gradient buffer when the fused
   op_lora_linear_residual applies, else the sum is op_add_inplace on the fresh output. The same
   values either way. */
Tensor *lora_linear_forward_residual(Tape *t, const LoraLinear *m, Tensor *x, Tensor *res, Rng *drop_rng);

#endif
