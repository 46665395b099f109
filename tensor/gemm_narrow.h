/* tensor/gemm_narrow.h — products whose C is narrower than a GEMM tile.
   defines: GEMM_NARROW_MAX, gemm_narrow
   C [M, N] = alpha·op(A)·op(B) + beta·C (beta 0 or 1) with N <= GEMM_NARROW_MAX: a LoRA rank (8)
   or a router's experts (4-16) against a whole batch of activations.
   - op(A) = A (H = X·Aᵀ, a router's logits, dH = dY·B): row dots. gemm would have to pack the
     batch transposed (the transposed problem puts the narrow side on the kernel's rows), and
     that packing cost more than the product; here each row of A is read in place against the N
     rows of op(B)ᵀ (B itself, or Bᵀ in the scratch), 16 dot products in registers at a time,
     summed by a fixed lane tree (vm_lane_sums16). Measured on [1024, 288]·[288, 8], warm caches:
     95 -> 140 GFLOP/s at 1 thread, 175 -> 282 at 2.
   - op(A) = Aᵀ (dB = dYᵀ·H): gemm on the transposed problem Cᵀ = op(B)ᵀ·op(A)ᵀ into the
     scratch (the batch is then packed untransposed, a plain copy), then C = Cᵀᵀ (+ C).
   scratch: N·M reals (row dots with B not transposed use N·K of them, and run on gemm when K > M).
   Work is split over rows of C, each element computed by one thread in a fixed order: results do
   not depend on the thread count. They are not gemm's bits (another summation order). */
#ifndef TENSOR_GEMM_NARROW_H
#define TENSOR_GEMM_NARROW_H
#include "tensor/real.h"

#define GEMM_NARROW_MAX 16

void gemm_narrow(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb,
                 int beta, real *C, int ldc, real *scratch);

#endif
