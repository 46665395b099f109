/* autograd/ops.h — every op family, for callers that want them all (nn/, tests). */
#ifndef OPS_H
#define OPS_H
#include "autograd/ops/elementwise.h"
#include "autograd/ops/dropout.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/embedding.h"
#include "autograd/ops/gather.h"
#include "autograd/ops/activation.h"
#include "autograd/ops/gelu.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/rmsnorm.h"
#include "autograd/ops/rope.h"
#include "autograd/ops/attention.h"
#include "autograd/ops/cross_entropy.h"
#include "autograd/ops/linear_ce.h"
#include "autograd/ops/lora_linear.h"
#include "autograd/ops/route.h"
#include "autograd/ops/aux_loss.h"
#include "autograd/ops/concat_rows.h"
#include "autograd/ops/routed_lora.h"
#include "autograd/ops/routed_ffn.h"
#include "autograd/ops/bias.h"
#endif
