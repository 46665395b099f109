/* tests/tensor/test_rowvec.c — the fast row reductions (tensor/rowvec.c) and the fused LM head
   built on them, bit for bit against their plain twins:
   - rowvec_max / rowvec_exp_sum / rowvec_sum_exp against vm_row_max / vm_row_exp_sum /
     vm_row_sum_exp (vecmath.h, compiled here without multi-versioning) on every row length
     around the 16- and 64-float boundaries and up to a 32000 vocabulary, on plain rows and on
     the awkward ones: NaN at the start, in the vector body and in the tail; a ±0 maximum;
     ±inf; arguments below -87 and above 88 (exp clamps); ties;
   - op_linear_cross_entropy (loss, dx, dw) against the unfused algorithm it implements
     (gemm logits, vecmath row loops, gemm products, in the op's chunking), at 1 and 3 threads. */
#include "tests/support/suites.h"
#include "tests/support/op_fixture.h"
#include "autograd/ops.h"
#include "tensor/rowvec.h"
#include "tensor/rowvec_rank.h"
#include "tensor/vecmath.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include <math.h>
#include <string.h>

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

/* one row of length n, kind k: 0 plain, 1 NaN, 2 ±0 maximum, 3 infinities, 4 ties + tiny values,
   5 a ±0 maximum whose sign depends on the order of the scan (vm_row_max: -0) */
static void fill_row(real *x, int n, int kind, Rng *rng) {
    rng_fill_uniform(rng, x, (size_t)n, -30.0, 30.0);
    if (kind == 1) x[(int)rng_int(rng, (uint64_t)n)] = (real)NAN;
    if (kind == 2) {
        for (int j = 0; j < n; j++) x[j] = -real_fabs(x[j]) - (real)1;
        x[(int)rng_int(rng, (uint64_t)n)] = (real)-0.0;
        x[(int)rng_int(rng, (uint64_t)n)] = (real)0.0;
        x[n - 1] = (real)-0.0;
    }
    if (kind == 3) {
        x[(int)rng_int(rng, (uint64_t)n)] = (real)INFINITY;
        x[(int)rng_int(rng, (uint64_t)n)] = (real)-INFINITY;
    }
    if (kind == 4)
        for (int j = 0; j < n; j++) x[j] = j % 3 ? (real)7.5 : (real)(1e-39 * (j % 5));
    if (kind == 5 && n >= 80) {
        for (int j = 0; j < n; j++) x[j] = -1;
        x[16] = (real)0.0;                         /* lane 0 sees +0, then -0 last */
        x[64] = (real)-0.0;
    }
}

static void check_row(const real *x, int n, real m, const char *what) {
    real *y1 = xmalloc((size_t)n * sizeof(real)), *y2 = xmalloc((size_t)n * sizeof(real));
    double s1 = rowvec_exp_sum(y1, x, n, m), s2 = vm_row_exp_sum(y2, x, n, m);
    ck_assert_msg(same_bits(&s1, &s2, sizeof s1) && same_bits(y1, y2, (size_t)n * sizeof(real)),
                  "%s n=%d m=%g: exp-sum %.17g vs %.17g", what, n, (double)m, s1, s2);
    s1 = rowvec_sum_exp(x, n, m);
    s2 = vm_row_sum_exp(x, n, m);
    ck_assert_msg(same_bits(&s1, &s2, sizeof s1), "%s n=%d: sum-exp %.17g vs %.17g", what, n, s1, s2);
    free(y1);
    free(y2);
}

START_TEST(test_rowvec_matches_vecmath_bitwise)
{
    static const int lens[] = { 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 143, 200, 1000, 4099, 32000 };
    Rng rng;
    rng_seed(&rng, 77);
    real *x = xmalloc(32000 * sizeof(real));
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (int kind = 0; kind < 6; kind++)
            for (int rep = 0; rep < 3; rep++) {
                int n = lens[li];
                fill_row(x, n, kind, &rng);
                if (kind == 1 && rep == 1) x[0] = (real)NAN;          /* NaN first / last */
                if (kind == 1 && rep == 2) x[n - 1] = (real)NAN;
                real m1 = rowvec_max(x, n), m2 = vm_row_max(x, n);
                ck_assert_msg(same_bits(&m1, &m2, sizeof m1), "max n=%d kind=%d rep=%d: %g vs %g", n, kind,
                              rep, (double)m1, (double)m2);
                check_row(x, n, m2, "m = max");
                check_row(x, n, m2 - (real)100, "m = max - 100 (exp clamps at 88)");
                check_row(x, n, m2 + (real)95, "m = max + 95 (exp below -87)");
            }
    free(x);
}
END_TEST

