/* tests/autograd/test_ops_basic.c — forward values (and some backward values) of the matmul, embedding,
   gather, activation and reduce op families against naive loops and hand-computed numbers;
   the shape-mismatch abort of each family; and the frozen-weight rule of op_linear. Gradients in
   general are covered by test_gradcheck_every_op (tests/autograd/test_tape_gradcheck.c). */
#include "tests/support/suites.h"
#include "autograd/ops.h"
#include "tensor/half.h"
#include <math.h>
#include <signal.h>
#include <string.h>

/* float: the fast GEMM may sum in another order than the double-accumulating naive loops */
static double tol(void) { return sizeof(real) == sizeof(double) ? 1e-12 : 1e-5; }

typedef struct { Arena a; Tape t; Rng rng; } Ctx;

static void ctx_init(Ctx *c) {
    arena_init(&c->a, 1 << 20);
    tape_init(&c->t, &c->a);
    rng_seed(&c->rng, 99);
}
static void ctx_free(Ctx *c) { tape_free(&c->t); arena_free(&c->a); }

static Tensor *rand_t(Ctx *c, int ndim, const int *shape, int with_grad) {
    Tensor *x = tensor_new(&c->a, ndim, shape, with_grad);
    rng_fill_uniform(&c->rng, x->data, x->numel, -1.0, 1.0);
    return x;
}
static Tensor *from_vals(Ctx *c, int n0, int n1, const double *v, int with_grad) {
    Tensor *x = tensor_2d(&c->a, n0, n1, with_grad);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = (real)v[i];
    return x;
}
static void assert_vals(const real *got, const double *want, size_t n, double eps, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= eps * (1 + fabs(want[i])),
                      "%s[%zu] = %.9g, want %.9g", what, i, (double)got[i], want[i]);
}

/* A test whose body must die in CHECK (registered with tcase_add_test_raise_signal) */
#define ABORT_TEST(name, ...)       \
    START_TEST(name)                \
    {                               \
        Ctx c;                      \
        ctx_init(&c);               \
        __VA_ARGS__;                \
    }                               \
    END_TEST

/* ---- matmul family ---- */

START_TEST(test_linear_matches_naive)
{
    Ctx c;
    ctx_init(&c);
    enum { B = 2, T = 3, I = 7, O = 5 };
    Tensor *x = rand_t(&c, 3, (int[]){ B, T, I }, 1), *w = rand_t(&c, 2, (int[]){ O, I }, 1);
    Tensor *y = op_linear(&c.t, x, w);
    ck_assert(y->ndim == 3 && y->shape[2] == O);
    rng_fill_uniform(&c.rng, tensor_grad_ready(y), y->numel, -1.0, 1.0);
    tape_backward_seeded(&c.t);
    double want[B * T * O], dx[B * T * I] = { 0 }, dw[O * I] = { 0 };
    for (int r = 0; r < B * T; r++)
        for (int o = 0; o < O; o++) {
            double acc = 0;
            for (int i = 0; i < I; i++) {
                acc += (double)x->data[r * I + i] * w->data[o * I + i];
                dx[r * I + i] += (double)y->grad[r * O + o] * w->data[o * I + i];
                dw[o * I + i] += (double)y->grad[r * O + o] * x->data[r * I + i];
            }
            want[r * O + o] = acc;
        }
    assert_vals(y->data, want, y->numel, tol(), "y");
    assert_vals(x->grad, dx, x->numel, tol(), "dx");
    assert_vals(w->grad, dw, w->numel, tol(), "dw");
    ctx_free(&c);
}
END_TEST

