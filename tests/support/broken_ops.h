/* tests/support/broken_ops.h — deliberately wrong ops, kept to prove the gradient check can fail.
   defines: BROKEN_OP_ASSIGN (backward uses = instead of +=), BROKEN_OP_WRONG (bad formula) */
#ifndef BROKEN_OPS_H
#define BROKEN_OPS_H
#include "autograd/op.h"
extern const OpCase BROKEN_OP_ASSIGN, BROKEN_OP_WRONG;   /* cases, run with gradcheck_op */
#endif