/* The fused op's algorithm written out unfused, in the op's chunking (see linear_ce.c):
   loss, and dx / dw for the seed dy (dw NULL: w frozen). */
static real lce_twin(const real *x, const real *w, const int *tg, int n, int C, int V, int rows,
                     real dy, real *dx, real *dw) {
    real *L = xmalloc((size_t)rows * V * sizeof(real)), *Z = xmalloc((size_t)n * C * sizeof(real));
    real *S = dw ? xmalloc((size_t)V * C * sizeof(real)) : NULL;
    double *rl = xmalloc((size_t)n * sizeof(double)), sum = 0;
    int counted = 0;
    for (int r0 = 0; r0 < n; r0 += rows) {
        int nr = n - r0 < rows ? n - r0 : rows;
        gemm(0, 1, nr, V, C, 1, x + (size_t)r0 * C, C, w, C, 0, L, V);
        for (int i = 0; i < nr; i++) {
            real *l = L + (size_t)i * V;
            int t = tg[r0 + i];
            if (t == CE_IGNORE_INDEX) {
                rl[r0 + i] = 0;
                memset(l, 0, (size_t)V * sizeof(real));
                continue;
            }
            real m = vm_row_max(l, V), zt = l[t];
            double s = vm_row_exp_sum(l, l, V, m);
            rl[r0 + i] = (double)m + log(s) - (double)zt;
            real inv = (real)(1.0 / s);
            for (int j = 0; j < V; j++) l[j] *= inv;
            l[t] -= 1;
        }
        gemm(0, 0, nr, C, V, 1, L, V, w, C, 0, Z + (size_t)r0 * C, C);
        if (S) gemm(1, 0, V, C, nr, 1, L, V, x + (size_t)r0 * C, C, (real)(r0 > 0), S, C);
    }
    for (int i = 0; i < n; i++) {
        sum += rl[i];
        counted += tg[i] != CE_IGNORE_INDEX;
    }
    real g = counted ? (real)((double)dy / counted) : 0;
    for (size_t i = 0; counted && i < (size_t)n * C; i++) dx[i] += g * Z[i];
    for (size_t i = 0; counted && S && i < (size_t)V * C; i++) dw[i] += g * S[i];
    free(L); free(Z); free(S); free(rl);
    return counted ? (real)(sum / counted) : 0;
}

static void check_lce_bitwise(int n, int C, int V, int chunk, int w_grad, int threads, uint64_t seed) {
    threads_init(threads);
    Fx f;
    fx_init(&f, seed);
    Tensor *x = tensor_2d(&f.a, n, C, 1), *w = tensor_2d(&f.a, V, C, w_grad);
    rng_fill_uniform(&f.rng, x->data, x->numel, -1, 1);
    rng_fill_uniform(&f.rng, w->data, w->numel, -1, 1);
    int *tg = arena_alloc(&f.a, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) tg[i] = i % 7 == 3 ? CE_IGNORE_INDEX : (int)rng_int(&f.rng, (uint64_t)V);
    real *dx = arena_alloc_zero(&f.a, x->numel * sizeof(real));
    real *dw = w_grad ? arena_alloc_zero(&f.a, w->numel * sizeof(real)) : NULL;
    int rows = chunk > 0 ? (chunk < n ? chunk : n) : (int)(linear_ce_chunk_elems() / (size_t)V);
    rows = rows < n ? rows : n;
    real want = lce_twin(x->data, w->data, tg, n, C, V, rows, (real)0.75, dx, dw);
    Tensor *l = chunk > 0 ? op_linear_cross_entropy_chunked(&f.t, x, w, tg, n, chunk)
                          : op_linear_cross_entropy(&f.t, x, w, tg, n);
    tensor_grad_ready(l)[0] = (real)0.75;
    tape_backward_seeded(&f.t);
    ck_assert_msg(same_bits(&l->data[0], &want, sizeof want), "n %d V %d chunk %d threads %d: loss %.9g vs %.9g",
                  n, V, chunk, threads, (double)l->data[0], (double)want);
    ck_assert_msg(same_bits(x->grad, dx, x->numel * sizeof(real)), "n %d V %d chunk %d threads %d: dx differs",
                  n, V, chunk, threads);
    if (w_grad)
        ck_assert_msg(same_bits(w->grad, dw, w->numel * sizeof(real)), "n %d V %d chunk %d: dw differs", n, V, chunk);
    fx_free(&f);
    threads_init(0);
}