START_TEST(test_linear_bf16_matches_rounded_f32)
{
    Ctx c;
    ctx_init(&c);
    Tensor *x = rand_t(&c, 2, (int[]){ 4, 9 }, 1), *w = rand_t(&c, 2, (int[]){ 6, 9 }, 0);
    Tensor *w16 = tensor_2d(&c.a, 6, 9, 0);
    w16->bf16 = arena_alloc(&c.a, w->numel * sizeof(uint16_t));
    for (size_t i = 0; i < w->numel; i++) {
        w16->bf16[i] = f32_to_bf16((float)w->data[i]);
        w->data[i] = (real)bf16_to_f32(w16->bf16[i]);     /* the f32 twin holds the rounded values */
    }
    w16->data = NULL;
    Tensor *y = op_linear(&c.t, x, w), *y16 = op_linear(&c.t, x, w16);
    double want[4 * 6], dx[4 * 9];
    for (size_t i = 0; i < y->numel; i++) want[i] = y->data[i];
    assert_vals(y16->data, want, y->numel, tol(), "y_bf16");
    tensor_grad_ready(y16);
    for (size_t i = 0; i < y->numel; i++) y16->grad[i] = (real)1;
    tape_backward_seeded(&c.t);      /* only y16 seeded: dx = Σ_o w[o][i] */
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 9; i++) {
            dx[r * 9 + i] = 0;
            for (int o = 0; o < 6; o++) dx[r * 9 + i] += w->data[o * 9 + i];
        }
    assert_vals(x->grad, dx, x->numel, tol(), "dx_bf16");
    ck_assert_ptr_null(w16->grad);
    ctx_free(&c);
}
END_TEST

START_TEST(test_matmul_transposes_match_naive)
{
    Ctx c;
    ctx_init(&c);
    enum { M = 3, K = 4, N = 5 };
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) {
            Tensor *a = rand_t(&c, 2, ta ? (int[]){ K, M } : (int[]){ M, K }, 0);
            Tensor *b = rand_t(&c, 2, tb ? (int[]){ N, K } : (int[]){ K, N }, 0);
            Tensor *y = op_matmul(&c.t, a, b, ta, tb);
            ck_assert(y->shape[0] == M && y->shape[1] == N);
                    double want[M * N];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0;
                    for (int p = 0; p < K; p++)
                        acc += (double)(ta ? a->data[p * M + i] : a->data[i * K + p]) *
                               (double)(tb ? b->data[j * K + p] : b->data[p * N + j]);
                    want[i * N + j] = acc;
                }
            assert_vals(y->data, want, y->numel, tol(), ta ? (tb ? "tt" : "tn") : (tb ? "nt" : "nn"));
        }
    ctx_free(&c);
}
END_TEST

/* op_linear with a frozen w: no grad buffer appears on w, x still gets dy·w; with x frozen
   too nothing is recorded at all */
START_TEST(test_linear_frozen_w_gets_no_grad)
{
    Ctx c;
    ctx_init(&c);
    Tensor *x = from_vals(&c, 1, 2, (double[]){ 1, 2 }, 1);
    Tensor *w = from_vals(&c, 2, 2, (double[]){ 1, -1, 3, 0.5 }, 0);
    Tensor *y = op_linear(&c.t, x, w);
    ck_assert_int_eq(c.t.n, 1);
    assert_vals(y->data, (double[]){ -1, 4 }, 2, 1e-6, "y");
    tensor_grad_ready(y);
    y->grad[0] = 1, y->grad[1] = 2;
    tape_backward_seeded(&c.t);
    assert_vals(x->grad, (double[]){ 7, 0 }, 2, 1e-6, "dx");   /* [1,2]·[[1,-1],[3,0.5]] */
    ck_assert_ptr_null(w->grad);
    Tensor *xf = from_vals(&c, 1, 2, (double[]){ 1, 2 }, 0);
    Tensor *yf = op_linear(&c.t, xf, w);
    ck_assert_ptr_null(yf->grad);
    ck_assert_int_eq(c.t.n, 1);
    ctx_free(&c);
}
END_TEST

ABORT_TEST(test_linear_shape_mismatch_aborts,
           op_linear(&c.t, tensor_2d(&c.a, 2, 3, 1), tensor_2d(&c.a, 4, 5, 1)))

ABORT_TEST(test_matmul_shape_mismatch_aborts,
           op_matmul(&c.t, tensor_2d(&c.a, 2, 3, 1), tensor_2d(&c.a, 4, 5, 1), 0, 1))

/* ---- embedding ---- */

