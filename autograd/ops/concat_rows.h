/* autograd/ops/concat_rows.h — row concatenation of any number of 2-D tensors (the routed
   experts' outputs, so one scatter-add per routed linear instead of one per expert).
   defines: op_concat_rows, OP_CONCAT_ROWS */
#ifndef OPS_CONCAT_ROWS_H
#define OPS_CONCAT_ROWS_H
#include "autograd/op.h"

/* y [Σ_i rows_i, C] = [x_0; x_1; ...]; every x_i [rows_i, C] 2-D (the array is copied).
   Backward: dx_i += the rows of dy at x_i's offset. n >= 1. */
Tensor *op_concat_rows(Tape *t, Tensor *const *xs, int n);

extern const OpInfo OP_CONCAT_ROWS;

#endif
