/* tests/autograd/test_tape_gradcheck.c — the tape, and the gradient check of every case of every
   op in ALL_OPS (plainly and with fan-out; a failure names "op/case"). In the double build every
   case must agree with central differences to GRADCHECK_TOL; the float build runs the same
   harness with a loose tolerance (it still exercises every forward and backward under the
   sanitizers). */
#include "tests/support/suites.h"
#include "tests/support/gradcheck.h"
#include "tests/support/broken_ops.h"
#include "autograd/ops.h"
#include <signal.h>
#include <stdio.h>

static double tolerance(void) { return sizeof(real) == sizeof(double) ? GRADCHECK_TOL : 5e-2; }

START_TEST(test_gradcheck_every_op)
{
    const OpInfo *op;
    const OpCase *c = op_case_at(_i, &op);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(gradcheck_expect_op(op, c, gradcheck_seed(op->name, c->name), 5e-2) > 0,
                  "%s/%s: example has no input with a grad", op->name, c->name);
}
END_TEST

/* The harness must be able to fail: an `=` backward passes the single-use check but fails
   the fan-out check; a wrong formula fails both. */
START_TEST(test_gradcheck_catches_broken_ops)
{
    GradcheckResult single = gradcheck_op(&BROKEN_OP_ASSIGN, 7, 0);
    GradcheckResult fan = gradcheck_op(&BROKEN_OP_ASSIGN, 7, 1);
    ck_assert_msg(single.worst_rel_err < tolerance(), "assign bug should pass single use: %g", single.worst_rel_err);
    ck_assert_msg(fan.worst_rel_err > 0.1, "assign bug must fail fan-out: %g", fan.worst_rel_err);
    GradcheckResult wrong = gradcheck_op(&BROKEN_OP_WRONG, 7, 0);
    ck_assert_msg(wrong.worst_rel_err > 0.1, "wrong formula must fail: %g", wrong.worst_rel_err);
}
END_TEST

START_TEST(test_no_grad_records_nothing)
{
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Tensor *x = tensor_2d(&a, 2, 2, 1);
    tensor_fill(x, 1);
    tape_set_no_grad(&t, 1);
    Tensor *y = op_mul(&t, x, x);
    ck_assert_int_eq(t.n, 0);
    ck_assert_ptr_null(y->grad);
    tape_set_no_grad(&t, 0);
    y = op_mul(&t, x, x);
    ck_assert_int_eq(t.n, 1);
    ck_assert_ptr_nonnull(y->grad);
    tape_free(&t);
    arena_free(&a);
}
END_TEST

START_TEST(test_frozen_inputs_get_no_grad)
{
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Tensor *w = tensor_2d(&a, 2, 2, 0);     /* frozen */
    tensor_fill(w, 2);
    Tensor *y = op_add(&t, w, w);
    ck_assert_ptr_null(y->grad);
    ck_assert_int_eq(t.n, 0);
    tape_free(&t);
    arena_free(&a);
}
END_TEST

START_TEST(test_backward_through_chain)
{
    /* loss = sum over one element of (x*x + 3x): d/dx = 2x + 3 */
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Tensor *x = tensor_1d(&a, 1, 1);
    x->data[0] = (real)1.5;
    Tensor *y = op_add(&t, op_mul(&t, x, x), op_scale(&t, x, 3));
    tape_backward(&t, y);
    ck_assert_double_eq_tol(x->grad[0], 6.0, 1e-6);
    tape_free(&t);
    arena_free(&a);
}
END_TEST

START_TEST(test_shape_mismatch_aborts)
{
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    op_add(&t, tensor_2d(&a, 2, 3, 1), tensor_2d(&a, 3, 2, 1));
}
END_TEST

Suite *autograd_suite(void) {
    Suite *s = suite_create("autograd");
    TCase *tc = tcase_create("tape");
    tcase_add_test(tc, test_no_grad_records_nothing);
    tcase_add_test(tc, test_frozen_inputs_get_no_grad);
    tcase_add_test(tc, test_backward_through_chain);
    tcase_add_abort_test(tc, test_shape_mismatch_aborts);
    tcase_add_test(tc, test_gradcheck_catches_broken_ops);
    suite_add_tcase(s, tc);
    TCase *ops = tcase_create("gradcheck");
    tcase_set_timeout(ops, 120);
    tcase_add_loop_test(ops, test_gradcheck_every_op, 0, op_case_count());
    suite_add_tcase(s, ops);
    return s;
}