START_TEST(test_embedding_repeated_ids_accumulate)
{
    Ctx c;
    ctx_init(&c);
    Tensor *table = from_vals(&c, 3, 2, (double[]){ 1, 2, 3, 4, 5, 6 }, 1);
    const int ids[4] = { 1, 2, 1, 1 };
    Tensor *y = op_embedding(&c.t, table, ids, 4);
    assert_vals(y->data, (double[]){ 3, 4, 5, 6, 3, 4, 3, 4 }, 8, 0, "y");
    tensor_grad_ready(y);
    for (int i = 0; i < 8; i++) y->grad[i] = (real)(i + 1);
    tape_backward_seeded(&c.t);
    /* row 1 gets dy rows 0, 2, 3: (1+5+7, 2+6+8); row 2 gets dy row 1; row 0 nothing */
    assert_vals(table->grad, (double[]){ 0, 0, 13, 16, 3, 4 }, 6, 0, "dtable");
    ctx_free(&c);
}
END_TEST

START_TEST(test_embedding_bf16_table_forward_only)
{
    Ctx c;
    ctx_init(&c);
    Tensor *table = tensor_2d(&c.a, 2, 3, 0);
    const float v[6] = { 1.0f, -2.5f, 0.15625f, 3.0f, 1.0f + 0x1p-7f, -0.5f };   /* exact in bf16 */
    table->bf16 = arena_alloc(&c.a, 6 * sizeof(uint16_t));
    for (int i = 0; i < 6; i++) table->bf16[i] = f32_to_bf16(v[i]);
    table->data = NULL;
    Tensor *y = op_embedding(&c.t, table, (const int[]){ 1, 0 }, 2);
    assert_vals(y->data, (double[]){ 3.0, 1.0 + 0x1p-7, -0.5, 1.0, -2.5, 0.15625 }, 6, 0, "y");
    ck_assert_ptr_null(y->grad);
    ck_assert_int_eq(c.t.n, 0);
    ctx_free(&c);
}
END_TEST

ABORT_TEST(test_embedding_bad_id_aborts,
           op_embedding(&c.t, tensor_2d(&c.a, 3, 2, 1), (const int[]){ 0, 3 }, 2))
ABORT_TEST(test_embedding_table_not_2d_aborts,
           op_embedding(&c.t, tensor_1d(&c.a, 6, 1), (const int[]){ 0 }, 1))

/* ---- gather family ---- */

START_TEST(test_gather_rows_forward_backward)
{
    Ctx c;
    ctx_init(&c);
    Tensor *x = from_vals(&c, 3, 2, (double[]){ 1, 2, 3, 4, 5, 6 }, 1);
    Tensor *y = op_gather_rows(&c.t, x, (const int[]){ 2, 2, 0 }, 3);
    assert_vals(y->data, (double[]){ 5, 6, 5, 6, 1, 2 }, 6, 0, "y");
    tensor_grad_ready(y);
    for (int i = 0; i < 6; i++) y->grad[i] = (real)(i + 1);
    tape_backward_seeded(&c.t);
    assert_vals(x->grad, (double[]){ 5, 6, 0, 0, 4, 6 }, 6, 0, "dx");
    ctx_free(&c);
}
END_TEST

START_TEST(test_scatter_add_rows_repeated_idx)
{
    Ctx c;
    ctx_init(&c);
    Tensor *base = from_vals(&c, 3, 2, (double[]){ 1, 1, 1, 1, 1, 1 }, 1);
    Tensor *src = from_vals(&c, 3, 2, (double[]){ 1, 2, 10, 20, 100, 200 }, 1);
    Tensor *w = from_vals(&c, 3, 1, (double[]){ 0.5, 2, -1 }, 1);
    Tensor *y = op_scatter_add_rows(&c.t, base, src, (const int[]){ 2, 0, 2 }, w);
    /* row 0: 1 + 2·(10,20); row 1: base; row 2: 1 + 0.5·(1,2) − (100,200) */
    assert_vals(y->data, (double[]){ 21, 41, 1, 1, -98.5, -198 }, 6, 1e-6, "y");
    tensor_grad_ready(y);
    for (int i = 0; i < 6; i++) y->grad[i] = (real)(i + 1);   /* dy rows (1,2) (3,4) (5,6) */
    tape_backward_seeded(&c.t);
    assert_vals(base->grad, (double[]){ 1, 2, 3, 4, 5, 6 }, 6, 1e-6, "dbase");
    assert_vals(src->grad, (double[]){ 2.5, 3, 2, 4, -5, -6 }, 6, 1e-6, "dsrc");
    /* dw[i] = <dy[idx[i]], src[i]>: (5,6)·(1,2), (1,2)·(10,20), (5,6)·(100,200) */
    assert_vals(w->grad, (double[]){ 17, 50, 1700 }, 3, 1e-6, "dw");
    Tensor *y1 = op_scatter_add_rows(&c.t, base, src, (const int[]){ 1, 1, 1 }, NULL);
    assert_vals(y1->data, (double[]){ 1, 1, 112, 223, 1, 1 }, 6, 1e-6, "y_unweighted");
    ctx_free(&c);
}
END_TEST

