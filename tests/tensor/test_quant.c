/* tests/tensor/test_quant.c — NF4 / int8 storage (tensor/quant.c) and gemm_quant.
   hand      values worked out by hand from the published NF4 code values (QLoRA Appendix E) and
             the int8 rule, incl. a round-half-even tie and an all-zero block / row;
   twin      a naive twin written here from the definitions (argmin over the 16 codes by
             distance, per-block absmax) against quant_encode / quant_dequant on a matrix whose
             blocks cross rows and whose last block is short, read back over odd sub-ranges;
   dq        double quantisation: the same codes, each block scale within d_g/2 of its absmax;
   gemm      gemm_quant (dequantised while packing) against gemm_naive on the dequantised
             matrix, forward (B = Wᵀ) and backward (B = W) shapes, K > one packed slice, every
             micro-kernel level; bitwise identical for 1 and 2 threads. */
#include "tests/support/suites.h"
#include "tensor/quant.h"
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static QuantMat make(QuantKind kind, int dq, int rows, int cols, const float *w) {
    QuantMat q;
    void *mem = aligned_alloc(64, quant_bytes(kind, dq, rows, cols));
    quant_bind(&q, kind, dq, rows, cols, mem);
    size_t numel = (size_t)rows * cols;
    if (kind == QUANT_INT8) quant_encode(&q, w, 0, numel);
    else for (size_t i = 0; i < numel; i += 128)   /* in chunks of 2 blocks, as a loader would */
        quant_encode(&q, w + i, i, numel - i < 128 ? numel - i : 128);
    quant_finish(&q);
    return q;
}

START_TEST(test_nf4_hand) {
    float w[64] = { 2.0f, -2.0f, 0.0f, 0.16f, 1.0f, -0.6f };   /* absmax 2 */
    QuantMat q = make(QUANT_NF4, 0, 1, 64, w);
    /* w/2 = 1 -> code 15; -1 -> 0; 0 -> 7; 0.08 -> 0.0795803 (8); 0.5 lies below the midpoint
       (0.4407 + 0.5626)/2 = 0.50166 -> 12; -0.3 lies above (-0.3949 - 0.2844)/2 = -0.3397 -> 4 */
    static const int want_code[6] = { 15, 0, 7, 8, 12, 4 };
    static const float want_val[6] = { 2.0f, -2.0f, 0.0f, 0.1591605991f, 0.8814196587f, -0.5688827634f };
    ck_assert_float_eq(q.scales[0], 2.0f);
    for (int i = 0; i < 6; i++) {
        int code = i % 2 ? q.codes[i / 2] >> 4 : q.codes[i / 2] & 15;
        ck_assert_int_eq(code, want_code[i]);
        ck_assert_msg(fabsf(quant_value(&q, i) - want_val[i]) < 1e-6f, "w[%d] -> %g, want %g", i, quant_value(&q, i), want_val[i]);
    }
    float z[64] = { 0 }, out[64];
    QuantMat qz = make(QUANT_NF4, 0, 1, 64, z);
    quant_dequant(&qz, 0, 64, out);
    for (int i = 0; i < 64; i++) ck_assert(out[i] == 0.0f && (qz.codes[i / 2] & 15) == 7);
    ck_assert(QUANT_NF4_CODE[0] == -1.0f && QUANT_NF4_CODE[7] == 0.0f && QUANT_NF4_CODE[15] == 1.0f);
    free(q.codes); free(qz.codes);
}
END_TEST

