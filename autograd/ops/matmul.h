/* autograd/ops/matmul.h — matrix products.
   defines: op_linear, op_matmul, OP_LINEAR, OP_LINEAR_FROZEN, OP_LINEAR_BF16,
            OP_MATMUL_NN, OP_MATMUL_NT, OP_MATMUL_TN, OP_MATMUL_TT */
#ifndef OPS_MATMUL_H
#define OPS_MATMUL_H
#include "../op.h"

/* y = x · wᵀ. x [..., in] (leading dims flattened to rows), w [out, in] → y [..., out].
   w may be trainable (grad != NULL), frozen f32 (grad == NULL) or frozen bf16
   (w->bf16 != NULL, w->data == NULL, w->grad must be NULL). */
Tensor *op_linear(Tape *t, Tensor *x, Tensor *w);
/* y = op(a) · op(b), 2-D only; op(m) = mᵀ if the trans flag is set. y [M, N]. */
Tensor *op_matmul(Tape *t, Tensor *a, Tensor *b, int trans_a, int trans_b);

extern const OpInfo OP_LINEAR, OP_LINEAR_FROZEN, OP_LINEAR_BF16;
extern const OpInfo OP_MATMUL_NN, OP_MATMUL_NT, OP_MATMUL_TN, OP_MATMUL_TT;

#endif