START_TEST(test_linear_ce_bitwise_unfused_twin)
{
    for (int threads = 1; threads <= 3; threads += 2) {
        check_lce_bitwise(37, 12, 203, 10, 0, threads, 1);    /* V > 64, not a multiple of 16 */
        check_lce_bitwise(37, 12, 203, 10, 1, threads, 2);    /* w with a gradient */
        check_lce_bitwise(20, 16, 50, 7, 0, threads, 3);      /* V < 64: the vecmath path */
        check_lce_bitwise(70, 24, 4099, 0, 0, threads, 4);    /* default chunking */
        check_lce_bitwise(9, 5, 64, 4, 1, threads, 5);
    }
}
END_TEST

/* rowvec_outer_add_rows against its definition, n calls of rowvec_outer_add, bit for bit: ranks 8
   (the register path), 16, 5 and 13 (the rest), column ranges with 32-, 16- and 1-wide parts;
   and rank-8 rowvec_axpy_rows against two rank-4 calls */
START_TEST(test_outer_add_rows_bitwise)
{
    enum { LD = 83, NV = 29, NROW = 40 };
    static const int ranks[4] = { 8, 16, 5, 13 }, ranges[3][2] = { { 0, 83 }, { 3, 50 }, { 17, 31 } };
    static real C[NROW * 16], V[NV * LD], M1[16 * LD], M2[16 * LD];
    int rows[NROW];
    Rng r = rng_derive(11, 3);
    rng_fill_uniform(&r, C, NROW * 16, -1, 1);
    rng_fill_uniform(&r, V, NV * LD, -1, 1);
    for (int j = 0; j < NROW; j++) rows[j] = (int)rng_int(&r, NV);
    for (int q = 0; q < 4; q++)
        for (int g = 0; g < 3; g++) {
            int R = ranks[q], lo = ranges[g][0], hi = ranges[g][1];
            rng_fill_uniform(&r, M1, 16 * LD, -1, 1);
            memcpy(M2, M1, sizeof M1);
            rowvec_outer_add_rows(M1, R, LD, lo, hi, C, 16, NROW, V, LD, rows);
            for (int j = 0; j < NROW; j++) rowvec_outer_add(M2, R, LD, lo, hi, C + j * 16, V + rows[j] * LD);
            ck_assert_msg(!memcmp(M1, M2, sizeof M1), "rank %d, columns [%d, %d)", R, lo, hi);
        }
    /* rowvec_axpy_rows with rank 8 (one pass) is its two rank-4 passes, bit for bit */
    static real y1[LD], y2[LD];
    rng_fill_uniform(&r, y1, LD, -1, 1);
    memcpy(y2, y1, sizeof y1);
    rowvec_axpy_rows(y1, M1, 8, LD, C);
    rowvec_axpy_rows(y2, M1, 4, LD, C);
    rowvec_axpy_rows(y2, M1 + 4 * LD, 4, LD, C + 4);
    ck_assert(!memcmp(y1, y2, sizeof y1));
}
END_TEST

Suite *rowvec_suite(void) {
    Suite *s = suite_create("rowvec");
    TCase *tc = tcase_create("bitwise");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rowvec_matches_vecmath_bitwise);
    tcase_add_test(tc, test_outer_add_rows_bitwise);
    tcase_add_test(tc, test_linear_ce_bitwise_unfused_twin);
    suite_add_tcase(s, tc);
    return s;
}
