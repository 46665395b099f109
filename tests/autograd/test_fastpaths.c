/* tests/autograd/test_fastpaths.c — the speed paths of the training step against independent references:
   - vm_expf (tensor/vecmath.h) against libm's double exp, to a few ulp, and its range ends;
   - op_linear on narrow products (LoRA's rank side, computed transposed) against double loops,
     forward and both gradients, on shapes large enough to take that path;
   - swiglu on a tensor large enough to split over the pool, against the formula in double;
   - softmax on rows that take the pool path, bit for bit the single-row result;
   - op_lora_linear (fused LoRA) against op_linear/op_add_scaled, f32 and bf16 base weights;
   - op_linear_cross_entropy (fused, chunked) against op_linear + op_cross_entropy: loss and
     both gradients, vocabularies that are and are not multiples of 16, ignored rows, chunk sizes
     from 1 row to all rows, and a bf16 frozen weight against the same weight rounded to bf16. */
#include "tests/support/suites.h"
#include "tests/support/op_fixture.h"
#include "autograd/ops.h"
#include "tensor/vecmath.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


static Tensor *rand2(Fx *f, int n0, int n1, int grad, double lo, double hi) {
    Tensor *x = tensor_2d(&f->a, n0, n1, grad);
    rng_fill_uniform(&f->rng, x->data, x->numel, lo, hi);
    return x;
}

static double tol(void) { return REAL_IS_DOUBLE ? 1e-11 : 2e-5; }

static void assert_close(const real *got, const double *want, size_t n, double tl, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tl * (1.0 + fabs(want[i])),
                      "%s[%zu]: got %.10g want %.10g", what, i, (double)got[i], want[i]);
}

START_TEST(test_vm_expf_accuracy)
{
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x), rel = fabs((double)vm_expf(x) - want) / want;
        worst = rel > worst ? rel : worst;
    }
    ck_assert_msg(worst < 4 * 5.97e-8, "vm_expf worst relative error %.3g (> 4 ulp)", worst);
    ck_assert(vm_expf(0.0f) == 1.0f);
    ck_assert(vm_expf(-200.0f) == 0.0f);
    ck_assert(isnan(vm_expf(NAN)));
    ck_assert(vm_sigmoid((real)-30) > 0 && vm_sigmoid((real)30) <= 1);
    ck_assert_double_eq_tol((double)vm_sigmoid((real)0.7), 1.0 / (1.0 + exp(-0.7)), 1e-6);
}
END_TEST

/* y = x·wᵀ and its gradients for a probe dy, in double */
static void naive_linear(const Tensor *x, const Tensor *w, const real *dy, double *y, double *dx, double *dw) {
    int R = x->shape[0], I = x->shape[1], O = w->shape[0];
    memset(dx, 0, (size_t)R * I * sizeof(double));
    memset(dw, 0, (size_t)O * I * sizeof(double));
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++) {
            double s = 0;
            for (int i = 0; i < I; i++) s += (double)x->data[r * I + i] * w->data[o * I + i];
            y[r * O + o] = s;
            for (int i = 0; i < I; i++) {
                dx[r * I + i] += (double)dy[r * O + o] * w->data[o * I + i];
                dw[o * I + i] += (double)dy[r * O + o] * x->data[r * I + i];
            }
        }
}

START_TEST(test_linear_narrow_paths)
{
    /* {R, I, O}: narrow forward (O = 8), narrow dX and dW (I = 8, R and O >= 64), plain */
    static const int shapes[3][3] = { { 100, 40, 8 }, { 96, 8, 72 }, { 70, 20, 24 } };
    for (int s = 0; s < 3; s++) {
        Fx f;
        fx_init(&f, 40 + (uint64_t)s);
        int R = shapes[s][0], I = shapes[s][1], O = shapes[s][2];
        Tensor *x = rand2(&f, R, I, 1, -1, 1), *w = rand2(&f, O, I, 1, -1, 1);
        Tensor *y = op_linear(&f.t, x, w);
        rng_fill_uniform(&f.rng, tensor_grad_ready(y), y->numel, -1, 1);
        double *want = xmalloc(sizeof(double) * ((size_t)R * O + (size_t)R * I + (size_t)O * I));
        double *wdx = want + (size_t)R * O, *wdw = wdx + (size_t)R * I;
        naive_linear(x, w, y->grad, want, wdx, wdw);
        tape_backward_seeded(&f.t);
        assert_close(y->data, want, (size_t)R * O, tol(), "y");
        assert_close(x->grad, wdx, (size_t)R * I, tol(), "dx");
        assert_close(w->grad, wdw, (size_t)O * I, tol(), "dw");
        free(want);
        fx_free(&f);
    }
}
END_TEST

