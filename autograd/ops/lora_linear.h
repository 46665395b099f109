/* autograd/ops/lora_linear.h — a linear layer plus its LoRA adapter as one op.
   defines: op_lora_linear, op_lora_linear_residual, OP_LORA_LINEAR, OP_LORA_LINEAR_BF16,
            OP_LORA_LINEAR_TRAIN_W, OP_LORA_LINEAR_RESIDUAL, OP_LORA_LINEAR_RESIDUAL_FROZEN
   x [..., in], w [out, in] (frozen f32 or bf16, or trainable f32), a [r, in], b [out, r], s:
     y = x·wᵀ + s·(x·aᵀ)·bᵀ   [..., out]
   The same value as op_add_scaled(op_linear(x, w), op_linear(op_linear(x, a), b), s), without
   the two [..., out] intermediates and their gradients (Hu et al. 2021, "LoRA"). */
#ifndef OPS_LORA_LINEAR_H
#define OPS_LORA_LINEAR_H
#include "autograd/op.h"

Tensor *op_lora_linear(Tape *t, Tensor *x, Tensor *w, Tensor *a, Tensor *b, real s);
/* (x·wᵀ + s·(x·aᵀ)·bᵀ) + res, res [..., out], whose gradient buffer the output shares (when res
   has one). Only for a res that no op recorded later reads for its gradient (a decoder's
   residual stream, whose one other reader, the norm, comes first): saves the [..., out]
   gradient and the residual add's backward. */
Tensor *op_lora_linear_residual(Tape *t, Tensor *x, Tensor *w, Tensor *a, Tensor *b, real s, Tensor *res);

extern const OpInfo OP_LORA_LINEAR, OP_LORA_LINEAR_BF16, OP_LORA_LINEAR_TRAIN_W, OP_LORA_LINEAR_RESIDUAL,
    OP_LORA_LINEAR_RESIDUAL_FROZEN;

#endif
