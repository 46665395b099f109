/* tests/tensor/test_gemm_narrow.c — tensor/gemm_narrow.h: products whose C has fewer than 16
   columns, against gemm_naive (double accumulation) in all four transpose forms, for N = 1 .. 15
   (every row-dot group: 8, 4, 2, 1 columns, and their mixes), M not a multiple of any row block
   (clamped loads, partial stores), K with and without a tail of under 16 columns, alpha 0.5 and
   beta 0 / 1, and the two fallbacks onto gemm (op(A) = Aᵀ; A·B with K > M). Then the same bits at
   1, 2 and 3 threads, and beta 0 with NaN garbage in C (never read). */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tensor/gemm.h"
#include "tensor/gemm_narrow.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0xD1B54A32D192ED03ull;

static real *rnd_array(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = xorshift_unit(&rng_state);
    return p;
}

typedef struct { int ta, tb, M, N, K, beta; } Shape;

/* C = 0.5·op(A)·op(B) + beta·C0 through gemm_narrow (A, B laid out with ld = their row length + 3,
   C with ldc = N + 2: strides other than the width are honoured) */
static real *narrow(const Shape *s, const real *A, const real *B, const real *C0, int lda, int ldb) {
    int ldc = s->N + 2;
    real *C = malloc((size_t)s->M * ldc * sizeof(real));
    real *scratch = malloc((size_t)s->N * (s->M > s->K ? s->M : s->K) * sizeof(real));
    memcpy(C, C0, (size_t)s->M * ldc * sizeof(real));
    gemm_narrow(s->ta, s->tb, s->M, s->N, s->K, (real)0.5, A, lda, B, ldb, s->beta, C, ldc, scratch);
    free(scratch);
    return C;
}

static void check_shape(const Shape *s) {
    int ar = s->ta ? s->K : s->M, ac = s->ta ? s->M : s->K, br = s->tb ? s->N : s->K, bc = s->tb ? s->K : s->N;
    int lda = ac + 3, ldb = bc + 3, ldc = s->N + 2;
    real *A = rnd_array((size_t)ar * lda), *B = rnd_array((size_t)br * ldb), *C0 = rnd_array((size_t)s->M * ldc);
    real *want = malloc((size_t)s->M * ldc * sizeof(real));
    memcpy(want, C0, (size_t)s->M * ldc * sizeof(real));
    gemm_naive(s->ta, s->tb, s->M, s->N, s->K, (real)0.5, A, lda, B, ldb, (real)s->beta, want, ldc);
    real *got = narrow(s, A, B, C0, lda, ldb);
    for (int m = 0; m < s->M; m++)
        for (int n = 0; n < ldc; n++) {
            double g = got[(size_t)m * ldc + n], w = n < s->N ? want[(size_t)m * ldc + n] : C0[(size_t)m * ldc + n];
            ck_assert_msg(fabs(g - w) <= 1e-5 * (1 + sqrt((double)s->K)) * (1 + fabs(w)),
                          "ta=%d tb=%d M=%d N=%d K=%d beta=%d: C[%d][%d] = %.9g, naive %.9g", s->ta, s->tb, s->M, s->N,
                          s->K, s->beta, m, n, g, w);
        }
    free(A); free(B); free(C0); free(want); free(got);
}

START_TEST(test_narrow_matches_naive)
{
    static const int Ks[] = { 5, 37, 288 }, Ms[] = { 77, 200 };
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int N = 1; N < GEMM_NARROW_MAX; N++)
                for (int ki = 0; ki < 3; ki++)
                    for (int mi = 0; mi < 2; mi++) {
                        Shape s = { ta, tb, Ms[mi], N, Ks[ki], (N + ki) % 2 };
                        check_shape(&s);
                    }
}
END_TEST

/* row dots with B not transposed need Bᵀ in the scratch ([N, K]); with K > M it would not fit
   the caller's [N, M], so that case runs on gemm: still the product */
START_TEST(test_narrow_k_over_m)
{
    Shape s = { 0, 0, 20, 8, 300, 1 };
    check_shape(&s);
}
END_TEST

START_TEST(test_narrow_threads_bitwise)
{
    static const Shape shapes[] = { { 0, 1, 1000, 8, 288, 0 }, { 0, 0, 777, 13, 100, 1 }, { 1, 0, 300, 4, 500, 1 } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        int ar = s->ta ? s->K : s->M, ac = s->ta ? s->M : s->K, br = s->tb ? s->N : s->K, bc = s->tb ? s->K : s->N;
        real *A = rnd_array((size_t)ar * (ac + 3)), *B = rnd_array((size_t)br * (bc + 3));
        real *C0 = rnd_array((size_t)s->M * (s->N + 2)), *got[3];
        if (!s->beta)
            for (size_t j = 0; j < (size_t)s->M * (s->N + 2); j += 7) C0[j] = (real)NAN;   /* beta 0: never read */
        for (int t = 1; t <= 3; t++) {
            threads_init(t);
            got[t - 1] = narrow(s, A, B, C0, ac + 3, bc + 3);
        }
        threads_init(1);
        for (int t = 1; t < 3; t++)
            ck_assert_msg(memcmp(got[0], got[t], (size_t)s->M * (s->N + 2) * sizeof(real)) == 0,
                          "shape %zu: %d threads differ from 1", i, t + 1);
        for (int m = 0; m < s->M; m++)
            for (int n = 0; n < s->N; n++) ck_assert(!isnan((double)got[0][(size_t)m * (s->N + 2) + n]));
        free(A); free(B); free(C0);
        for (int t = 0; t < 3; t++) free(got[t]);
    }
}
END_TEST

Suite *gemm_narrow_suite(void) {
    Suite *s = suite_create("gemm_narrow");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_narrow_matches_naive);
    tcase_add_test(tc, test_narrow_k_over_m);
    tcase_add_test(tc, test_narrow_threads_bitwise);
    suite_add_tcase(s, tc);
    return s;
}
