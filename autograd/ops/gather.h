/* autograd/ops/gather.h — row gathers/scatters (token routing to experts) and column copies.
   defines: op_gather_rows, op_scatter_add_rows, op_scatter_add_rows_inplace, op_slice_cols,
            op_concat_cols, OP_GATHER_ROWS, OP_SCATTER_ADD_ROWS, OP_SCATTER_ADD_ROWS_INPLACE,
            OP_SLICE_COLS, OP_CONCAT_COLS */
#ifndef OPS_GATHER_H
#define OPS_GATHER_H
#include "autograd/op.h"

/* y [n, C], y[i] = x[idx[i]]; x [N, C], every idx in [0, N) (may repeat). idx is copied. */
Tensor *op_gather_rows(Tape *t, Tensor *x, const int *idx, int n);
/* y [N, C] = base + Σ_i w[i]·src[i] added at row idx[i]; base [N, C], src [n, C], idx [n]
   in [0, N) (may repeat), w [n] (any shape with n elements) or NULL for weight 1.
   Gradients flow to base, src and w. idx is copied. */
Tensor *op_scatter_add_rows(Tape *t, Tensor *base, Tensor *src, const int *idx, Tensor *w);
/* The same into base's own storage and gradient (base must have no other consumer; w required).
   SPEED TWIN of op_scatter_add_rows (registered as op "scatter_add_rows_inplace", twin_of
   "scatter_add_rows"): the same adds in the same order, so values and gradients equal
   op_scatter_add_rows's bit for bit (tests/autograd/test_inplace_twins.c,
   test_scatter_add_rows_inplace_matches_scatter). It exists for the MoE FFN (nn/moe_ffn.c), whose
   [N, C] accumulator receives every expert's output and is read by nothing else: no [N, C]
   copy per expert forward, no [N, C] dbase add per expert backward. */
Tensor *op_scatter_add_rows_inplace(Tape *t, Tensor *base, Tensor *src, const int *idx, Tensor *w);
/* y [..., len] = x[..., start:start+len]; x [..., C] */
Tensor *op_slice_cols(Tape *t, Tensor *x, int start, int len);
/* y [..., Ca+Cb] = [a | b]; a [..., Ca], b [..., Cb] with equal leading dims */
Tensor *op_concat_cols(Tape *t, Tensor *a, Tensor *b);

extern const OpInfo OP_GATHER_ROWS, OP_SCATTER_ADD_ROWS, OP_SCATTER_ADD_ROWS_INPLACE;
extern const OpInfo OP_SLICE_COLS, OP_CONCAT_COLS;

#endif