START_TEST(test_swiglu_large_matches_formula)
{
    Fx f;
    fx_init(&f, 5);
    int R = 64, C = 700;                 /* 44800 elements: several pool chunks */
    Tensor *a = rand2(&f, R, C, 1, -12, 12), *b = rand2(&f, R, C, 1, -2, 2);
    Tensor *y = op_swiglu(&f.t, a, b);
    rng_fill_uniform(&f.rng, tensor_grad_ready(y), y->numel, -1, 1);
    tape_backward_seeded(&f.t);
    size_t n = a->numel;
    double *want = xmalloc(3 * n * sizeof(double)), *wda = want + n, *wdb = wda + n;
    for (size_t i = 0; i < n; i++) {
        double av = a->data[i], s = 1.0 / (1.0 + exp(-av)), g = y->grad[i];
        want[i] = av * s * b->data[i];
        wda[i] = g * b->data[i] * (s + av * s * (1 - s));
        wdb[i] = g * av * s;
    }
    assert_close(y->data, want, n, REAL_IS_DOUBLE ? 1e-12 : 1e-5, "swiglu");
    assert_close(a->grad, wda, n, REAL_IS_DOUBLE ? 1e-12 : 1e-5, "da");
    assert_close(b->grad, wdb, n, REAL_IS_DOUBLE ? 1e-12 : 1e-5, "db");
    free(want);
    fx_free(&f);
}
END_TEST

/* loss, dx, dw of the unfused reference: op_cross_entropy(op_linear(x, w)) */
static void lce_reference(Fx *f, Tensor *x, Tensor *w, const int *tg, int n, real dy, double *loss,
                          double *dx, double *dw) {
    Tensor *xr = tensor_2d(&f->a, x->shape[0], x->shape[1], 1), *wr = tensor_2d(&f->a, w->shape[0], w->shape[1], 1);
    memcpy(xr->data, x->data, x->numel * sizeof(real));
    for (size_t i = 0; i < w->numel; i++) wr->data[i] = w->data ? w->data[i] : (real)bf16_to_f32(w->bf16[i]);
    Tensor *l = op_cross_entropy(&f->t, op_linear(&f->t, xr, wr), tg, n);
    tensor_grad_ready(l)[0] = dy;
    tape_backward_seeded(&f->t);
    tape_reset(&f->t);
    *loss = l->data[0];
    for (size_t i = 0; i < x->numel; i++) dx[i] = xr->grad[i];
    for (size_t i = 0; i < w->numel; i++) dw[i] = wr->grad[i];
}

static void check_lce(int n, int C, int V, int chunk, int bf16, uint64_t seed) {
    Fx f;
    fx_init(&f, seed);
    Tensor *x = rand2(&f, n, C, 1, -1, 1), *w = rand2(&f, V, C, !bf16, -1, 1);
    if (bf16) {
        w->bf16 = arena_alloc(&f.a, w->numel * sizeof(uint16_t));
        for (size_t i = 0; i < w->numel; i++) w->bf16[i] = f32_to_bf16((float)w->data[i]);
        w->data = NULL;
    }
    int *tg = arena_alloc(&f.a, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) tg[i] = i % 5 == 2 ? CE_IGNORE_INDEX : (int)rng_int(&f.rng, (uint64_t)V);
    double *want = xmalloc(sizeof(double) * (x->numel + w->numel)), loss;
    lce_reference(&f, x, w, tg, n, (real)0.75, &loss, want, want + x->numel);
    Tensor *l = op_linear_cross_entropy_chunked(&f.t, x, w, tg, n, chunk);
    tensor_grad_ready(l)[0] = (real)0.75;
    tape_backward_seeded(&f.t);
    double tl = REAL_IS_DOUBLE ? 1e-11 : 2e-5;
    ck_assert_msg(fabs((double)l->data[0] - loss) <= tl * (1 + fabs(loss)), "V %d chunk %d: loss %.9g vs %.9g",
                  V, chunk, (double)l->data[0], loss);
    assert_close(x->grad, want, x->numel, tl, "dx");
    if (!bf16) assert_close(w->grad, want + x->numel, w->numel, tl, "dw");
    free(want);
    fx_free(&f);
}

