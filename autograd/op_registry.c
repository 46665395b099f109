/* autograd/op_registry.c — ALL_OPS[]: the only list of ops. Adding an op = one line here;
   the gradient check, the fan-out check and the sanitizer runs then cover it. */
#include "ops.h"

const OpInfo *const ALL_OPS[] = {
    &OP_ADD,
    &OP_MUL,
    &OP_SCALE,
    &OP_DROPOUT,
};
const int ALL_OPS_COUNT = (int)(sizeof ALL_OPS / sizeof ALL_OPS[0]);
