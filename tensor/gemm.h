/* tensor/gemm.h — the one matrix multiply of the project.
   defines: gemm, gemm_bf16, gemm_quant, gemm_naive, gemm_bf16_naive, gemm_simd_level
   Computes C = beta*C + alpha * op(A) * op(B), row-major, with leading dimensions:
     op(A) is M x K: A is M x K (lda >= K) or, if trans_a, K x M (lda >= M)
     op(B) is K x N: B is K x N (ldb >= N) or, if trans_b, N x K (ldb >= K)
     C is M x N (ldc >= N)
   beta == 0 overwrites C without reading it (so C may hold NaN garbage). gemm_bf16 takes B as
   bf16 (frozen weights), converted to f32 while packing. gemm_naive / gemm_bf16_naive are the
   obvious triple loops (double accumulation), the twins the tests compare against.
   Work is split over disjoint blocks of C across the thread pool: results are bitwise
   identical for any thread count. */
#ifndef GEMM_H
#define GEMM_H
#include <stdint.h>
#include "tensor/real.h"

void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);
void gemm_bf16(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc);

/* B as an NF4 / int8 matrix (tensor/quant.h; ldb = its cols), dequantised panel by panel while
   packing: no f32 copy of the whole matrix exists. */
struct QuantMat;
void gemm_quant(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const struct QuantMat *B, real beta, real *C, int ldc);

void gemm_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);
void gemm_bf16_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                     const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc);

/* "avx512", "avx2", or "scalar": the micro-kernel chosen at run time for this CPU. */
const char *gemm_simd_level(void);

#endif
