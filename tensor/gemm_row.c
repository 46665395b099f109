/* tensor/gemm_row.c — the one-row case of gemm (M = 1, B transposed): C = alpha·a·Bᵀ + beta·C,
   i.e. one dot product of a with each row of B [N, K]. Packing B for a single row of A costs as
   much memory traffic as the product itself (and writes a copy), so this case — token-by-token
   decoding, an expert that got one token — reads B once, in place.
   Each dot sums 16 lanes (lane l takes k ≡ l mod 16) and then the lanes in order: plain C, no
   fused multiply-add (ISO C mode contracts nothing), so every SIMD level and every thread count
   gives the same bits. Rows of B are split over the thread pool when the product is large. */
#include "gemm_row.h"
#include "half.h"
#include "threads.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ROW_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define ROW_CLONES
#endif

#define ROW_PARALLEL_MIN (1L << 17)   /* multiply-adds below which one thread does it all */

typedef struct {
    int K;
    size_t ldb;
    real alpha, beta;
    const real *a, *B;
    const uint16_t *B16;
    real *C;
} RowJob;

ROW_CLONES static real dot_f(const real *a, const real *b, int K) {
    real acc[16] = { 0 };
    int full = K / 16 * 16;
    for (int k = 0; k < full; k += 16)
        for (int l = 0; l < 16; l++) acc[l] += a[k + l] * b[k + l];
    real s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    for (int k = full; k < K; k++) s += a[k] * b[k];
    return s;
}

ROW_CLONES static real dot_bf16(const real *a, const uint16_t *b, int K) {
    real acc[16] = { 0 };
    int full = K / 16 * 16;
    for (int k = 0; k < full; k += 16)
        for (int l = 0; l < 16; l++) acc[l] += a[k + l] * (real)bf16_to_f32(b[k + l]);
    real s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    for (int k = full; k < K; k++) s += a[k] * (real)bf16_to_f32(b[k]);
    return s;
}

static void row_task(void *ctx, long n0, long n1) {
    const RowJob *j = ctx;
    for (long n = n0; n < n1; n++) {
        real d = j->B16 ? dot_bf16(j->a, j->B16 + (size_t)n * j->ldb, j->K) : dot_f(j->a, j->B + (size_t)n * j->ldb, j->K);
        j->C[n] = j->beta == 0 ? j->alpha * d : j->alpha * d + j->beta * j->C[n];
    }
}

void gemm_row_bt(int N, int K, real alpha, const real *a, const real *B, const uint16_t *B16, size_t ldb,
                 real beta, real *C) {
    RowJob j = { K, ldb, alpha, beta, a, B, B16, C };
    if ((long)N * K < ROW_PARALLEL_MIN) row_task(&j, 0, N);
    else parallel_for_chunks(N, 16, row_task, &j);
}