START_TEST(test_slice_and_concat_cols)
{
    Ctx c;
    ctx_init(&c);
    Tensor *x = from_vals(&c, 2, 4, (double[]){ 1, 2, 3, 4, 5, 6, 7, 8 }, 1);
    Tensor *s = op_slice_cols(&c.t, x, 1, 2);
    assert_vals(s->data, (double[]){ 2, 3, 6, 7 }, 4, 0, "slice");
    Tensor *b = from_vals(&c, 2, 1, (double[]){ 9, 10 }, 1);
    Tensor *cat = op_concat_cols(&c.t, s, b);
    ck_assert_int_eq(cat->shape[1], 3);
    assert_vals(cat->data, (double[]){ 2, 3, 9, 6, 7, 10 }, 6, 0, "concat");
    tensor_grad_ready(cat);
    for (int i = 0; i < 6; i++) cat->grad[i] = (real)(i + 1);
    tape_backward_seeded(&c.t);
    assert_vals(x->grad, (double[]){ 0, 1, 2, 0, 0, 4, 5, 0 }, 8, 0, "dx");
    assert_vals(b->grad, (double[]){ 3, 6 }, 2, 0, "db");
    ctx_free(&c);
}
END_TEST

ABORT_TEST(test_scatter_shape_mismatch_aborts,
           op_scatter_add_rows(&c.t, tensor_2d(&c.a, 4, 3, 1), tensor_2d(&c.a, 2, 5, 1),
                               (const int[]){ 0, 1 }, NULL))
ABORT_TEST(test_concat_shape_mismatch_aborts,
           op_concat_cols(&c.t, tensor_2d(&c.a, 4, 3, 1), tensor_2d(&c.a, 2, 3, 1)))

/* ---- activations ---- */

START_TEST(test_silu_swiglu_values)
{
    Ctx c;
    ctx_init(&c);
    const double l3 = log(3.0);   /* σ(ln 3) = 3/4, σ(−ln 3) = 1/4 */
    Tensor *a = from_vals(&c, 1, 3, (double[]){ 0, l3, -l3 }, 0);
    Tensor *b = from_vals(&c, 1, 3, (double[]){ 5, 2, -4 }, 0);
    assert_vals(op_silu(&c.t, a)->data, (double[]){ 0, 0.75 * l3, -0.25 * l3 }, 3, 1e-6, "silu");
    assert_vals(op_swiglu(&c.t, a, b)->data, (double[]){ 0, 1.5 * l3, l3 }, 3, 1e-6, "swiglu");
    Tensor *big = from_vals(&c, 1, 2, (double[]){ 100, -100 }, 0);   /* no overflow either way */
    assert_vals(op_silu(&c.t, big)->data, (double[]){ 100, -100 * exp(-100.0) }, 2, 1e-6, "silu_big");
    ctx_free(&c);
}
END_TEST

START_TEST(test_softmax_values_and_stability)
{
    Ctx c;
    ctx_init(&c);
    const double l3 = log(3.0);
    Tensor *x = from_vals(&c, 3, 2, (double[]){ 0, l3, 1000, 1000 + l3, -1000, -1000 - l3 }, 0);
    Tensor *y = op_softmax(&c.t, x);
    /* two-way softmax = (σ(−d), σ(d)), d = x1 − x0 as stored (ln 3 is not exact near 1000) */
    double want[6];
    for (int r = 0; r < 3; r++) {
        double d = (double)x->data[2 * r + 1] - (double)x->data[2 * r];
        want[2 * r] = 1 / (1 + exp(d));
        want[2 * r + 1] = 1 / (1 + exp(-d));
    }
    assert_vals(y->data, want, 6, 1e-6, "softmax");
    ck_assert_double_eq_tol(want[2], 0.25, 1e-4);     /* the large rows are the small ones, shifted */
    ck_assert_double_eq_tol(want[4], 0.75, 1e-4);
    Tensor *r = rand_t(&c, 3, (int[]){ 2, 3, 17 }, 0);
    for (size_t i = 0; i < r->numel; i++) r->data[i] *= 50;
    Tensor *yr = op_softmax(&c.t, r);
    for (int row = 0; row < 6; row++) {
        double s = 0;
        for (int j = 0; j < 17; j++) s += yr->data[row * 17 + j];
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
    }
    ctx_free(&c);
}
END_TEST


