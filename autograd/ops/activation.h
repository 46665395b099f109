/* autograd/ops/activation.h — smooth activations and softmax.
   defines: op_silu, op_swiglu, op_swiglu_shared_grad, op_softmax, softmax_row, OP_SILU, OP_SWIGLU,
            OP_SWIGLU_SHARED_GRAD, OP_SOFTMAX */
#ifndef OPS_ACTIVATION_H
#define OPS_ACTIVATION_H
#include "autograd/op.h"

Tensor *op_silu(Tape *t, Tensor *a);               /* a·σ(a), any shape */
Tensor *op_swiglu(Tape *t, Tensor *a, Tensor *b);  /* silu(a)·b, a and b same shape */
/* silu(a)·b whose output gradient buffer IS b's: only for a b no other op reads afterwards
   (the MLP's up projection); saves one [.., F] gradient buffer.
   SPEED TWIN of op_swiglu (registered as op "swiglu_shared_grad", twin_of "swiglu"): the same
   forward fill and the same backward formulas in the same order, so values and gradients equal
   op_swiglu's bit for bit (tests/autograd/test_inplace_twins.c,
   test_swiglu_shared_grad_matches_swiglu); its backward writes db over dy in the shared buffer. */
Tensor *op_swiglu_shared_grad(Tape *t, Tensor *a, Tensor *b);
Tensor *op_softmax(Tape *t, Tensor *x);            /* softmax over the last dim, any shape */
/* y [C] = softmax(x [C]): op_softmax's forward on one row, no tape (the decode step's routers
   use it so that they see the very probabilities training computes from the same logits) */
void softmax_row(real *y, const real *x, int C);

extern const OpInfo OP_SILU, OP_SWIGLU, OP_SWIGLU_SHARED_GRAD, OP_SOFTMAX;

#endif