START_TEST(test_linear_ce_matches_unfused)
{
    check_lce(37, 12, 50, 1, 0, 1);      /* V not a multiple of 16, one row per chunk */
    check_lce(37, 12, 64, 10, 0, 2);     /* ragged last chunk */
    check_lce(37, 12, 203, 37, 0, 3);    /* one chunk */
    check_lce(37, 12, 203, 500, 0, 4);   /* chunk larger than n */
    check_lce(20, 16, 96, 7, 1, 5);      /* frozen bf16 w */
}
END_TEST

/* op_lora_linear against op_add_scaled(op_linear(x, w), op_linear(op_linear(x, a), b), s), with
   R >= 64 rows so the rank-side products take the narrow path */
START_TEST(test_lora_linear_matches_unfused)
{
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        Fx f;
        fx_init(&f, 60 + (uint64_t)bf16);
        int R = 96, I = 40, O = 72, r = 8;
        Tensor *x = rand2(&f, R, I, 1, -1, 1), *w = rand2(&f, O, I, 0, -1, 1);
        Tensor *a = rand2(&f, r, I, 1, -1, 1), *b = rand2(&f, O, r, 1, -1, 1);
        if (bf16) {                       /* both paths read the same rounded weights */
            w->bf16 = arena_alloc(&f.a, w->numel * sizeof(uint16_t));
            for (size_t i = 0; i < w->numel; i++) {
                w->bf16[i] = f32_to_bf16((float)w->data[i]);
                w->data[i] = (real)bf16_to_f32(w->bf16[i]);
            }
        }
        Tensor *wr = tensor_2d(&f.a, O, I, 0);
        memcpy(wr->data, w->data, w->numel * sizeof(real));
        if (bf16) w->data = NULL;
        Tensor *x2 = tensor_2d(&f.a, R, I, 1), *a2 = tensor_2d(&f.a, r, I, 1), *b2 = tensor_2d(&f.a, O, r, 1);
        memcpy(x2->data, x->data, x->numel * sizeof(real));
        memcpy(a2->data, a->data, a->numel * sizeof(real));
        memcpy(b2->data, b->data, b->numel * sizeof(real));
        Tensor *y = op_lora_linear(&f.t, x, w, a, b, (real)0.625);
        Tensor *y2 = op_add_scaled(&f.t, op_linear(&f.t, x2, wr), op_linear(&f.t, op_linear(&f.t, x2, a2), b2), (real)0.625);
        rng_fill_uniform(&f.rng, tensor_grad_ready(y), y->numel, -1, 1);
        memcpy(tensor_grad_ready(y2), y->grad, y->numel * sizeof(real));
        tape_backward_seeded(&f.t);
        const Tensor *got[4] = { y, x, a, b }, *ref[4] = { y2, x2, a2, b2 };
        for (int k = 0; k < 4; k++) {
            const real *g = k ? got[k]->grad : got[k]->data, *w2 = k ? ref[k]->grad : ref[k]->data;
            double *want = xmalloc(got[k]->numel * sizeof(double));
            for (size_t i = 0; i < got[k]->numel; i++) want[i] = (double)w2[i];
            assert_close(g, want, got[k]->numel, REAL_IS_DOUBLE ? 1e-12 : 1e-5, k ? "grad" : "y");
            free(want);
        }
        fx_free(&f);
    }
}
END_TEST

