/* tensor/gemm.c — PLACEHOLDER until the tiled SIMD GEMM lands: forwards to the naive twin. */
#include "gemm.h"

void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc) {
    gemm_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_bf16(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc) {
    gemm_bf16_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *gemm_simd_level(void) { return "scalar"; }
