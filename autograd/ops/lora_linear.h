/* autograd/ops/lora_linear.h — a linear layer plus its LoRA adapter as one op.
   defines: op_lora_linear, op_lora_linear_residual, OP_LORA_LINEAR, OP_LORA_LINEAR_RESIDUAL
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
   gradient and the residual add's backward.
   SPEED TWIN of op_lora_linear followed by op_add (registered as op "lora_linear_residual",
   twin_of "lora_linear"): the same products and the same final add, so values and gradients
   equal op_add(res, op_lora_linear(...))'s bit for bit (tests/autograd/test_inplace_twins.c,
   test_lora_linear_residual_matches_lora_then_add). It exists so that a decoder's residual
   stream keeps ONE [N, C] gradient buffer for all of its states. */
Tensor *op_lora_linear_residual(Tape *t, Tensor *x, Tensor *w, Tensor *a, Tensor *b, real s, Tensor *res);

extern const OpInfo OP_LORA_LINEAR, OP_LORA_LINEAR_RESIDUAL;

#endif
