/* tests/nn/test_param_store.c — ParamStore layout: blocks per role, alignment, bf16 storage. */
#include "tests/support/suites.h"
#include "nn/param_store.h"
#include <signal.h>
#include <stdint.h>

START_TEST(test_blocks_and_views)
{
    ParamStore ps;
    param_store_init(&ps);
    Tensor *w = param_declare(&ps, "w", PARAM_FROZEN, 2, (int[]){ 3, 5 });
    Tensor *a = param_declare(&ps, "lora_a", PARAM_TRAINABLE, 2, (int[]){ 2, 5 });
    Tensor *n = param_declare(&ps, "norm", PARAM_FROZEN, 1, (int[]){ 5 });
    Tensor *b = param_declare(&ps, "lora_b", PARAM_TRAINABLE, 2, (int[]){ 3, 2 });
    param_store_allocate(&ps);
    ck_assert_ptr_nonnull(w->data);
    ck_assert_ptr_null(w->grad);                      /* frozen: no grad */
    ck_assert_ptr_nonnull(a->grad);
    ck_assert_ptr_eq(a->data, ps.train);              /* first trainable at offset 0 */
    ck_assert_ptr_eq(b->data, ps.train + 16);         /* 10 values rounded up to 16 */
    ck_assert_ptr_eq(n->data, ps.frozen + 16);
    ck_assert_uint_eq((uintptr_t)b->data % 64, 0);
    ck_assert_uint_eq(param_store_count(&ps, PARAM_TRAINABLE), 16);
    ck_assert_uint_eq(param_store_count(&ps, PARAM_FROZEN), 20);
    ck_assert_ptr_eq(param_find(&ps, "lora_b"), b);
    ck_assert_ptr_null(param_find(&ps, "nope"));
    ck_assert_int_eq(param_role(&ps, a), PARAM_TRAINABLE);
    b->grad[3] = 1;
    param_store_zero_grad(&ps);
    ck_assert(b->grad[3] == 0);
    param_store_free(&ps);
}
END_TEST

START_TEST(test_frozen_bf16)
{
    ParamStore ps;
    param_store_init(&ps);
    ps.frozen_bf16 = 1;
    Tensor *w = param_declare(&ps, "w", PARAM_FROZEN, 2, (int[]){ 4, 4 });
    Tensor *n = param_declare(&ps, "norm", PARAM_FROZEN, 1, (int[]){ 4 });
    param_store_allocate(&ps);
    ck_assert_ptr_null(w->data);
    ck_assert_ptr_nonnull(w->bf16);
    ck_assert_ptr_nonnull(n->data);                   /* vectors stay in real precision */
    param_store_free(&ps);
}
END_TEST

START_TEST(test_duplicate_name_aborts)
{
    ParamStore ps;
    param_store_init(&ps);
    param_declare(&ps, "x", PARAM_FROZEN, 1, (int[]){ 2 });
    param_declare(&ps, "x", PARAM_TRAINABLE, 1, (int[]){ 2 });
}
END_TEST

Suite *param_store_suite(void) {
    Suite *s = suite_create("param_store");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_blocks_and_views);
    tcase_add_test(tc, test_frozen_bf16);
    tcase_add_abort_test(tc, test_duplicate_name_aborts);
    suite_add_tcase(s, tc);
    return s;
}
