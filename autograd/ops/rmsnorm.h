/* autograd/ops/rmsnorm.h — RMSNorm over the last dim (Zhang & Sennrich 2019; Llama).
   defines: op_rmsnorm, OP_RMSNORM */
#ifndef OPS_RMSNORM_H
#define OPS_RMSNORM_H
#include "autograd/op.h"

/* x [..., C], w [C] (trainable or frozen: grad NULL) -> y [..., C],
   y = x * rsqrt(mean(x^2) + eps) * w, row by row. */
Tensor *op_rmsnorm(Tape *t, Tensor *x, Tensor *w, real eps);

extern const OpInfo OP_RMSNORM;   /* cases: plain, frozen_w */

#endif
