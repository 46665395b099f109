/* tests/tensor/test_gemm.c — the tiled GEMM (tensor/gemm.c) against its naive twins.
   Every micro-kernel level this CPU has (forced with gemm_force_level), all four transpose
   cases, awkward shapes (1..129 and > 1000), alpha != 1, beta in {0, 0.5}, padded leading
   dimensions (the padding must stay untouched), NaN-filled C with beta == 0; bf16 B; and
   bitwise-identical results for 1..4 threads. Tolerance per element:
   |c - ref| <= tol * (|alpha| sum_k |a||b| + |beta c0|), tol = 1e-5 (float) or 1e-12 (double). */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/half.h"
#include "tensor/threads.h"
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const LEVELS[] = { "scalar", "avx2", "avx512" };
#define N_LEVELS 3
#define PAD_SENTINEL ((real)-12345.0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static real rnd(void) { return xorshift_unit(&rng_state); }

static real *rnd_array(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}

static real *abs_copy(const real *x, size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = (real)fabs((double)x[i]);
    return p;
}

/* Runs gemm (or gemm_bf16 when bf16) on one case and compares with the naive twin. */
static void check_case(int ta, int tb, int M, int N, int K, real beta, int bf16) {
    const real alpha = (real)-1.25;
    const double tol = REAL_IS_DOUBLE ? 1e-12 : 1e-5;
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    real *A = rnd_array(na), *B = rnd_array(nb), *C0 = rnd_array(nc);
    uint16_t *B16 = malloc((nb ? nb : 1) * sizeof(uint16_t));
    for (size_t i = 0; i < nb; i++) {
        B16[i] = f32_to_bf16((float)B[i]);
        if (bf16) B[i] = (real)bf16_to_f32(B16[i]);      /* |B| below sees the bf16 values */
    }
    real *C = malloc(nc * sizeof(real)), *R = malloc(nc * sizeof(real)), *S = malloc(nc * sizeof(real));
    for (size_t i = 0; i < nc; i++) {
        if (i % ldc >= (size_t)N) C0[i] = PAD_SENTINEL;
        C[i] = beta == 0 && i % ldc < (size_t)N ? (real)NAN : C0[i];
        R[i] = C0[i];
    }
    if (bf16) {
        gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B16, ldb, beta, C, ldc);
        gemm_bf16_naive(ta, tb, M, N, K, alpha, A, lda, B16, ldb, beta, R, ldc);
    } else {
        gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    }
    real *Aa = abs_copy(A, na), *Ba = abs_copy(B, nb);
    gemm_naive(ta, tb, M, N, K, 1, Aa, lda, Ba, ldb, 0, S, ldc);     /* sum_k |a||b| */
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < ldc; j++) {
            size_t o = (size_t)i * ldc + j;
            if (j >= N) {
                ck_assert_msg(C[o] == PAD_SENTINEL, "padding of C written at (%d,%d)", i, j);
                continue;
            }
            double bound = tol * (fabs((double)alpha) * S[o] + fabs((double)(beta * C0[o]))) + 1e-30;
            ck_assert_msg(isfinite(C[o]) && fabs((double)C[o] - (double)R[o]) <= bound,
                          "%s ta=%d tb=%d M=%d N=%d K=%d beta=%g bf16=%d: C(%d,%d)=%.9g ref=%.9g",
                          gemm_simd_level(), ta, tb, M, N, K, (double)beta, bf16, i, j,
                          (double)C[o], (double)R[o]);
        }
    }
    free(A); free(B); free(B16); free(C0); free(C); free(R); free(S); free(Aa); free(Ba);
}

/* _i picks the level; unsupported levels pass trivially (nothing to test on this CPU). */
START_TEST(test_gemm_matches_naive_small)
{
    if (!gemm_force_level(LEVELS[_i])) return;
    static const int dims[] = { 1, 3, 7, 17, 33, 65, 129 };
    static const int kdims[] = { 1, 7, 33, 129 };
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < 7; a++)
            for (int b = 0; b < 7; b++)
                for (int k = 0; k < 4; k++)
                    check_case(t >> 1, t & 1, dims[a], dims[b], kdims[k], (a + b + k) % 2 ? 0.5 : 0, 0);
    gemm_force_level(NULL);
}
END_TEST

START_TEST(test_gemm_matches_naive_large)
{
    if (!gemm_force_level(LEVELS[_i])) return;
    for (int t = 0; t < 4; t++) {
        check_case(t >> 1, t & 1, 1031, 17, 1025, 0, 0);
        check_case(t >> 1, t & 1, 33, 1003, 401, (real)0.5, 0);
    }
    gemm_force_level(NULL);
}
END_TEST

