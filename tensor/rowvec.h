/* tensor/rowvec.h — the long-row softmax reductions, bit for bit those of vecmath.h, faster.
   defines: rowvec_max, rowvec_exp_sum, rowvec_sum_exp
   rowvec_max(x, n)          == vm_row_max(x, n)
   rowvec_exp_sum(y, x, n, m) == vm_row_exp_sum(y, x, n, m)  (same y, same returned sum)
   rowvec_sum_exp(x, n, m)    == vm_row_sum_exp(x, n, m)
   for every input (NaN and ±0 included), in both builds. The vecmath.h loops are latency-bound:
   one accumulator chain per lane, and one exp per iteration whose ~30 dependent operations
   leave the out-of-order window nearly empty (about 30 cycles per 16 floats on Zen 5). On
   AVX-512 CPUs, rows of 64 or more floats take rowvec_x86.c instead (why it gives the same
   bits is explained there); elsewhere these are the vecmath.h helpers themselves. Used by the
   fused LM head (linear_ce.c), whose 32000-wide rows made these loops ~10 % of its time. */
#ifndef OPS_ROWVEC_H
#define OPS_ROWVEC_H
#include "tensor/real.h"

real rowvec_max(const real *x, int n);
double rowvec_exp_sum(real *y, const real *x, int n, real m);
double rowvec_sum_exp(const real *x, int n, real m);

#endif
