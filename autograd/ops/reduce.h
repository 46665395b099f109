/* autograd/ops/reduce.h — reductions to a scalar, and a scaled add.
   defines: op_sum, op_mean, op_add_scaled, OP_SUM, OP_MEAN, OP_ADD_SCALED */
#ifndef OPS_REDUCE_H
#define OPS_REDUCE_H
#include "autograd/op.h"

Tensor *op_sum(Tape *t, Tensor *x);                        /* Σ x, shape [1] */
Tensor *op_mean(Tape *t, Tensor *x);                       /* Σ x / numel, shape [1]; numel > 0 */
Tensor *op_add_scaled(Tape *t, Tensor *a, Tensor *b, real s); /* a + s·b, a and b same shape */

extern const OpInfo OP_SUM, OP_MEAN, OP_ADD_SCALED;

#endif
