/* autograd/ops.h — every op family, for callers that want them all (nn/, tests). */
#ifndef OPS_H
#define OPS_H
#include "ops/elementwise.h"
#include "ops/dropout.h"
#include "ops/matmul.h"
#include "ops/embedding.h"
#include "ops/gather.h"
#include "ops/activation.h"
#include "ops/reduce.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/attention.h"
#include "ops/cross_entropy.h"
#include "ops/linear_ce.h"
#include "ops/lora_linear.h"
#include "ops/route.h"
#include "ops/aux_loss.h"
#include "ops/concat_rows.h"
#include "ops/routed_lora.h"
#endif