START_TEST(test_int8_hand) {
    float w[8] = { 1.0f, -0.5f, 0.25f, 0.0f, 0, 0, 0, 0 };
    QuantMat q = make(QUANT_INT8, 0, 2, 4, w);
    const int8_t *c = (const int8_t *)q.codes;
    /* s = 1/127: 1 -> 127; -0.5 -> -63.5 -> -64 (half to even); 0.25 -> 31.75 -> 32; zero row: s 0, codes 0 */
    ck_assert_int_eq(c[0], 127); ck_assert_int_eq(c[1], -64); ck_assert_int_eq(c[2], 32); ck_assert_int_eq(c[3], 0);
    ck_assert_float_eq(q.scales[0], 1.0f / 127.0f);
    ck_assert(q.scales[1] == 0.0f && c[4] == 0 && c[7] == 0);
    ck_assert(fabsf(quant_value(&q, 1) - (-64.0f / 127.0f)) < 1e-7f);
    free(q.codes);
}
END_TEST

/* the naive twin: per block of 64 (flat), argmin_k |w/a - q_k| (the first on ties) */
static void naive_nf4(const float *w, size_t n, float *out, int *codes) {
    for (size_t b0 = 0; b0 < n; b0 += 64) {
        size_t b1 = b0 + 64 < n ? b0 + 64 : n;
        double a = 0;
        for (size_t i = b0; i < b1; i++) a = fmax(a, fabs(w[i]));
        for (size_t i = b0; i < b1; i++) {
            float v = a > 0 ? w[i] / (float)a : 0.0f;
            int best = 0;
            for (int k = 1; k < 16; k++)
                if (fabsf(v - QUANT_NF4_CODE[k]) < fabsf(v - QUANT_NF4_CODE[best])) best = k;
            codes[i] = best;
            out[i] = QUANT_NF4_CODE[best] * (float)a;
        }
    }
}

static float *random_weights(size_t n, unsigned seed) {
    float *w = malloc(n * sizeof *w);
    srand(seed);
    for (size_t i = 0; i < n; i++) w[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * (i % 97 == 0 ? 8.0f : 1.0f);
    return w;
}

START_TEST(test_nf4_twin) {
    int rows = 7, cols = 100;             /* 700 values: blocks cross rows, the last has 60 */
    size_t n = (size_t)rows * cols;
    float *w = random_weights(n, 5), *ref = malloc(n * sizeof *ref), *out = malloc(n * sizeof *out);
    int *codes = malloc(n * sizeof *codes);
    naive_nf4(w, n, ref, codes);
    QuantMat q = make(QUANT_NF4, 0, rows, cols, w);
    for (size_t i = 0; i < n; i++) {
        int c = i % 2 ? q.codes[i / 2] >> 4 : q.codes[i / 2] & 15;
        ck_assert_msg(c == codes[i], "value %zu: code %d, naive %d", i, c, codes[i]);
        ck_assert(quant_value(&q, i) == ref[i]);
    }
    static const size_t ranges[][2] = { { 0, 700 }, { 1, 63 }, { 63, 2 }, { 99, 101 }, { 641, 59 }, { 3, 1 } };
    for (int r = 0; r < 6; r++) {
        quant_dequant(&q, ranges[r][0], ranges[r][1], out);
        for (size_t i = 0; i < ranges[r][1]; i++) ck_assert(out[i] == ref[ranges[r][0] + i]);
    }
    /* int8: a twin from the definition */
    QuantMat q8 = make(QUANT_INT8, 0, rows, cols, w);
    quant_dequant(&q8, 37, 600, out);
    for (int r = 0; r < rows; r++) {
        double a = 0;
        for (int c = 0; c < cols; c++)   /* a comparison: aarch64 GCC 12 crashes vectorising an fmax reduction */
            if (fabs(w[r * cols + c]) > a) a = fabs(w[r * cols + c]);
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            float s = (float)a / 127.0f, v = rintf(w[i] / s) * s;
            if (i >= 37 && i < 637) ck_assert(out[i - 37] == v);
            ck_assert(fabsf(v - w[i]) <= s / 2 * 1.0001f);
        }
    }
    free(w); free(ref); free(out); free(codes); free(q.codes); free(q8.codes);
}
END_TEST