START_TEST(test_linear_ce_all_ignored_and_no_grad)
{
    Fx f;
    fx_init(&f, 8);
    Tensor *x = rand2(&f, 3, 4, 1, -1, 1), *w = rand2(&f, 9, 4, 0, -1, 1);
    const int none[3] = { CE_IGNORE_INDEX, CE_IGNORE_INDEX, CE_IGNORE_INDEX };
    Tensor *l = op_linear_cross_entropy(&f.t, x, w, none, 3);
    ck_assert(l->data[0] == 0);
    tape_backward(&f.t, l);
    for (size_t i = 0; i < x->numel; i++) ck_assert(x->grad[i] == 0);
    tape_reset(&f.t);
    tape_set_no_grad(&f.t, 1);             /* eval: same loss as the op with a tape */
    const int tg[3] = { 4, 0, 8 };
    real eval = op_linear_cross_entropy(&f.t, x, w, tg, 3)->data[0];
    tape_set_no_grad(&f.t, 0);
    real train = op_linear_cross_entropy(&f.t, x, w, tg, 3)->data[0];
    ck_assert(eval == train && eval > 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_linear_ce_bad_target_aborts)
{
    Fx f;
    fx_init(&f, 1);
    const int tg[2] = { 0, 9 };
    op_linear_cross_entropy(&f.t, tensor_2d(&f.a, 2, 4, 1), tensor_2d(&f.a, 9, 4, 0), tg, 2);
}
END_TEST

/* Large inputs take the thread-pool path: every row must equal the serial single-row result
   bit for bit, forward and backward. */
START_TEST(test_softmax_parallel_matches_serial)
{
    Fx f;
    fx_init(&f, 99);
    enum { R = 64, C = 1024 };
    Tensor *x = rand2(&f, R, C, 1, -1, 1);
    Tensor *y = op_softmax(&f.t, x);
    rng_fill_uniform(&f.rng, tensor_grad_ready(y), y->numel, -1.0, 1.0);
    tape_backward_seeded(&f.t);
    tape_reset(&f.t);
    double mag = 0;   /* a lost seed (dy read as zeros) would make both sides zero and equal */
    for (size_t i = 0; i < x->numel; i++) mag += fabs((double)x->grad[i]);
    ck_assert_msg(mag > 1e-3, "softmax dx is all zeros: the seeded dy did not reach the backward");
    for (int r = 0; r < R; r += 9) {
        Tensor *xr = tensor_2d(&f.a, 1, C, 1);
        memcpy(xr->data, x->data + (size_t)r * C, C * sizeof(real));
        Tensor *yr = op_softmax(&f.t, xr);
        memcpy(tensor_grad_ready(yr), y->grad + (size_t)r * C, C * sizeof(real));
        tape_backward_seeded(&f.t);
        tape_reset(&f.t);
        ck_assert(memcmp(yr->data, y->data + (size_t)r * C, C * sizeof(real)) == 0);
        ck_assert(memcmp(xr->grad, x->grad + (size_t)r * C, C * sizeof(real)) == 0);
    }
    fx_free(&f);
}
END_TEST

Suite *fastpaths_suite(void) {
    Suite *s = suite_create("fastpaths");
    TCase *tc = tcase_create("values");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_vm_expf_accuracy);
    tcase_add_test(tc, test_linear_narrow_paths);
    tcase_add_test(tc, test_swiglu_large_matches_formula);
    tcase_add_test(tc, test_softmax_parallel_matches_serial);
    tcase_add_test(tc, test_linear_ce_matches_unfused);
    tcase_add_test(tc, test_linear_ce_all_ignored_and_no_grad);
    tcase_add_test(tc, test_lora_linear_matches_unfused);
    suite_add_tcase(s, tc);
    TCase *ab = tcase_create("aborts");
    tcase_add_abort_test(ab, test_linear_ce_bad_target_aborts);
    suite_add_tcase(s, ab);
    return s;
}
