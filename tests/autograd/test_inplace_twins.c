/* tests/autograd/test_inplace_twins.c — the speed twins (autograd/op_registry.c) against the ops
   they mirror: op_rope_inplace vs op_rope, op_add_inplace vs op_add, op_swiglu_shared_grad vs
   op_swiglu, op_lora_linear_residual vs op_lora_linear then op_add, op_scatter_add_rows_inplace
   vs op_scatter_add_rows, op_routed_lora(inplace = 1) vs op_routed_lora(inplace = 0).
   Each pair computes the same arithmetic in the same order, so values and gradients must be
   equal element for element (== : +0 and -0 count as equal), and the in-place op must really
   share the storage it claims to (else it saves nothing). Gradients themselves are checked by
   finite differences in test_gradcheck_every_op (tests/autograd/test_tape_gradcheck.c). */
#include "tests/support/suites.h"
#include "autograd/ops.h"
#include "tensor/threads.h"
#include <string.h>

typedef struct { Arena a; Tape t; Rng rng; } Ctx;

static void ctx_init(Ctx *c) {
    arena_init(&c->a, 1 << 23);
    tape_init(&c->t, &c->a);
    rng_seed(&c->rng, 7);
}
static void ctx_free(Ctx *c) { tape_free(&c->t); arena_free(&c->a); }

static Tensor *rand_t(Ctx *c, int ndim, const int *shape, int with_grad) {
    Tensor *x = tensor_new(&c->a, ndim, shape, with_grad);
    rng_fill_uniform(&c->rng, x->data, x->numel, -2.0, 2.0);
    return x;
}
static Tensor *copy_t(Ctx *c, const Tensor *x, int with_grad) {
    Tensor *y = tensor_new(&c->a, x->ndim, x->shape, with_grad);
    memcpy(y->data, x->data, x->numel * sizeof(real));
    return y;
}
/* the same random probe into both outputs' gradients, then the backward */
static void seed_and_backward(Ctx *c, Tensor *y1, Tensor *y2) {
    tensor_grad_ready(y1), tensor_grad_ready(y2);
    for (size_t i = 0; i < y1->numel; i++) {
        real w = (real)rng_uniform_range(&c->rng, -1.0, 1.0);
        y1->grad[i] += w;
        y2->grad[i] += w;
    }
    tape_backward_seeded(&c->t);
}
static void assert_equal(const real *want, const real *got, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(want[i] == got[i], "%s[%zu]: %.9g vs %.9g", what, i, (double)want[i], (double)got[i]);
}

START_TEST(test_rope_inplace_matches_rope)
{
    Ctx c;
    ctx_init(&c);
    RopeTable tab;
    rope_table_init(&tab, &c.a, 16, 8, 500.0);
    for (int mode = 0; mode < 2; mode++) {
        Tensor *x1 = rand_t(&c, 4, (int[]){ 2, 5, 3, 8 }, 1), *x2 = copy_t(&c, x1, 1);
        Tensor *y1 = op_rope(&c.t, x1, &tab, 4, (RopeMode)mode);
        Tensor *y2 = op_rope_inplace(&c.t, x2, &tab, 4, (RopeMode)mode);
        ck_assert(y2->data == x2->data && y2->grad == x2->grad);
        assert_equal(y1->data, y2->data, y1->numel, "rope values");
        seed_and_backward(&c, y1, y2);
        assert_equal(x1->grad, x2->grad, x1->numel, "rope dx");
        tape_reset(&c.t);
    }
    ctx_free(&c);
}
END_TEST

/* the decoder layer's residual: x + branch before, branch += x now */
START_TEST(test_add_inplace_matches_add)
{
    Ctx c;
    ctx_init(&c);
    /* the second shape (38700 elements) takes ew_axpy's pool path, at 2 threads */
    for (int run = 0; run < 4; run++) {
        int acc_grad = run % 2, big = run / 2, shape[2] = { big ? 300 : 4, big ? 129 : 9 };
        threads_init(big ? 2 : 1);
        Tensor *x1 = rand_t(&c, 2, shape, 1), *br1 = rand_t(&c, 2, shape, acc_grad);
        Tensor *x2 = copy_t(&c, x1, 1), *br2 = copy_t(&c, br1, acc_grad);
        real *br2_data = br2->data;
        Tensor *y1 = op_add(&c.t, x1, br1);
        Tensor *y2 = op_add_inplace(&c.t, br2, x2);
        ck_assert(y2->data == br2_data && y2->grad != NULL);
        ck_assert(acc_grad ? y2->grad == br2->grad : br2->grad == NULL);
        assert_equal(y1->data, y2->data, y1->numel, "add values");
        seed_and_backward(&c, y1, y2);
        assert_equal(x1->grad, x2->grad, x1->numel, "add dx");
        if (acc_grad) assert_equal(br1->grad, br2->grad, br1->numel, "add dbranch");
        tape_reset(&c.t);
    }
    threads_init(1);
    ctx_free(&c);
}
END_TEST

