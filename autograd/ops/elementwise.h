/* autograd/ops/elementwise.h — same-shape elementwise ops.
   defines: op_add, op_mul, op_scale, OP_ADD, OP_MUL, OP_SCALE */
#ifndef OPS_ELEMENTWISE_H
#define OPS_ELEMENTWISE_H
#include "../op.h"

Tensor *op_add(Tape *t, Tensor *a, Tensor *b);     /* a + b, same shape */
Tensor *op_mul(Tape *t, Tensor *a, Tensor *b);     /* a * b, same shape */
Tensor *op_scale(Tape *t, Tensor *a, real s);      /* s * a */

extern const OpInfo OP_ADD, OP_MUL, OP_SCALE;

#endif
