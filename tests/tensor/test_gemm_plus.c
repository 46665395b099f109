/* tests/tensor/test_gemm_plus.c — gemm_plus (tensor/gemm.h: C = beta·C + alpha·(op(A)·op(B) +
   op(A2)·op(B2)), the second product appended to the first's last K slice) against its naive
   twin gemm_plus_naive. Every micro-kernel level this CPU has, all four transpose cases, K that
   fits one slice and K cut into several slices (> KC_MAX = 512), K2 in {0, 1, 8, 17}, K = 0
   (only the second product), beta in {0, 0.5} with NaN-filled C for beta 0, padded leading
   dimensions (padding untouched), B as f32, bf16 and int8; bitwise-identical results for 1..3
   threads. Tolerance per element as test_gemm.c:
   |c - ref| <= tol * (|alpha| (sum_k |a||b| + sum_k |a2||b2|) + |beta c0|). */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const LEVELS[] = { "scalar", "avx2", "avx512" };
#define N_LEVELS 3
#define PAD_SENTINEL ((real)-12345.0)

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static real rnd(void) { return xorshift_unit(&rng_state); }

static real *rnd_array(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}

typedef enum { B_F32, B_BF16, B_INT8 } BKind;

typedef struct {
    int ta, tb, M, N, K, K2;
    real *A, *B, *A2, *B2;      /* B holds the values B's storage dequantises to */
    uint16_t *B16;
    QuantMat q;
    void *qmem;
    int lda, ldb, lda2, ldb2;
    GemmB gb;
    GemmExtra ext;
} Case;

static void case_init(Case *c, int ta, int tb, int M, int N, int K, int K2, BKind kind) {
    memset(c, 0, sizeof *c);
    c->ta = ta, c->tb = tb, c->M = M, c->N = N, c->K = K, c->K2 = K2;
    int brows = tb ? N : K, bcols = tb ? K : N;
    c->lda = (ta ? M : K) + 3;
    c->ldb = kind == B_INT8 ? bcols : bcols + 5;      /* a quantised B is dense */
    c->lda2 = (ta ? M : K2) + 2, c->ldb2 = (tb ? K2 : N) + 1;
    c->A = rnd_array((size_t)(ta ? K : M) * c->lda);
    c->B = rnd_array((size_t)brows * c->ldb);
    c->A2 = rnd_array((size_t)(ta ? K2 : M) * c->lda2);
    c->B2 = rnd_array((size_t)(tb ? N : K2) * c->ldb2);
    c->gb.ld = c->ldb;
    if (kind == B_F32) c->gb.f32 = c->B;
    if (kind == B_BF16) {
        size_t nb = (size_t)brows * c->ldb;
        c->B16 = malloc((nb ? nb : 1) * sizeof(uint16_t));
        for (size_t i = 0; i < nb; i++) {
            c->B16[i] = f32_to_bf16((float)c->B[i]);
            c->B[i] = (real)bf16_to_f32(c->B16[i]);
        }
        c->gb.bf16 = c->B16;
    }
    if (kind == B_INT8) {
        size_t nb = (size_t)brows * bcols;
        float *f = malloc((nb ? nb : 1) * sizeof(float));
        for (size_t i = 0; i < nb; i++) f[i] = (float)c->B[i];
        size_t qb = (quant_bytes(QUANT_INT8, 0, brows, bcols) + 63) / 64 * 64;
        c->qmem = aligned_alloc(64, qb ? qb : 64);
        memset(c->qmem, 0, qb);
        quant_bind(&c->q, QUANT_INT8, 0, brows, bcols, c->qmem);
        quant_set_f32(&c->q, f);
        for (size_t i = 0; i < nb; i++) c->B[i] = (real)quant_value(&c->q, i);
        free(f);
        c->gb.quant = &c->q;
    }
    c->ext = (GemmExtra){ c->A2, c->lda2, c->B2, c->ldb2, K2 };
}

static void case_free(Case *c) {
    free(c->A); free(c->B); free(c->A2); free(c->B2); free(c->B16); free(c->qmem);
}

/* sum_k |a||b| over both products, for the tolerance */
static double abs_sum(const Case *c, int i, int j) {
    double s = 0;
    for (int p = 0; p < c->K; p++) {
        real a = c->ta ? c->A[(size_t)p * c->lda + i] : c->A[(size_t)i * c->lda + p];
        real b = c->tb ? c->B[(size_t)j * c->ldb + p] : c->B[(size_t)p * c->ldb + j];
        s += fabs((double)a * (double)b);
    }
    for (int p = 0; p < c->K2; p++) {
        real a = c->ta ? c->A2[(size_t)p * c->lda2 + i] : c->A2[(size_t)i * c->lda2 + p];
        real b = c->tb ? c->B2[(size_t)j * c->ldb2 + p] : c->B2[(size_t)p * c->ldb2 + j];
        s += fabs((double)a * (double)b);
    }
    return s;
}

