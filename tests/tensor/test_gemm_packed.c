/* tests/tensor/test_gemm_packed.c — op(B) packed once (gemm_pack_b_once + gemm_packed) against
   the naive twin, and bit for bit against gemm packing B per call (the claim of gemm.h: only the
   packing moves, the kernel reads the same values in the same order).
   Every micro-kernel level this CPU has, both trans_a, B as [K, N] or [N, K] (trans_b), f32 and
   bf16 B, shapes around the blocking edges: N across several NC_PRE = 480 blocks and not a
   multiple of any NR, K above KC_MAX = 512 (several slices: the packed panel is read at a
   K offset), M above the rows of one A block; one B reused by several A's (the LM head's
   chunks); 1..3 threads give the same bits. Tolerance as test_gemm.c:
   |c - ref| <= tol * (|alpha| sum_k |a||b| + |beta c0|), tol 1e-5 (float) / 1e-12 (double). */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/half.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const LEVELS[] = { "scalar", "avx2", "avx512" };
#define N_LEVELS 3

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static real rnd(void) { return xorshift_unit(&rng_state); }

/* a pack's destination: 64-byte aligned (the packed kernels load panels aligned) */
static real *pack_dst(int N, int K) {
    size_t bytes = (gemm_packed_b_reals(N, K) * sizeof(real) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

static real *rnd_array(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}

typedef struct { int ta, tb, M, N, K, bf16; } Case;

/* C (beta 0.5 onto random C0) three ways: gemm_packed, gemm / gemm_bf16, and the naive twin;
   the first two must agree bitwise, both must be within tolerance of the third. Two different
   A's share one pack. */
static void check_case(const Case *c) {
    const real alpha = (real)0.75, beta = (real)0.5;
    const double tol = REAL_IS_DOUBLE ? 1e-12 : 1e-5;
    int lda = (c->ta ? c->M : c->K) + 1, ldb = (c->tb ? c->K : c->N) + 3;
    size_t na = (size_t)(c->ta ? c->K : c->M) * lda, nb = (size_t)(c->tb ? c->N : c->K) * ldb;
    size_t nc = (size_t)c->M * c->N;
    real *B = rnd_array(nb), *C0 = rnd_array(nc);
    uint16_t *B16 = malloc(nb * sizeof(uint16_t));
    for (size_t i = 0; i < nb; i++) {
        B16[i] = f32_to_bf16((float)B[i]);
        if (c->bf16) B[i] = (real)bf16_to_f32(B16[i]);
    }
    real *P = pack_dst(c->N, c->K);
    GemmPackedB pb = gemm_pack_b_once(c->tb, c->N, c->K, c->bf16 ? NULL : B, c->bf16 ? B16 : NULL, ldb, P);
    real *X = malloc(nc * sizeof(real)), *Y = malloc(nc * sizeof(real)), *R = malloc(nc * sizeof(real));
    real *S = malloc(nc * sizeof(real)), *Ba = malloc(nb * sizeof(real));
    for (size_t i = 0; i < nb; i++) Ba[i] = (real)fabs((double)B[i]);
    for (int rep = 0; rep < 2; rep++) {
        real *A = rnd_array(na), *Aa = malloc(na * sizeof(real));
        for (size_t i = 0; i < na; i++) Aa[i] = (real)fabs((double)A[i]);
        memcpy(X, C0, nc * sizeof(real));
        memcpy(Y, C0, nc * sizeof(real));
        memcpy(R, C0, nc * sizeof(real));
        gemm_packed(c->ta, c->M, c->N, c->K, alpha, A, lda, &pb, beta, X, c->N);
        if (c->bf16) gemm_bf16(c->ta, c->tb, c->M, c->N, c->K, alpha, A, lda, B16, ldb, beta, Y, c->N);
        else gemm(c->ta, c->tb, c->M, c->N, c->K, alpha, A, lda, B, ldb, beta, Y, c->N);
        gemm_naive(c->ta, c->tb, c->M, c->N, c->K, alpha, A, lda, B, ldb, beta, R, c->N);
        gemm_naive(c->ta, c->tb, c->M, c->N, c->K, 1, Aa, lda, Ba, ldb, 0, S, c->N);
        ck_assert_msg(memcmp(X, Y, nc * sizeof(real)) == 0, "%s ta=%d tb=%d M=%d N=%d K=%d bf16=%d: "
                      "gemm_packed differs from gemm", gemm_simd_level(), c->ta, c->tb, c->M, c->N, c->K, c->bf16);
        for (size_t o = 0; o < nc; o++) {
            double bound = tol * (fabs((double)alpha) * S[o] + fabs((double)(beta * C0[o]))) + 1e-30;
            ck_assert_msg(fabs((double)X[o] - (double)R[o]) <= bound, "%s ta=%d tb=%d M=%d N=%d K=%d: "
                          "C[%zu] = %.9g, naive %.9g", gemm_simd_level(), c->ta, c->tb, c->M, c->N, c->K, o,
                          (double)X[o], (double)R[o]);
        }
        free(A);
        free(Aa);
    }
    free(B); free(B16); free(C0); free(P); free(X); free(Y); free(R); free(S); free(Ba);
}

static const Case CASES[] = {
    { 0, 1, 262, 1013, 77, 0 },    /* the LM head's form: X·wᵀ, several NC_PRE blocks, a tail panel */
    { 0, 1, 9, 50, 600, 0 },       /* two K slices, a partial row tile */
    { 1, 0, 70, 97, 530, 0 },      /* trans_a, B not transposed, two K slices */
    { 0, 0, 1, 5, 3, 0 },          /* tiny: one partial tile */
    { 0, 1, 600, 130, 600, 0 },    /* M above the rows of one A block (131072 / 300 rows of a 300-deep slice) */
    { 0, 1, 40, 200, 64, 1 },      /* bf16 B */
};

/* _i picks the level; unsupported levels pass trivially (nothing to test on this CPU). */
START_TEST(test_gemm_packed_matches_gemm_and_naive)
{
    if (!gemm_force_level(LEVELS[_i])) return;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) check_case(&CASES[i]);
    gemm_force_level(NULL);
}
END_TEST

START_TEST(test_gemm_packed_threads_bitwise_identical)
{
    const int M = 300, N = 1500, K = 100;
    real *A = rnd_array((size_t)M * K), *B = rnd_array((size_t)N * K), *ref = NULL;
    for (int t = 1; t <= 3; t++) {
        threads_init(t);
        real *P = pack_dst(N, K), *C = calloc((size_t)M * N, sizeof(real));
        GemmPackedB pb = gemm_pack_b_once(1, N, K, B, NULL, K, P);
        gemm_packed(0, M, N, K, 1, A, K, &pb, 0, C, N);
        if (!ref) ref = C;
        else {
            ck_assert_msg(memcmp(C, ref, (size_t)M * N * sizeof(real)) == 0, "%d threads differ from 1", t);
            free(C);
        }
        free(P);
    }
    free(A); free(B); free(ref);
    threads_init(0);
}
END_TEST

START_TEST(test_gemm_packed_shape_mismatch_aborts)
{
    real B[12] = { 0 }, A[12] = { 0 }, C[12], *P = pack_dst(4, 3);
    GemmPackedB pb = gemm_pack_b_once(0, 4, 3, B, NULL, 4, P);   /* op(B) [K 3, N 4] */
    gemm_packed(0, 3, 4, 2, 1, A, 2, &pb, 0, C, 4);              /* used with K 2 */
}
END_TEST

Suite *gemm_packed_suite(void) {
    Suite *s = suite_create("gemm_packed");
    TCase *tc = tcase_create("gemm_packed");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_gemm_packed_matches_gemm_and_naive, 0, N_LEVELS);
    tcase_add_test(tc, test_gemm_packed_threads_bitwise_identical);
    tcase_add_abort_test(tc, test_gemm_packed_shape_mismatch_aborts);
    suite_add_tcase(s, tc);
    return s;
}
