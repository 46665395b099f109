/* autograd/ops/elementwise.h — same-shape elementwise ops.
   defines: op_add, op_add_inplace, op_mul, op_scale, ew_axpy, OP_ADD, OP_ADD_INPLACE, OP_MUL, OP_SCALE */
#ifndef OPS_ELEMENTWISE_H
#define OPS_ELEMENTWISE_H
#include "autograd/op.h"

Tensor *op_add(Tape *t, Tensor *a, Tensor *b);     /* a + b, same shape */
/* acc += b in place; returns acc's view (same values, same gradient buffer). Only for an acc
   no other op reads afterwards (e.g. a residual branch's fresh output).
   SPEED TWIN of op_add (registered as op "add_inplace", twin_of "add"): the same sum, rounded
   the same (acc + b == b + acc exactly), so values and gradients equal op_add's bit for bit
   (tests/autograd/test_inplace_twins.c, test_add_inplace_matches_add). It exists to save the
   decoder's residual add one [N, C] output and one [N, C] gradient buffer per layer: dacc = dy
   is already in the shared buffer, so its backward only adds db. */
Tensor *op_add_inplace(Tape *t, Tensor *acc, Tensor *b);
Tensor *op_mul(Tape *t, Tensor *a, Tensor *b);     /* a * b, same shape */
Tensor *op_scale(Tape *t, Tensor *a, real s);      /* s * a */
/* y[i] += s·x[i] for i < n, on the thread pool when n is large (the same bits for any thread
   count); the fused ops' residual and gradient adds use it too */
void ew_axpy(real *y, real s, const real *x, size_t n);

extern const OpInfo OP_ADD, OP_ADD_INPLACE, OP_MUL, OP_SCALE;

#endif