START_TEST(test_gemm_bf16_matches_naive)
{
    if (!gemm_force_level(LEVELS[_i])) return;
    for (int t = 0; t < 4; t++) {
        check_case(t >> 1, t & 1, 65, 129, 33, 0, 1);
        check_case(t >> 1, t & 1, 7, 50, 129, (real)0.5, 1);
        check_case(t >> 1, t & 1, 300, 97, 385, 0, 1);
    }
    gemm_force_level(NULL);
}
END_TEST

START_TEST(test_gemm_k_zero_scales_c)
{
    real C[6] = { 1, 2, 3, 4, 5, 6 }, A[1] = { 0 }, B[1] = { 0 };
    gemm(0, 0, 2, 3, 0, 1, A, 1, B, 3, (real)0.5, C, 3);
    for (int i = 0; i < 6; i++) ck_assert(C[i] == (real)(0.5 * (i + 1)));
    for (int i = 0; i < 6; i++) C[i] = (real)NAN;
    gemm(0, 0, 2, 3, 0, 1, A, 1, B, 3, 0, C, 3);
    for (int i = 0; i < 6; i++) ck_assert(C[i] == 0);
}
END_TEST

/* C for a shape large enough to be split, on `threads` threads. */
static real *run_threads(int threads, int ta, int tb, int M, int N, int K) {
    threads_init(threads);
    rng_state = 12345;
    real *A = rnd_array((size_t)M * K), *B = rnd_array((size_t)K * N), *C = rnd_array((size_t)M * N);
    gemm(ta, tb, M, N, K, (real)0.75, A, ta ? M : K, B, tb ? K : N, (real)0.5, C, N);
    free(A);
    free(B);
    return C;
}

START_TEST(test_gemm_threads_bitwise_identical)
{
    static const int shapes[][5] = { { 0, 1, 301, 517, 700 }, { 1, 0, 37, 2000, 300 },
                                     { 0, 0, 1100, 45, 129 } };
    for (int s = 0; s < 3; s++) {
        const int *sh = shapes[s];
        real *ref = run_threads(1, sh[0], sh[1], sh[2], sh[3], sh[4]);
        for (int t = 2; t <= 4; t++) {
            real *c = run_threads(t, sh[0], sh[1], sh[2], sh[3], sh[4]);
            ck_assert_msg(memcmp(c, ref, (size_t)sh[2] * sh[3] * sizeof(real)) == 0,
                          "shape %d: %d threads differ from 1 thread", s, t);
            free(c);
        }
        free(ref);
    }
    threads_init(0);
}
END_TEST

START_TEST(test_gemm_fma_levels_agree_bitwise)
{
    if (!gemm_level_supported("avx2") || !gemm_level_supported("avx512")) return;
    gemm_force_level("avx2");
    real *c2 = run_threads(2, 0, 1, 150, 130, 500);
    gemm_force_level("avx512");
    real *c5 = run_threads(2, 0, 1, 150, 130, 500);
    ck_assert(memcmp(c2, c5, (size_t)150 * 130 * sizeof(real)) == 0);
    free(c2);
    free(c5);
    gemm_force_level(NULL);
    threads_init(0);
}
END_TEST

START_TEST(test_gemm_env_selects_level)
{
    setenv("MOETRAIN_SIMD", "scalar", 1);
    gemm_force_level(NULL);
    ck_assert_str_eq(gemm_simd_level(), "scalar");
    unsetenv("MOETRAIN_SIMD");
    gemm_force_level(NULL);
    ck_assert(gemm_level_supported(gemm_simd_level()));
    ck_assert_int_eq(gemm_force_level("no-such-level"), 0);
}
END_TEST

START_TEST(test_gemm_small_lda_aborts)
{
    real A[4] = { 0 }, B[4] = { 0 }, C[4] = { 0 };
    gemm(0, 0, 2, 2, 2, 1, A, 1, B, 2, 0, C, 2);   /* lda = 1 < K = 2 */
}
END_TEST

Suite *gemm_suite(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_gemm_matches_naive_small, 0, N_LEVELS);
    tcase_add_loop_test(tc, test_gemm_matches_naive_large, 0, N_LEVELS);
    tcase_add_loop_test(tc, test_gemm_bf16_matches_naive, 0, N_LEVELS);
    tcase_add_test(tc, test_gemm_k_zero_scales_c);
    tcase_add_test(tc, test_gemm_threads_bitwise_identical);
    tcase_add_test(tc, test_gemm_fma_levels_agree_bitwise);
    tcase_add_test(tc, test_gemm_env_selects_level);
    tcase_add_abort_test(tc, test_gemm_small_lda_aborts);
    suite_add_tcase(s, tc);
    return s;
}