static void check_case(int ta, int tb, int M, int N, int K, int K2, real beta, BKind kind) {
    const real alpha = (real)0.75;
    const double tol = REAL_IS_DOUBLE ? 1e-12 : 1e-5;
    Case c;
    case_init(&c, ta, tb, M, N, K, K2, kind);
    int ldc = N + 2;
    size_t nc = (size_t)M * ldc;
    real *C0 = rnd_array(nc), *C = malloc(nc * sizeof(real)), *R = malloc(nc * sizeof(real));
    for (size_t i = 0; i < nc; i++) {
        if (i % ldc >= (size_t)N) C0[i] = PAD_SENTINEL;
        C[i] = beta == 0 && i % ldc < (size_t)N ? (real)NAN : C0[i];
        R[i] = C0[i];
    }
    gemm_plus(ta, tb, M, N, K, alpha, c.A, c.lda, c.gb, &c.ext, beta, C, ldc);
    gemm_plus_naive(ta, tb, M, N, K, alpha, c.A, c.lda, c.gb, &c.ext, beta, R, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t o = (size_t)i * ldc + j;
            if (j >= N) {
                ck_assert_msg(C[o] == PAD_SENTINEL, "padding of C written at (%d,%d)", i, j);
                continue;
            }
            double bound = tol * (fabs((double)alpha) * abs_sum(&c, i, j) + fabs((double)(beta * C0[o]))) + 1e-30;
            ck_assert_msg(isfinite(C[o]) && fabs((double)C[o] - (double)R[o]) <= bound,
                          "%s ta=%d tb=%d M=%d N=%d K=%d K2=%d beta=%g kind=%d: C(%d,%d)=%.9g ref=%.9g",
                          gemm_simd_level(), ta, tb, M, N, K, K2, (double)beta, (int)kind, i, j,
                          (double)C[o], (double)R[o]);
        }
    case_free(&c);
    free(C0); free(C); free(R);
}

START_TEST(test_gemm_plus_matches_naive)
{
    if (!gemm_force_level(LEVELS[_i])) return;
    static const int k2s[] = { 0, 1, 8, 17 };
    for (int t = 0; t < 4; t++)
        for (int k = 0; k < 4; k++) {
            check_case(t >> 1, t & 1, 37, 53, 29, k2s[k], k % 2 ? (real)0.5 : 0, B_F32);
            check_case(t >> 1, t & 1, 70, 100, 700, k2s[k], k % 2 ? 0 : (real)0.5, B_F32);  /* 2 K slices */
            check_case(t >> 1, t & 1, 9, 49, 0, k2s[k], (real)0.5, B_F32);                  /* K = 0 */
        }
    gemm_force_level(NULL);
}
END_TEST

START_TEST(test_gemm_plus_bf16_int8_match_naive)
{
    if (!gemm_force_level(LEVELS[_i])) return;
    for (int t = 0; t < 4; t++) {
        check_case(t >> 1, t & 1, 65, 97, 130, 8, 0, B_BF16);
        check_case(t >> 1, t & 1, 33, 50, 600, 5, (real)0.5, B_BF16);
        check_case(t >> 1, t & 1, 40, 64, 96, 8, (real)0.5, B_INT8);
    }
    gemm_force_level(NULL);
}
END_TEST

static real *run_threads(int threads) {
    threads_init(threads);
    rng_state = 777;
    Case c;
    case_init(&c, 0, 1, 301, 517, 700, 8, B_F32);
    real *C = rnd_array((size_t)301 * 517);
    gemm_plus(0, 1, 301, 517, 700, (real)1, c.A, c.lda, c.gb, &c.ext, (real)0.5, C, 517);
    case_free(&c);
    return C;
}

START_TEST(test_gemm_plus_threads_bitwise_identical)
{
    real *ref = run_threads(1);
    for (int t = 2; t <= 3; t++) {
        real *c = run_threads(t);
        ck_assert_msg(memcmp(c, ref, (size_t)301 * 517 * sizeof(real)) == 0, "%d threads differ from 1", t);
        free(c);
    }
    free(ref);
    threads_init(0);
}
END_TEST

Suite *gemm_plus_suite(void) {
    Suite *s = suite_create("gemm_plus");
    TCase *tc = tcase_create("gemm_plus");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_gemm_plus_matches_naive, 0, N_LEVELS);
    tcase_add_loop_test(tc, test_gemm_plus_bf16_int8_match_naive, 0, N_LEVELS);
    tcase_add_test(tc, test_gemm_plus_threads_bitwise_identical);
    suite_add_tcase(s, tc);
    return s;
}
