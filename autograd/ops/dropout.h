/* autograd/ops/dropout.h — inverted dropout.
   defines: op_dropout, OP_DROPOUT */
#ifndef OPS_DROPOUT_H
#define OPS_DROPOUT_H
#include "autograd/op.h"

/* y = x * mask / (1 - p), mask_i ~ Bernoulli(1 - p) drawn from rng (in element order, so the
   mask depends only on the rng state: deterministic for any thread count). p in [0, 1). */
Tensor *op_dropout(Tape *t, Tensor *x, real p, Rng *rng);

extern const OpInfo OP_DROPOUT;

#endif
