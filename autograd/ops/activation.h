/* autograd/ops/activation.h — smooth activations and softmax.
   defines: op_silu, op_swiglu, op_softmax, OP_SILU, OP_SWIGLU, OP_SOFTMAX */
#ifndef OPS_ACTIVATION_H
#define OPS_ACTIVATION_H
#include "../op.h"

Tensor *op_silu(Tape *t, Tensor *a);               /* a·σ(a), any shape */
Tensor *op_swiglu(Tape *t, Tensor *a, Tensor *b);  /* silu(a)·b, a and b same shape */
Tensor *op_softmax(Tape *t, Tensor *x);            /* softmax over the last dim, any shape */

extern const OpInfo OP_SILU, OP_SWIGLU, OP_SOFTMAX;

#endif
