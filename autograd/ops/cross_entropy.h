/* autograd/ops/cross_entropy.h — fused, masked softmax cross-entropy from logits.
   defines: CE_IGNORE_INDEX, op_cross_entropy, cross_entropy_rows, OP_CROSS_ENTROPY */
#ifndef OPS_CROSS_ENTROPY_H
#define OPS_CROSS_ENTROPY_H
#include "autograd/op.h"

#define CE_IGNORE_INDEX (-100)   /* PyTorch's ignore_index: the row does not count */

/* logits [..., V] with n rows; targets[i] in [0, V) or CE_IGNORE_INDEX.
   Returns a scalar [1]: mean over counted rows of -log softmax(logits[i])[targets[i]];
   0 (with zero gradient) when no row counts. `targets` is only read during the call. */
Tensor *op_cross_entropy(Tape *t, Tensor *logits, const int *targets, int n);

/* No tape: logp[i] = log softmax(logits[i])[targets[i]] (double) for the n rows of a
   row-major [n, V] array; logp[i] = 0 for ignored rows. For eval scoring. */
void cross_entropy_rows(const real *logits, int n, int V, const int *targets, double *logp);

extern const OpInfo OP_CROSS_ENTROPY;

#endif