START_TEST(test_swiglu_shared_grad_matches_swiglu)
{
    Ctx c;
    ctx_init(&c);
    int shape[2] = { 3, 40 };
    for (int frozen = 0; frozen < 3; frozen++) {     /* 0: both grads, 1: a frozen, 2: b frozen */
        Tensor *a1 = rand_t(&c, 2, shape, frozen != 1), *b1 = rand_t(&c, 2, shape, frozen != 2);
        Tensor *a2 = copy_t(&c, a1, frozen != 1), *b2 = copy_t(&c, b1, frozen != 2);
        Tensor *y1 = op_swiglu(&c.t, a1, b1);
        Tensor *y2 = op_swiglu_shared_grad(&c.t, a2, b2);
        ck_assert(y2->grad != NULL && (frozen == 2 ? y2->grad != y1->grad : y2->grad == b2->grad));
        assert_equal(y1->data, y2->data, y1->numel, "swiglu values");
        seed_and_backward(&c, y1, y2);
        if (a1->grad) assert_equal(a1->grad, a2->grad, a1->numel, "swiglu da");
        if (b1->grad) assert_equal(b1->grad, b2->grad, b1->numel, "swiglu db");
        tape_reset(&c.t);
    }
    ctx_free(&c);
}
END_TEST

/* the residual stream: res is read by a norm-like op first (here a scale), the fused op last */
START_TEST(test_lora_linear_residual_matches_lora_then_add)
{
    Ctx c;
    ctx_init(&c);
    enum { N = 6, I = 20, O = 12, R = 3 };
    Tensor *w = rand_t(&c, 2, (int[]){ O, I }, 0);
    for (int res_grad = 0; res_grad < 2; res_grad++) {
        Tensor *x1 = rand_t(&c, 2, (int[]){ N, I }, 1), *a1 = rand_t(&c, 2, (int[]){ R, I }, 1);
        Tensor *b1 = rand_t(&c, 2, (int[]){ O, R }, 1), *res1 = rand_t(&c, 2, (int[]){ N, O }, res_grad);
        Tensor *x2 = copy_t(&c, x1, 1), *a2 = copy_t(&c, a1, 1), *b2 = copy_t(&c, b1, 1);
        Tensor *res2 = copy_t(&c, res1, res_grad);
        Tensor *r1 = op_scale(&c.t, res1, (real)0.5), *r2 = op_scale(&c.t, res2, (real)0.5);
        Tensor *y1 = op_add(&c.t, r1, op_lora_linear(&c.t, x1, w, a1, b1, (real)2));
        Tensor *y2 = op_lora_linear_residual(&c.t, x2, w, a2, b2, (real)2, r2);
        ck_assert(y2->grad != NULL && (res_grad ? y2->grad == r2->grad : r2->grad == NULL));
        assert_equal(y1->data, y2->data, y1->numel, "lora+res values");
        seed_and_backward(&c, y1, y2);
        assert_equal(x1->grad, x2->grad, x1->numel, "lora+res dx");
        assert_equal(a1->grad, a2->grad, a1->numel, "lora+res da");
        assert_equal(b1->grad, b2->grad, b1->numel, "lora+res db");
        if (res_grad) assert_equal(res1->grad, res2->grad, res1->numel, "lora+res dres");
        tape_reset(&c.t);
    }
    ctx_free(&c);
}
END_TEST

/* the MoE FFN's accumulator: repeated indices, base with and without its own gradient */
START_TEST(test_scatter_add_rows_inplace_matches_scatter)
{
    Ctx c;
    ctx_init(&c);
    static const int idx[7] = { 3, 0, 3, 5, 1, 3, 0 };
    for (int base_grad = 0; base_grad < 2; base_grad++) {
        Tensor *b1 = rand_t(&c, 2, (int[]){ 6, 9 }, base_grad), *s1 = rand_t(&c, 2, (int[]){ 7, 9 }, 1);
        Tensor *w1 = rand_t(&c, 1, (int[]){ 7 }, 1);
        Tensor *b2 = copy_t(&c, b1, base_grad), *s2 = copy_t(&c, s1, 1), *w2 = copy_t(&c, w1, 1);
        real *b2_data = b2->data;
        Tensor *y1 = op_scatter_add_rows(&c.t, b1, s1, idx, w1);
        Tensor *y2 = op_scatter_add_rows_inplace(&c.t, b2, s2, idx, w2);
        ck_assert(y2->data == b2_data && y2->grad != NULL && (!base_grad || y2->grad == b2->grad));
        assert_equal(y1->data, y2->data, y1->numel, "scatter values");
        seed_and_backward(&c, y1, y2);
        assert_equal(s1->grad, s2->grad, s1->numel, "scatter dsrc");
        assert_equal(w1->grad, w2->grad, w1->numel, "scatter dw");
        if (base_grad) assert_equal(b1->grad, b2->grad, b1->numel, "scatter dbase");
        tape_reset(&c.t);
    }
    ctx_free(&c);
}
END_TEST

