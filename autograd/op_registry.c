/* autograd/op_registry.c — ALL_OPS[]: the only list of ops. Adding an op = one line here;
   the gradient check, the fan-out check and the sanitizer runs then cover it. */
#include "ops.h"

const OpInfo *const ALL_OPS[] = {
    &OP_ADD,
    &OP_MUL,
    &OP_SCALE,
    &OP_DROPOUT,
    &OP_LINEAR,
    &OP_LINEAR_FROZEN,
    &OP_LINEAR_BF16,
    &OP_MATMUL_NN,
    &OP_MATMUL_NT,
    &OP_MATMUL_TN,
    &OP_MATMUL_TT,
    &OP_EMBEDDING,
    &OP_GATHER_ROWS,
    &OP_SCATTER_ADD_ROWS,
    &OP_SCATTER_ADD_ROWS_UNWEIGHTED,
    &OP_SLICE_COLS,
    &OP_CONCAT_COLS,
    &OP_SILU,
    &OP_SWIGLU,
    &OP_SOFTMAX,
    &OP_SUM,
    &OP_MEAN,
    &OP_ADD_SCALED,
    &OP_RMSNORM,
    &OP_RMSNORM_FROZEN_W,
    &OP_ROPE_INTERLEAVED,
    &OP_ROPE_HALF,
    &OP_CAUSAL_ATTENTION,
    &OP_CAUSAL_ATTENTION_MHA,
    &OP_CAUSAL_ATTENTION_LONG,
    &OP_CROSS_ENTROPY,
};
const int ALL_OPS_COUNT = (int)(sizeof ALL_OPS / sizeof ALL_OPS[0]);
