/* tests/autograd/test_routed_ffn.c — op_routed_ffn against the unfused chain it replaces in the MoE
   FFN (gather_rows, linear w1, linear w3, swiglu_shared_grad, linear w2, gather of W,
   scatter_add_rows_inplace per expert, as nn/moe_ffn.c builds it for experts with LoRA): values
   and every gradient equal element for element (== : +0 and -0 count as equal), with trainable
   and with frozen weights, at sizes that are not multiples of 16 and with rows routed only to
   null experts; the op bitwise the same at 1, 2 and 3 threads; and the memory it keeps (the
   arena after the forward) below the chain's. Gradients themselves are checked by finite
   differences in test_gradcheck_every_op (tests/autograd/test_tape_gradcheck.c). */
#include "tests/support/suites.h"
#include "autograd/ops.h"
#include "tensor/threads.h"
#include <string.h>

enum { N = 97, C = 40, F = 37, NT = 3, NN = 2, E = NT + NN, K = 2 };

typedef struct {
    Arena a;
    Tape t;
    Tensor *h, *W, *p, *w1[NT], *w3[NT], *w2[NT], *y;
    size_t kept;   /* arena bytes added by the forward */
} Case;

static Tensor *rand_2d(Arena *a, Rng *rng, int n0, int n1, int grad, double lo) {
    Tensor *x = tensor_2d(a, n0, n1, grad);
    rng_fill_uniform(rng, x->data, x->numel, lo, 1);
    return x;
}

/* the chain of nn/moe_ffn.c add_experts_chain, into a fresh zero y */
static Tensor *chain(Tape *t, Tensor *h, Tensor *W, const Routing *r, Tensor **w1, Tensor **w3, Tensor **w2) {
    Tensor *y = tensor_2d(t->arena, N, C, 0);
    memset(y->data, 0, sizeof(real) * N * C);
    Tensor *Wf = tensor_view(t->arena, W, 2, (int[]){ N * E, 1 });
    for (int e = 0; e < NT; e++) {
        int off = r->offset[e], n = r->offset[e + 1] - off;
        if (n == 0) continue;
        Tensor *xe = op_gather_rows(t, h, r->rows + off, n);
        Tensor *g = op_linear(t, xe, w1[e]), *u = op_linear(t, xe, w3[e]);
        Tensor *d = op_linear(t, op_swiglu_shared_grad(t, g, u), w2[e]);
        y = op_scatter_add_rows_inplace(t, y, d, r->rows + off, op_gather_rows(t, Wf, r->flat + off, n));
    }
    return y;
}

/* the same inputs (seeded), fused or chained, forward then backward with a fixed dy */
static void build(Case *c, int fused, int w_grad) {
    arena_init(&c->a, 1 << 20);
    tape_init(&c->t, &c->a);
    Rng rng = rng_derive(4321, 9);
    c->h = rand_2d(&c->a, &rng, N, C, 1, -1);
    c->W = rand_2d(&c->a, &rng, N, E, 1, 0.1);
    c->p = rand_2d(&c->a, &rng, N, E, 0, 0);
    for (int t = 0; t < 5; t++) c->p->data[t * E + NT] = c->p->data[t * E + NT + 1] = 2;   /* rows 0-4: nulls only */
    for (int e = 0; e < NT; e++) {
        c->w1[e] = rand_2d(&c->a, &rng, F, C, w_grad, -1);
        c->w3[e] = rand_2d(&c->a, &rng, F, C, w_grad, -1);
        c->w2[e] = rand_2d(&c->a, &rng, C, F, w_grad, -1);
    }
    Routing *r = arena_alloc(&c->a, sizeof *r);
    route_select(&c->a, c->p, NT, K, NULL, r);
    size_t before = arena_used(&c->a);
    c->y = fused ? op_routed_ffn(&c->t, c->h, c->W, r, c->w1, c->w3, c->w2) : chain(&c->t, c->h, c->W, r, c->w1, c->w3, c->w2);
    c->kept = arena_used(&c->a) - before;
    tensor_grad_ready(c->y);
    for (int i = 0; i < N * C; i++) c->y->grad[i] += (real)rng_uniform_range(&rng, -1, 1);
    tape_backward_seeded(&c->t);
}

static void done(Case *c) {
    tape_free(&c->t);
    arena_free(&c->a);
}

static void assert_equal(const real *want, const real *got, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(want[i] == got[i], "%s[%zu]: %.9g vs %.9g", what, i, (double)want[i], (double)got[i]);
}

/* _i = 0: trainable experts, 1: frozen experts */
START_TEST(test_routed_ffn_matches_chain)
{
    Case f, ch;
    build(&f, 1, !_i);
    build(&ch, 0, !_i);
    assert_equal(ch.y->data, f.y->data, N * C, "y");
    assert_equal(ch.h->grad, f.h->grad, N * C, "dh");
    assert_equal(ch.W->grad, f.W->grad, N * E, "dW");
    for (int e = 0; e < NT && !_i; e++) {
        assert_equal(ch.w1[e]->grad, f.w1[e]->grad, F * C, "dw1");
        assert_equal(ch.w3[e]->grad, f.w3[e]->grad, F * C, "dw3");
        assert_equal(ch.w2[e]->grad, f.w2[e]->grad, C * F, "dw2");
    }
    for (int t = 0; t < 5; t++)
        for (int j = 0; j < C; j++) ck_assert(f.y->data[t * C + j] == 0);
    /* kept: 2F + C per assignment (+ y and its gradient) against the chain's 4C + 5F */
    ck_assert_msg(f.kept * 2 < ch.kept, "fused op keeps %zu bytes, the chain %zu", f.kept, ch.kept);
    ck_assert_int_eq(f.t.n, 1);
    done(&f);
    done(&ch);
}
END_TEST

START_TEST(test_routed_ffn_threads)
{
    Case c[3];
    for (int n = 1; n <= 3; n++) {
        threads_init(n);
        build(&c[n - 1], 1, 1);
    }
    threads_init(1);
    for (int n = 1; n < 3; n++) {
        ck_assert_int_eq(memcmp(c[0].y->data, c[n].y->data, N * C * sizeof(real)), 0);
        ck_assert_int_eq(memcmp(c[0].h->grad, c[n].h->grad, N * C * sizeof(real)), 0);
        ck_assert_int_eq(memcmp(c[0].W->grad, c[n].W->grad, N * E * sizeof(real)), 0);
        for (int e = 0; e < NT; e++) {
            ck_assert_int_eq(memcmp(c[0].w1[e]->grad, c[n].w1[e]->grad, F * C * sizeof(real)), 0);
            ck_assert_int_eq(memcmp(c[0].w3[e]->grad, c[n].w3[e]->grad, F * C * sizeof(real)), 0);
            ck_assert_int_eq(memcmp(c[0].w2[e]->grad, c[n].w2[e]->grad, C * F * sizeof(real)), 0);
        }
    }
    for (int n = 0; n < 3; n++) done(&c[n]);
}
END_TEST

Suite *routed_ffn_suite(void) {
    Suite *s = suite_create("routed_ffn");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_routed_ffn_matches_chain, 0, 2);
    tcase_add_test(tc, test_routed_ffn_threads);
    suite_add_tcase(s, tc);
    return s;
}
