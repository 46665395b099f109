/* tensor/gemm_naive.c — reference GEMMs: plain triple loops, accumulated in double.
   defines: gemm_naive, gemm_bf16_naive, gemm_plus_naive
   They define the semantics gemm() must reproduce (see gemm.h); tests compare against them. */
#include "tensor/gemm.h"
#include "tensor/half.h"
#include "tensor/quant.h"
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

/* gemm_plus's twin: both sums in one double accumulator (first product, then the second). */
static double b_value(GemmB b, int trans_b, int K, int N, int p, int j) {
    if (b.quant) return (double)quant_value(b.quant, trans_b ? (size_t)j * K + p : (size_t)p * N + j);
    size_t i = trans_b ? (size_t)j * b.ld + p : (size_t)p * b.ld + j;
    return b.bf16 ? (double)bf16_to_f32(b.bf16[i]) : (double)b.f32[i];
}

void gemm_plus_naive(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                     GemmB b, const GemmExtra *extra, real beta, real *C, int ldc) {
    int K2 = extra ? extra->K : 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++) acc += (double)A_AT(i, p) * b_value(b, trans_b, K, N, p, j);
            for (int p = 0; p < K2; p++) {
                const real *A2 = extra->A, *B2 = extra->B;
                size_t ia = trans_a ? (size_t)p * extra->lda + i : (size_t)i * extra->lda + p;
                size_t ib = trans_b ? (size_t)j * extra->ldb + p : (size_t)p * extra->ldb + j;
                acc += (double)A2[ia] * (double)B2[ib];
            }
            real *c = &C[(size_t)i * ldc + j];
            *c = (real)(alpha * acc + (beta == 0 ? 0.0 : (double)beta * *c));
        }
}
