/* tests/tensor/test_gemm_rowmax.c — gemm_rowmax (tensor/gemm.h): the product must be gemm's bit
   for bit, and the max over each row's lanes must equal the max a plain pass over that row of C
   finds (exactly: a max does not depend on the order), for f32 and bf16 B, packed once or not,
   both trans_b, shapes with partial tiles (M not a multiple of MR, N not a multiple of NR, several
   NC blocks) and K over KC_MAX = 512 (only the last slice's values are final: folding an earlier
   slice's partial sums would give a wrong max), a C large enough to be streamed to memory
   (non-temporal stores, GEMM_STREAM_MIN_BYTES), at 1-3 threads. A NaN in a row of C makes its
   lanes NaN, whatever its tile. Levels without a segmented kernel return 0 and leave the lanes alone. */
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

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

typedef struct { int tb, M, N, K, bf16, packed, sink; } RmCase;

static real *rnd_array(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = xorshift_unit(&rng_state) - (real)0.5;
    return p;
}

static real plain_row_max(const real *row, int n) {
    real m = row[0];
    for (int j = 1; j < n; j++) m = row[j] > m ? row[j] : m;
    return m;
}

/* the lanes of row i folded by max; NaN if a lane is */
static real lanes_max(const real *lm, int i) {
    const real *l = lm + (size_t)i * GEMM_ROWMAX_LANES;
    real m = l[0];
    for (int k = 0; k < GEMM_ROWMAX_LANES; k++) {
        if (l[k] != l[k]) return l[k];
        m = l[k] > m ? l[k] : m;
    }
    return m;
}

/* runs one case; nan_col >= 0 puts a NaN into op(B)'s column nan_col, so every row of C has one NaN
   there among finite values (a fold that let a later tile's max replace the NaN would lose it) */
static void check_case(const RmCase *c, int nan_col) {
    int lda = c->K + 2, ldb = (c->tb ? c->K : c->N) + 1;
    size_t nb = (size_t)(c->tb ? c->N : c->K) * ldb, nc = (size_t)c->M * c->N;
    real *A = rnd_array((size_t)c->M * lda), *B = rnd_array(nb);
    if (c->sink)     /* A > 0, op(B) > 0 on the first slice, < 0 after: early partial sums top the final row */
        for (int k = 0; k < c->K; k++) {
            for (int i = 0; i < c->M; i++) A[(size_t)i * lda + k] = (real)fabs((double)A[(size_t)i * lda + k]);
            for (int n = 0; n < c->N; n++) {
                real *v = &B[c->tb ? (size_t)n * ldb + k : (size_t)k * ldb + n];
                *v = k < 300 ? (real)fabs((double)*v) : -(real)fabs((double)*v);
            }
        }
    if (nan_col >= 0) B[c->tb ? (size_t)nan_col * ldb + c->K / 2 : (size_t)(c->K / 2) * ldb + nan_col] = NAN;
    uint16_t *B16 = malloc(nb * sizeof(uint16_t));
    for (size_t i = 0; i < nb; i++) B16[i] = f32_to_bf16((float)B[i]);
    real *P = NULL;
    GemmPackedB pb;
    if (c->packed) {
        P = aligned_alloc(64, (gemm_packed_b_reals(c->N, c->K) * sizeof(real) + 63) / 64 * 64);
        pb = gemm_pack_b_once(c->tb, c->N, c->K, c->bf16 ? NULL : B, c->bf16 ? B16 : NULL, ldb, P);
    }
    GemmB b = { c->bf16 ? NULL : B, c->bf16 ? B16 : NULL, NULL, ldb, c->packed ? &pb : NULL };
    real *C = aligned_alloc(64, (nc * sizeof(real) + 63) / 64 * 64), *R = malloc(nc * sizeof(real));
    real *lm = aligned_alloc(64, (size_t)c->M * GEMM_ROWMAX_LANES * sizeof(real));
    for (size_t k = 0; k < (size_t)c->M * GEMM_ROWMAX_LANES; k++) lm[k] = -INFINITY;
    int folded = gemm_rowmax(c->tb, c->M, c->N, c->K, A, lda, b, C, c->N, lm);
    if (c->bf16) gemm_bf16(0, c->tb, c->M, c->N, c->K, 1, A, lda, B16, ldb, 0, R, c->N);
    else gemm(0, c->tb, c->M, c->N, c->K, 1, A, lda, B, ldb, 0, R, c->N);
    ck_assert_msg(memcmp(C, R, nc * sizeof(real)) == 0, "tb=%d M=%d N=%d K=%d bf16=%d packed=%d: the product "
                  "differs from gemm's", c->tb, c->M, c->N, c->K, c->bf16, c->packed);
    const GemmKernelInfo *ki = gemm_current_kernel();
    ck_assert_int_eq(folded, GEMM_F32 && ki->seg != NULL && (c->M + ki->mr - 1) / ki->mr >= threads_count());
    for (int i = 0; i < c->M; i++) {
        real got = lanes_max(lm, i), want = plain_row_max(C + (size_t)i * c->N, c->N);
        if (!folded) ck_assert_msg(isinf(got) && got < 0, "row %d: lanes written by a level that cannot fold", i);
        else if (nan_col >= 0) ck_assert_msg(got != got, "row %d holds a NaN, lanes max %g", i, (double)got);
        else ck_assert_msg(got == want, "tb=%d M=%d N=%d K=%d bf16=%d packed=%d: row %d max %.9g, lanes %.9g",
                           c->tb, c->M, c->N, c->K, c->bf16, c->packed, i, (double)want, (double)got);
    }
    free(A); free(B); free(B16); free(P); free(C); free(R); free(lm);
}