/* a Mo-LoRA linear's routed experts: 3 true + 1 null, top-2, out not a multiple of 16 */
START_TEST(test_routed_lora_inplace_matches_plain)
{
    enum { N = 9, I = 20, O = 12, R = 3, NT = 3, E = 4, K = 2 };
    Ctx c;
    ctx_init(&c);
    Tensor *p = rand_t(&c, 2, (int[]){ N, E }, 0);
    Routing *r = arena_alloc(&c.a, sizeof *r);
    route_select(&c.a, p, NT, K, NULL, r);
    Tensor *base[2], *x[2], *W[2], *A[2][NT], *B[2][NT], *y[2];
    base[0] = rand_t(&c, 2, (int[]){ N, O }, 1);
    x[0] = rand_t(&c, 2, (int[]){ N, I }, 1);
    W[0] = rand_t(&c, 2, (int[]){ N, E }, 1);
    for (int e = 0; e < NT; e++) {
        A[0][e] = rand_t(&c, 2, (int[]){ R, I }, 1);
        B[0][e] = rand_t(&c, 2, (int[]){ O, R }, 1);
        A[1][e] = copy_t(&c, A[0][e], 1);
        B[1][e] = copy_t(&c, B[0][e], 1);
    }
    base[1] = copy_t(&c, base[0], 1);
    x[1] = copy_t(&c, x[0], 1);
    W[1] = copy_t(&c, W[0], 1);
    for (int k = 0; k < 2; k++) y[k] = op_routed_lora(&c.t, base[k], x[k], W[k], r, A[k], B[k], (real)0.75, k);
    ck_assert(y[1]->data == base[1]->data && y[1]->grad == base[1]->grad && y[0]->data != base[0]->data);
    assert_equal(y[0]->data, y[1]->data, y[0]->numel, "routed_lora values");
    seed_and_backward(&c, y[0], y[1]);
    assert_equal(base[0]->grad, base[1]->grad, base[0]->numel, "routed_lora dbase");
    assert_equal(x[0]->grad, x[1]->grad, x[0]->numel, "routed_lora dx");
    assert_equal(W[0]->grad, W[1]->grad, W[0]->numel, "routed_lora dW");
    for (int e = 0; e < NT; e++) {
        assert_equal(A[0][e]->grad, A[1][e]->grad, A[0][e]->numel, "routed_lora dA");
        assert_equal(B[0][e]->grad, B[1][e]->grad, B[0][e]->numel, "routed_lora dB");
    }
    ctx_free(&c);
}
END_TEST

/* no-grad mode (eval, generation): the ops still compute, nothing gets a gradient */
START_TEST(test_inplace_ops_without_grad)
{
    Ctx c;
    ctx_init(&c);
    tape_set_no_grad(&c.t, 1);
    Tensor *acc = rand_t(&c, 2, (int[]){ 2, 3 }, 0), *b = rand_t(&c, 2, (int[]){ 2, 3 }, 1);
    real want = acc->data[4] + b->data[4];
    Tensor *y = op_add_inplace(&c.t, acc, b);
    ck_assert(y->grad == NULL && y->data[4] == want && c.t.n == 0);
    y = op_swiglu_shared_grad(&c.t, acc, b);
    ck_assert(y->grad == NULL && c.t.n == 0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_add_inplace_shape_mismatch_aborts)
{
    Ctx c;
    ctx_init(&c);
    op_add_inplace(&c.t, rand_t(&c, 2, (int[]){ 2, 3 }, 1), rand_t(&c, 2, (int[]){ 3, 2 }, 1));
}
END_TEST

/* the output's gradient buffer would be the other input's too */
START_TEST(test_swiglu_shared_grad_same_input_aborts)
{
    Ctx c;
    ctx_init(&c);
    Tensor *a = rand_t(&c, 2, (int[]){ 2, 3 }, 1);
    op_swiglu_shared_grad(&c.t, a, a);
}
END_TEST

Suite *inplace_ops_suite(void) {
    Suite *s = suite_create("inplace_ops");
    TCase *tc = tcase_create("twins");
    tcase_add_test(tc, test_rope_inplace_matches_rope);
    tcase_add_test(tc, test_add_inplace_matches_add);
    tcase_add_test(tc, test_swiglu_shared_grad_matches_swiglu);
    tcase_add_test(tc, test_lora_linear_residual_matches_lora_then_add);
    tcase_add_test(tc, test_scatter_add_rows_inplace_matches_scatter);
    tcase_add_test(tc, test_routed_lora_inplace_matches_plain);
    tcase_add_test(tc, test_inplace_ops_without_grad);
    suite_add_tcase(s, tc);
    TCase *ab = tcase_create("aborts");
    tcase_add_abort_test(ab, test_add_inplace_shape_mismatch_aborts);
    tcase_add_abort_test(ab, test_swiglu_shared_grad_same_input_aborts);
    suite_add_tcase(s, ab);
    return s;
}
