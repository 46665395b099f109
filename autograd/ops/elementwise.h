/* autograd/ops/elementwise.h — same-shape elementwise ops.
   defines: op_add, op_add_inplace, op_mul, op_scale, OP_ADD, OP_ADD_INPLACE,
            OP_ADD_INPLACE_FROZEN_ACC, OP_MUL, OP_SCALE */
#ifndef OPS_ELEMENTWISE_H
#define OPS_ELEMENTWISE_H
#include "autograd/op.h"

Tensor *op_add(Tape *t, Tensor *a, Tensor *b);     /* a + b, same shape */
/* acc += b in place; returns acc's view (same values, same gradient buffer). Only for an acc
   no other op reads afterwards (e.g. a residual branch's fresh output). */
Tensor *op_add_inplace(Tape *t, Tensor *acc, Tensor *b);
Tensor *op_mul(Tape *t, Tensor *a, Tensor *b);     /* a * b, same shape */
Tensor *op_scale(Tape *t, Tensor *a, real s);      /* s * a */

extern const OpInfo OP_ADD, OP_ADD_INPLACE, OP_ADD_INPLACE_FROZEN_ACC, OP_MUL, OP_SCALE;

#endif
