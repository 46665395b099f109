/* tests/autograd/test_unset_grads.c — the unset gradient protocol (autograd/tape.h, tensor.h):
   - the flag: a large tape output's gradient starts unset, small ones zero-filled; ready zero-fills
     once, claim hands the buffer over once, and a view sees what the tensor sees;
   - fan-out through claiming ops: a [200, 100] activation read by op_scale (which does not
     claim) and two op_linear (the first replayed claims the buffer and writes dX with beta 0,
     the second adds).
   - an op whose inputs are not its entry's (op_concat_rows keeps them in its saved data) makes
     their unset gradients real itself. The arena is filled with 7s before the forward, so an unset buffer holds
     garbage in every build: a claim that added instead of writing, or a reader that skipped
     tensor_grad_ready, shows in dx, compared with a naive double twin. */
#include "tests/support/suites.h"
#include "tests/support/op_fixture.h"
#include "autograd/ops.h"
#include <math.h>

/* fills the arena's next bytes with garbage, then hands them back */
static void dirty_arena(Arena *a, size_t bytes) {
    ArenaMark m = arena_mark(a);
    real *p = arena_alloc(a, bytes);
    for (size_t i = 0; i < bytes / sizeof(real); i++) p[i] = (real)7;
    arena_rewind(a, m);
}

static Tensor *rand2(Fx *f, int n0, int n1, int grad) {
    Tensor *x = tensor_2d(&f->a, n0, n1, grad);
    rng_fill_uniform(&f->rng, x->data, x->numel, -1, 1);
    return x;
}

START_TEST(test_unset_flag_ready_claim_view)
{
    Fx f;
    fx_init(&f, 3);
    Tensor *x = rand2(&f, 200, 100, 1), *s = rand2(&f, 2, 3, 1);
    Tensor *y = op_scale(&f.t, x, (real)2), *ys = op_scale(&f.t, s, (real)2);
    ck_assert(y->grad_unset && *y->grad_unset == 1);            /* 20000 elements >= TAPE_UNSET_MIN */
    ck_assert(TAPE_GRAD_POISON || !ys->grad_unset);              /* 6: zero-filled at once ... */
    ck_assert(TAPE_GRAD_POISON || ys->grad[0] == 0);             /* ... (the checking builds unset all) */
    Tensor *v = tensor_view(&f.a, y, 2, (int[]){ 100, 200 });
    ck_assert(v->grad == y->grad && v->grad_unset == y->grad_unset);
    y->grad[5] = (real)3;
    ck_assert_ptr_eq(tensor_grad_ready(v), y->grad);              /* zero-fills, through the view */
    ck_assert(y->grad[5] == 0 && *y->grad_unset == 0);
    y->grad[5] = (real)3;
    tensor_grad_ready(y);                                         /* real already: untouched */
    ck_assert(y->grad[5] == 3);
    Tensor *z = op_scale(&f.t, x, (real)3);
    ck_assert_int_eq(tensor_grad_claim(z), 1);
    ck_assert_int_eq(tensor_grad_claim(z), 0);
    ck_assert_int_eq(tensor_grad_claim(x), 0);                    /* a leaf: never unset */
    fx_free(&f);
}
END_TEST

START_TEST(test_unset_fan_out_through_claims)
{
    enum { R = 200, I = 100, O1 = 24, O2 = 40 };
    Fx f;
    fx_init(&f, 11);
    arena_free(&f.a);
    arena_init(&f.a, 1 << 24);   /* one block: the garbage below is where the forward allocates */
    Tensor *x = rand2(&f, R, I, 1), *w1 = rand2(&f, O1, I, 0), *w2 = rand2(&f, O2, I, 0);
    dirty_arena(&f.a, 8u << 20);
    Tensor *h = op_scale(&f.t, x, (real)0.5);
    /* replayed in reverse: y2's linear claims h's buffer (writes), y1's adds, y3's scale adds */
    Tensor *y3 = op_scale(&f.t, h, (real)-1.5), *y1 = op_linear(&f.t, h, w1), *y2 = op_linear(&f.t, h, w2);
    ck_assert(h->grad_unset && *h->grad_unset == 1);
    real *d1 = tensor_grad_ready(y1), *d2 = tensor_grad_ready(y2), *d3 = tensor_grad_ready(y3);
    rng_fill_uniform(&f.rng, d1, y1->numel, -1, 1);
    rng_fill_uniform(&f.rng, d2, y2->numel, -1, 1);
    rng_fill_uniform(&f.rng, d3, y3->numel, -1, 1);
    tape_backward_seeded(&f.t);
    /* dx = 0.5 · (dy1·w1 + dy2·w2 − 1.5·dy3) */
    for (int r = 0; r < R; r++)
        for (int i = 0; i < I; i++) {
            double g = -1.5 * d3[r * I + i];
            for (int o = 0; o < O1; o++) g += (double)d1[r * O1 + o] * w1->data[o * I + i];
            for (int o = 0; o < O2; o++) g += (double)d2[r * O2 + o] * w2->data[o * I + i];
            double got = x->grad[r * I + i], want = 0.5 * g;
            ck_assert_msg(fabs(got - want) <= 1e-5 * (1 + fabs(want)), "dx[%d][%d]: %.9g vs %.9g", r, i, got, want);
        }
    fx_free(&f);
}
END_TEST

START_TEST(test_unset_concat_rows_inputs)
{
    Fx f;
    fx_init(&f, 5);
    arena_free(&f.a);
    arena_init(&f.a, 1 << 24);
    Tensor *x = rand2(&f, 300, 100, 1);
    dirty_arena(&f.a, 8u << 20);
    /* two unset inputs (30000 elements each) of the concatenation */
    Tensor *parts[2] = { op_scale(&f.t, x, (real)2), op_scale(&f.t, x, (real)3) };
    ck_assert(parts[0]->grad_unset && *parts[0]->grad_unset == 1);
    Tensor *y = op_concat_rows(&f.t, parts, 2);
    real *dy = tensor_grad_ready(y);
    rng_fill_uniform(&f.rng, dy, y->numel, -1, 1);
    tape_backward_seeded(&f.t);
    for (size_t i = 0; i < x->numel; i++) {   /* dx = 2·dy[top] + 3·dy[bottom] */
        double want = 2.0 * dy[i] + 3.0 * dy[x->numel + i];
        ck_assert_msg(fabs((double)x->grad[i] - want) <= 1e-5 * (1 + fabs(want)), "dx[%zu]: %.9g vs %.9g", i,
                      (double)x->grad[i], want);
    }
    fx_free(&f);
}
END_TEST

Suite *unset_grads_suite(void) {
    Suite *s = suite_create("unset_grads");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, test_unset_flag_ready_claim_view);
    tcase_add_test(tc, test_unset_fan_out_through_claims);
    tcase_add_test(tc, test_unset_concat_rows_inputs);
    suite_add_tcase(s, tc);
    return s;
}