ABORT_TEST(test_swiglu_shape_mismatch_aborts,
           op_swiglu(&c.t, tensor_2d(&c.a, 2, 3, 1), tensor_2d(&c.a, 3, 2, 1)))

/* ---- reduce ---- */

START_TEST(test_sum_mean_add_scaled_values)
{
    Ctx c;
    ctx_init(&c);
    Tensor *x = from_vals(&c, 2, 2, (double[]){ 1, 2, 3, 6 }, 1);
    Tensor *s = op_sum(&c.t, x), *m = op_mean(&c.t, x);
    ck_assert(s->numel == 1 && m->numel == 1);
    ck_assert_double_eq_tol(s->data[0], 12, 1e-9);
    ck_assert_double_eq_tol(m->data[0], 3, 1e-9);
    tape_backward(&c.t, m);          /* d mean / dx = 1/4 */
    assert_vals(x->grad, (double[]){ 0.25, 0.25, 0.25, 0.25 }, 4, 1e-9, "dmean");
    tape_reset(&c.t);
    Tensor *b = from_vals(&c, 2, 2, (double[]){ 4, 0, -2, 1 }, 1);
    tensor_zero_grad(x);
    Tensor *y = op_add_scaled(&c.t, x, b, (real)-0.5);
    assert_vals(y->data, (double[]){ -1, 2, 4, 5.5 }, 4, 1e-9, "add_scaled");
    tape_backward(&c.t, op_sum(&c.t, y));
    assert_vals(x->grad, (double[]){ 1, 1, 1, 1 }, 4, 1e-9, "da");
    assert_vals(b->grad, (double[]){ -0.5, -0.5, -0.5, -0.5 }, 4, 1e-9, "db");
    ctx_free(&c);
}
END_TEST

ABORT_TEST(test_add_scaled_shape_mismatch_aborts,
           op_add_scaled(&c.t, tensor_2d(&c.a, 2, 3, 1), tensor_1d(&c.a, 6, 1), (real)1))

Suite *ops_basic_suite(void) {
    Suite *s = suite_create("ops_basic");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_linear_matches_naive);
    tcase_add_test(tc, test_linear_bf16_matches_rounded_f32);
    tcase_add_test(tc, test_matmul_transposes_match_naive);
    tcase_add_test(tc, test_linear_frozen_w_gets_no_grad);
    tcase_add_test(tc, test_embedding_repeated_ids_accumulate);
    tcase_add_test(tc, test_embedding_bf16_table_forward_only);
    tcase_add_test(tc, test_gather_rows_forward_backward);
    tcase_add_test(tc, test_scatter_add_rows_repeated_idx);
    tcase_add_test(tc, test_slice_and_concat_cols);
    tcase_add_test(tc, test_silu_swiglu_values);
    tcase_add_test(tc, test_softmax_values_and_stability);
    tcase_add_test(tc, test_sum_mean_add_scaled_values);
    suite_add_tcase(s, tc);
    TCase *ab = tcase_create("aborts");
    tcase_add_abort_test(ab, test_linear_shape_mismatch_aborts);
    tcase_add_abort_test(ab, test_matmul_shape_mismatch_aborts);
    tcase_add_abort_test(ab, test_embedding_bad_id_aborts);
    tcase_add_abort_test(ab, test_embedding_table_not_2d_aborts);
    tcase_add_abort_test(ab, test_scatter_shape_mismatch_aborts);
    tcase_add_abort_test(ab, test_concat_shape_mismatch_aborts);
    tcase_add_abort_test(ab, test_swiglu_shape_mismatch_aborts);
    tcase_add_abort_test(ab, test_add_scaled_shape_mismatch_aborts);
    suite_add_tcase(s, ab);
    return s;
}
