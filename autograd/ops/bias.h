/* autograd/ops/bias.h — a bias vector added to every row, in place.
   defines: op_add_bias_inplace, OP_ADD_BIAS_INPLACE
   y [..., n] (a fresh output no other op reads yet, e.g. a projection), b [n]:
     y[r, j] += b[j]   (nn.Linear's "+ bias"; Qwen2's q/k/v projections) */
#ifndef OPS_BIAS_H
#define OPS_BIAS_H
#include "autograd/op.h"

/* y += b on every row; returns y's in-place view (same values and gradient buffer). */
Tensor *op_add_bias_inplace(Tape *t, Tensor *y, Tensor *b);

extern const OpInfo OP_ADD_BIAS_INPLACE;

#endif