START_TEST(test_nf4_double_quant) {
    int rows = 300, cols = 128;           /* 600 blocks: 3 groups of 256, the last short */
    size_t n = (size_t)rows * cols;
    float *w = random_weights(n, 9);
    QuantMat q = make(QUANT_NF4, 0, rows, cols, w), d = make(QUANT_NF4, 1, rows, cols, w);
    ck_assert(memcmp(q.codes, d.codes, (n + 1) / 2) == 0);
    ck_assert(quant_bytes(QUANT_NF4, 1, rows, cols) < quant_bytes(QUANT_NF4, 0, rows, cols));
    for (size_t b = 0; b < q.n_blocks; b++) {
        float got = (float)d.scale_q[b] * d.group_step[b / 256] + d.scale_mean;   /* a'_b */
        float step = d.group_step[b / 256];
        ck_assert_msg(fabsf(got - q.scales[b]) <= step / 2 * 1.001f + 1e-7f, "block %zu: %g vs %g (step %g)", b, got,
                      q.scales[b], step);
    }
    free(w); free(q.codes); free(d.codes);
}
END_TEST

/* gemm_quant(B = W or Wᵀ) against gemm_naive on the dequantised W */
static void check_gemm(QuantKind kind, int tb, int M, int N, int K) {
    int rows = tb ? N : K, cols = tb ? K : N;
    float *w = random_weights((size_t)rows * cols, 11);
    QuantMat q = make(kind, kind == QUANT_NF4, rows, cols, w);
    float *wd = malloc((size_t)rows * cols * sizeof *wd);
    quant_dequant(&q, 0, (size_t)rows * cols, wd);
    real *B = malloc((size_t)rows * cols * sizeof *B), *A = malloc((size_t)M * K * sizeof *A);
    for (size_t i = 0; i < (size_t)rows * cols; i++) B[i] = wd[i];
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (real)((double)(i % 13) / 7.0 - 0.9);
    real *C = calloc((size_t)M * N, sizeof *C), *R = calloc((size_t)M * N, sizeof *R), *C2 = calloc((size_t)M * N, sizeof *C2);
    gemm_naive(0, tb, M, N, K, (real)1, A, K, B, cols, (real)0, R, N);
    for (int l = 0; l < 3; l++) {
        static const char *const levels[] = { "scalar", "avx2", "avx512" };
        if (!gemm_force_level(levels[l])) continue;
        threads_init(1);
        gemm_quant(0, tb, M, N, K, (real)1, A, K, &q, (real)0, C, N);
        threads_init(2);
        gemm_quant(0, tb, M, N, K, (real)1, A, K, &q, (real)0, C2, N);
        ck_assert_msg(memcmp(C, C2, (size_t)M * N * sizeof *C) == 0, "%s: 1 vs 2 threads differ", levels[l]);
        for (size_t i = 0; i < (size_t)M * N; i++)
            ck_assert_msg(fabs((double)C[i] - (double)R[i]) <= 1e-4 * (1 + fabs((double)R[i])),
                          "%s kind %d tb %d: C[%zu] %g vs %g", levels[l], (int)kind, tb, i, (double)C[i], (double)R[i]);
    }
    gemm_force_level(NULL);
    threads_init(0);
    free(w); free(wd); free(B); free(A); free(C); free(R); free(C2); free(q.codes);
}

START_TEST(test_gemm_quant) {
    check_gemm(QUANT_NF4, 1, 70, 45, 600);    /* forward: y = x·Wᵀ, W [45, 600] */
    check_gemm(QUANT_NF4, 0, 70, 600, 45);    /* backward: dX = dY·W, W [45, 600] */
    check_gemm(QUANT_INT8, 1, 33, 130, 96);
    check_gemm(QUANT_INT8, 0, 33, 96, 130);
}
END_TEST

Suite *quant_suite(void) {
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quant");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_nf4_hand);
    tcase_add_test(tc, test_int8_hand);
    tcase_add_test(tc, test_nf4_twin);
    tcase_add_test(tc, test_nf4_double_quant);
    tcase_add_test(tc, test_gemm_quant);
    suite_add_tcase(s, tc);
    return s;
}
