/* tensor/gemm_naive.c — reference GEMMs: plain triple loops, accumulated in double.
   They define the semantics gemm() must reproduce (see gemm.h); tests compare against them. */
#include "tensor/gemm.h"
#include "tensor/half.h"
#include <stddef.h>

#define A_AT(i, p) (trans_a ? A[(size_t)(p) * lda + (i)] : A[(size_t)(i) * lda + (p)])
#define B_AT(p, j) (trans_b ? B[(size_t)(j) * ldb + (p)] : B[(size_t)(p) * ldb + (j)])

void gemm_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++) acc += (double)A_AT(i, p) * (double)B_AT(p, j);
            real *c = &C[(size_t)i * ldc + j];
            *c = (real)(alpha * acc + (beta == 0 ? 0.0 : (double)beta * *c));
        }
}

void gemm_bf16_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                     const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++) acc += (double)A_AT(i, p) * (double)bf16_to_f32(B_AT(p, j));
            real *c = &C[(size_t)i * ldc + j];
            *c = (real)(alpha * acc + (beta == 0 ? 0.0 : (double)beta * *c));
        }
}