static const RmCase CASES[] = {
    { 1, 37, 1013, 77, 0, 1, 0 },   /* the LM head's form, packed once: several NC_PRE blocks, tail tiles */
    { 1, 37, 1013, 77, 0, 0, 0 },   /* the same, B packed per call */
    { 1, 19, 200, 1100, 0, 0, 1 },  /* three K slices: only the last one's values are folded */
    { 0, 13, 130, 600, 0, 0, 0 },   /* B not transposed (read in place), two slices */
    { 1, 21, 300, 64, 1, 1, 0 },    /* bf16 B, packed once */
    { 1, 21, 300, 64, 1, 0, 0 },    /* bf16 B packed per call (a 7B / 8B model's bf16 LM head) */
    { 1, 5, 7, 3, 0, 0, 0 },        /* one partial tile */
    { 1, 96, 70000, 16, 0, 0, 0 },  /* C of 26.9 MB, 64-byte aligned rows: streamed, a partial last tile */
};

START_TEST(test_gemm_rowmax_matches_a_pass)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) check_case(&CASES[i], -1);
}
END_TEST

START_TEST(test_gemm_rowmax_nan_row)
{
    RmCase c = { 1, 17, 150, 40, 0, 0, 0 };
    check_case(&c, 9);      /* in the first tile, finite tiles after it */
    check_case(&c, 146);    /* in the partial last tile (columns 144-149) */
}
END_TEST

/* thread counts: every row is folded by the thread that owns it, so the same lanes (and C) */
START_TEST(test_gemm_rowmax_threads)
{
    RmCase c = { 1, 300, 700, 96, 0, 1, 0 };
    for (int t = 1; t <= 3; t++) {
        threads_init(t);
        check_case(&c, -1);
    }
    threads_init(0);
}
END_TEST

START_TEST(test_gemm_rowmax_without_segments)
{
    if (!gemm_force_level("avx2") && !gemm_force_level("scalar")) return;
    check_case(&CASES[0], -1);
    gemm_force_level(NULL);
}
END_TEST

Suite *gemm_rowmax_suite(void) {
    Suite *s = suite_create("gemm_rowmax");
    TCase *tc = tcase_create("gemm_rowmax");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gemm_rowmax_matches_a_pass);
    tcase_add_test(tc, test_gemm_rowmax_nan_row);
    tcase_add_test(tc, test_gemm_rowmax_threads);
    tcase_add_test(tc, test_gemm_rowmax_without_segments);
    suite_add_tcase(s, tc);
    return s;
}
