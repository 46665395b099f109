/* autograd/ops/gelu.h — GELU, tanh approximation (GPT-2, Gemma's GeGLU; PyTorch's
   gelu(approximate="tanh")).
   defines: op_gelu_tanh, OP_GELU_TANH */
#ifndef OPS_GELU_H
#define OPS_GELU_H
#include "autograd/op.h"

/* x any shape -> y like x, elementwise y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) */
Tensor *op_gelu_tanh(Tape *t, Tensor *x);

extern const OpInfo OP_GELU_TANH;   /* cases: plain, tails */

#endif
