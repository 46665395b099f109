/* tests/autograd/test_gelu.c — op_gelu_tanh's forward values against independent facts (its
   gradient is checked with every registered op by tests/autograd/test_tape_gradcheck.c):
   - values at eight points, computed outside this project (Python's math.tanh, in double);
   - within 5e-4 of the exact GELU x·Φ(x) = ½x(1 + erf(x/√2)) on [-6, 6] (libm's erf): the
     tanh form approximates it that closely (its largest gap is 4.73e-4, at |x| = 2.70);
   - gelu(x) − gelu(−x) = x, since tanh is odd;
   - no overflow at ±30, and dy/dx = ½ at 0 (t = 0 in the derivative) through the tape. */
#include "tests/support/suites.h"
#include "tests/support/op_fixture.h"
#include "autograd/ops.h"
#include <math.h>

/* relative to 1 + |value|: a few rounding steps of the build's real */
static double tol(void) { return REAL_IS_DOUBLE ? 1e-12 : 1e-6; }

static Tensor *row(Fx *f, int n, const double *v, int with_grad) {
    Tensor *x = tensor_1d(&f->a, n, with_grad);
    for (int i = 0; i < n; i++) x->data[i] = (real)v[i];
    return x;
}

START_TEST(test_gelu_tanh_values)
{
    Fx f;
    fx_init(&f, 1);
    const double x[8] = { -3, -1, -0.5, 0, 0.5, 1, 2, 3 };
    const double want[8] = { -0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0,
                             0.34571400982514394,    0.8411919906082768,   1.954597694087775,
                             2.996362607918227 };
    Tensor *y = op_gelu_tanh(&f.t, row(&f, 8, x, 0));
    for (int i = 0; i < 8; i++)
        ck_assert_msg(fabs((double)y->data[i] - want[i]) <= tol() * (1 + fabs(want[i])), "gelu_tanh(%g) = %.17g, want %.17g", x[i],
                      (double)y->data[i], want[i]);
    fx_free(&f);
}
END_TEST

START_TEST(test_gelu_tanh_near_exact_gelu_and_odd_part)
{
    Fx f;
    fx_init(&f, 1);
    enum { N = 1201 };
    double x[N], neg[N];
    for (int i = 0; i < N; i++) x[i] = -6 + i * 0.01, neg[i] = -x[i];
    Tensor *xt = row(&f, N, x, 0);
    Tensor *y = op_gelu_tanh(&f.t, xt), *yn = op_gelu_tanh(&f.t, row(&f, N, neg, 0));
    for (int i = 0; i < N; i++) {
        double xi = (double)xt->data[i], exact = 0.5 * xi * (1 + erf(xi / sqrt(2.0)));
        ck_assert_msg(fabs((double)y->data[i] - exact) < 5e-4, "x = %g: %g vs exact %g", xi, (double)y->data[i], exact);
        ck_assert_msg(fabs((double)y->data[i] - (double)yn->data[i] - xi) <= 4 * tol() * (1 + fabs(xi)), "odd part at x = %g", xi);
    }
    fx_free(&f);
}
END_TEST

START_TEST(test_gelu_tanh_limits_and_slope_at_zero)
{
    Fx f;
    fx_init(&f, 1);
    Tensor *y = op_gelu_tanh(&f.t, row(&f, 2, (double[]){ 30, -30 }, 0));
    ck_assert_double_eq_tol(y->data[0], 30, tol());
    ck_assert_double_eq_tol(y->data[1], 0, tol());
    Tensor *x0 = row(&f, 1, (double[]){ 0 }, 1);
    tape_backward(&f.t, op_gelu_tanh(&f.t, x0));
    ck_assert_double_eq_tol(x0->grad[0], 0.5, tol());
    fx_free(&f);
}
END_TEST

Suite *gelu_suite(void) {
    Suite *s = suite_create("gelu");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_gelu_tanh_values);
    tcase_add_test(tc, test_gelu_tanh_near_exact_gelu_and_odd_part);
    tcase_add_test(tc, test_gelu_tanh_limits_and_slope_at_zero);
    suite_add_tcase(s, tc);
    return s;
}
