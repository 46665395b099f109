/* tensor/gemm_narrow.c — narrow products without packing (see gemm_narrow.h).
   Row dots, float build: a block of RG rows of A times NG rows of Bt (RG·NG = 16, NG = 8, 4, 2
   or 1 as N decomposes) keeps 16 vector accumulators over K; each pass loads the NG rows of Bt
   once per 16 columns and each row of A once, so the loads stay under the multiplies. The last
   K % 16 columns are added to each sum in order, one by one. Row blocks never straddle a pool
   range (ranges are multiples of 16 rows), so the blocking, hence every sum, is the same for any
   thread count. The double build (gradcheck) runs the plain triple loop. */
#include "tensor/gemm_narrow.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"
#include <string.h>

#define ROWS_GRAIN 16     /* rows per pool range unit (a multiple of every RG) */

typedef struct {
    const real *A, *Bt;   /* A [M, K] (lda), Bt [N, K] (ldbt): C = alpha·A·Btᵀ (+ C) */
    int lda, ldbt, M, N, K, beta, ldc;
    real alpha;
    real *C;
} DotsJob;

/* C[m][n0 + g] for rows m0 .. m0+rg-1 (loads clamped to row M-1, stores only below M), g < ng */
VM_INLINE void dots_block(const DotsJob *j, long m0, int n0, int rg, int ng) {
    const float *x[16], *b[8];
    VmF16 acc[16], bv[8];
    int full = j->K / 16 * 16;
    for (int r = 0; r < rg; r++) x[r] = (const float *)j->A + (size_t)(m0 + r < j->M ? m0 + r : j->M - 1) * j->lda;
    for (int g = 0; g < ng; g++) b[g] = (const float *)j->Bt + (size_t)(n0 + g) * j->ldbt;
    for (int i = 0; i < 16; i++) acc[i] = (VmF16){ 0 };
    for (int k = 0; k < full; k += 16) {
        for (int g = 0; g < ng; g++) bv[g] = vm_load(b[g] + k);
        for (int r = 0; r < rg; r++) {
            VmF16 xv = vm_load(x[r] + k);
            for (int g = 0; g < ng; g++) acc[r * ng + g] += xv * bv[g];
        }
    }
    VmF16 s = vm_lane_sums16(acc);
    for (int r = 0; r < rg && m0 + r < j->M; r++)
        for (int g = 0; g < ng; g++) {
            float v = s[r * ng + g];
            for (int k = full; k < j->K; k++) v += x[r][k] * b[g][k];
            float *c = (float *)j->C + (size_t)(m0 + r) * j->ldc + n0 + g;
            *c = (float)j->alpha * v + (j->beta ? *c : 0.0f);
        }
}

VEC_CLONES static void dots_rows_f32(const DotsJob *j, long m0, long m1) {
    int n0 = 0;
    for (; n0 + 8 <= j->N; n0 += 8)
        for (long m = m0; m < m1; m += 2) dots_block(j, m, n0, 2, 8);
    for (; n0 + 4 <= j->N; n0 += 4)
        for (long m = m0; m < m1; m += 4) dots_block(j, m, n0, 4, 4);
    for (; n0 + 2 <= j->N; n0 += 2)
        for (long m = m0; m < m1; m += 8) dots_block(j, m, n0, 8, 2);
    for (; n0 < j->N; n0++)
        for (long m = m0; m < m1; m += 16) dots_block(j, m, n0, 16, 1);
}

static void dots_rows(void *vj, long m0, long m1) {
    const DotsJob *j = vj;
    if (sizeof(real) == sizeof(float)) {
        dots_rows_f32(j, m0, m1);
        return;
    }
    for (long m = m0; m < m1; m++)
        for (int n = 0; n < j->N; n++) {
            real s = 0, *c = j->C + (size_t)m * j->ldc + n;
            for (int k = 0; k < j->K; k++) s += j->A[(size_t)m * j->lda + k] * j->Bt[(size_t)n * j->ldbt + k];
            *c = j->alpha * s + (j->beta ? *c : (real)0);
        }
}

/* C [M, N] = Sᵀ + (beta ? C : 0), S [N, M] */
typedef struct { const real *S; real *C; int M, N, ldc, beta; } BackJob;

static void transpose_back(void *vj, long m0, long m1) {
    const BackJob *j = vj;
    for (long m = m0; m < m1; m++) {
        real *c = j->C + (size_t)m * j->ldc;
        for (int n = 0; n < j->N; n++) c[n] = j->S[(size_t)n * j->M + m] + (j->beta ? c[n] : (real)0);
    }
}

/* Bt [N, K] = Bᵀ, B [K, N] (ldb) */
typedef struct { const real *B; real *Bt; int N, K, ldb; } TransJob;

static void transpose_b(void *vj, long k0, long k1) {
    const TransJob *j = vj;
    for (long k = k0; k < k1; k++)
        for (int n = 0; n < j->N; n++) j->Bt[(size_t)n * j->K + k] = j->B[(size_t)k * j->ldb + n];
}

void gemm_narrow(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb,
                 int beta, real *C, int ldc, real *scratch) {
    if (M <= 0 || N <= 0) return;
    if (!ta && (tb || K <= M)) {   /* row dots against op(B)ᵀ: B itself, or Bᵀ in the scratch */
        DotsJob j = { A, B, lda, ldb, M, N, K, beta, ldc, alpha, C };
        if (!tb) {
            TransJob tj = { B, scratch, N, K, ldb };
            parallel_for_chunks(K, 64, transpose_b, &tj);
            j.Bt = scratch, j.ldbt = K;
        }
        parallel_for_chunks(M, ROWS_GRAIN, dots_rows, &j);
        return;
    }
    /* the transposed problem on gemm, Cᵀ = op(B)ᵀ·op(A)ᵀ: with op(A) = Aᵀ the batch is packed
       untransposed (a plain copy), and the micro-kernel beats outer products in registers (no
       FMA there, to keep their scalar twin's rounding): measured 246 against 138 GFLOP/s */
    gemm(!tb, !ta, N, M, K, alpha, B, ldb, A, lda, (real)0, scratch, M);
    BackJob back = { scratch, C, M, N, ldc, beta };
    parallel_for_chunks(M, 64, transpose_back, &back);
}
