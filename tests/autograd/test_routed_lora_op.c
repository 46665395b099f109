/* tests/autograd/test_routed_lora_op.c — op_routed_lora at realistic sizes (the vector paths of its kernels:
   in/out not multiples of 16, a rank that is not a multiple of 4, several row blocks) against a
   naive double twin,
   forward and every gradient; and bitwise the same results at 1, 2 and 3 threads. */
#include "tests/support/suites.h"
#include "autograd/ops.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* N spans several of the row passes' 128-row blocks (and 2 or 3 threads start ranges inside one);
   R = 13 runs rowvec_dots' eight-row tree, its four-row group and a single row */
enum { N = 333, IN = 40, OUT = 37, R = 13, NT = 3, NN = 2, E = NT + NN, K = 2 };

typedef struct {
    Arena a;
    Tape t;
    Tensor *x, *W, *base, *A[NT], *B[NT], *p, *y;
    real dy[N * OUT];
} Case;

static void build(Case *c, int inplace) {
    arena_init(&c->a, 1 << 20);
    tape_init(&c->t, &c->a);
    Rng rng = rng_derive(1234, 5);
    c->x = tensor_2d(&c->a, N, IN, 1);
    c->W = tensor_2d(&c->a, N, E, 1);
    c->p = tensor_2d(&c->a, N, E, 0);
    c->base = tensor_2d(&c->a, N, OUT, 1);
    rng_fill_uniform(&rng, c->x->data, c->x->numel, -1, 1);
    rng_fill_uniform(&rng, c->W->data, c->W->numel, 0.1, 1);
    rng_fill_uniform(&rng, c->p->data, c->p->numel, 0, 1);
    rng_fill_uniform(&rng, c->base->data, c->base->numel, -1, 1);
    for (int e = 0; e < NT; e++) {
        c->A[e] = tensor_2d(&c->a, R, IN, 1);
        c->B[e] = tensor_2d(&c->a, OUT, R, 1);
        rng_fill_uniform(&rng, c->A[e]->data, c->A[e]->numel, -1, 1);
        rng_fill_uniform(&rng, c->B[e]->data, c->B[e]->numel, -1, 1);
    }
    rng_fill_uniform(&rng, c->dy, N * OUT, -1, 1);
    Routing *r = arena_alloc(&c->a, sizeof *r);
    route_select(&c->a, c->p, NT, K, NULL, r);
    Tensor *base = inplace ? op_scale(&c->t, c->base, (real)1) : c->base;
    c->y = op_routed_lora(&c->t, base, c->x, c->W, r, c->A, c->B, (real)0.75, inplace);
    memcpy(tensor_grad_ready(c->y), c->dy, sizeof c->dy);
    tape_backward_seeded(&c->t);
}

static void done(Case *c) {
    tape_free(&c->t);
    arena_free(&c->a);
}

static void near(double got, double want, const char *what, int i) {
    ck_assert_msg(fabs(got - want) <= 2e-5 * (1 + fabs(want)), "%s[%d]: %.9g vs twin %.9g", what, i, got, want);
}

/* the twin: per row, its top-2 experts by p (ties impossible with random p), in double */
static void check_twin(const Case *c) {
    static double dx[N * IN], dW[N * E], dA[NT][R * IN], dB[NT][OUT * R];
    memset(dx, 0, sizeof dx); memset(dW, 0, sizeof dW); memset(dA, 0, sizeof dA); memset(dB, 0, sizeof dB);
    const double s = 0.75;
    for (int t = 0; t < N; t++) {
        const real *p = c->p->data + t * E, *x = c->x->data + t * IN, *g = c->dy + t * OUT;
        int e1 = 0, e2;
        for (int e = 1; e < E; e++) if (p[e] > p[e1]) e1 = e;
        e2 = e1 == 0 ? 1 : 0;
        for (int e = 0; e < E; e++) if (e != e1 && p[e] > p[e2]) e2 = e;
        double y[OUT];
        for (int o = 0; o < OUT; o++) y[o] = c->base->data[t * OUT + o];
        int sel[2] = { e1, e2 };
        for (int q = 0; q < 2; q++) {
            int e = sel[q];
            if (e >= NT) continue;
            double h[R], w = s * c->W->data[t * E + e], dh[R];
            for (int k = 0; k < R; k++) { h[k] = 0; for (int i = 0; i < IN; i++) h[k] += (double)c->A[e]->data[k * IN + i] * x[i]; }
            for (int o = 0; o < OUT; o++) for (int k = 0; k < R; k++) y[o] += w * c->B[e]->data[o * R + k] * h[k];
            for (int k = 0; k < R; k++) {
                double d = 0;
                for (int o = 0; o < OUT; o++) d += (double)c->B[e]->data[o * R + k] * g[o];
                dW[t * E + e] += s * d * h[k];
                dh[k] = w * d;
                for (int o = 0; o < OUT; o++) dB[e][o * R + k] += w * h[k] * g[o];
                for (int i = 0; i < IN; i++) { dA[e][k * IN + i] += dh[k] * x[i]; dx[t * IN + i] += dh[k] * c->A[e]->data[k * IN + i]; }
            }
        }
        for (int o = 0; o < OUT; o++) near(c->y->data[t * OUT + o], y[o], "y", t * OUT + o);
    }
    for (int i = 0; i < N * IN; i++) near(c->x->grad[i], dx[i], "dx", i);
    for (int i = 0; i < N * E; i++) near(c->W->grad[i], dW[i], "dW", i);
    for (int e = 0; e < NT; e++) {
        for (int i = 0; i < R * IN; i++) near(c->A[e]->grad[i], dA[e][i], "dA", e * R * IN + i);
        for (int i = 0; i < OUT * R; i++) near(c->B[e]->grad[i], dB[e][i], "dB", e * OUT * R + i);
    }
    for (int i = 0; i < N * OUT; i++) near(c->base->grad[i], c->dy[i], "dbase", i);
}

START_TEST(test_routed_lora_twin)
{
    Case c;
    build(&c, _i);
    check_twin(&c);
    done(&c);
}
END_TEST

START_TEST(test_routed_lora_threads)
{
    Case c[3];
    for (int n = 1; n <= 3; n++) {
        threads_init(n);
        build(&c[n - 1], 1);
    }
    threads_init(1);
    for (int n = 1; n < 3; n++) {
        ck_assert_int_eq(memcmp(c[0].y->data, c[n].y->data, N * OUT * sizeof(real)), 0);
        ck_assert_int_eq(memcmp(c[0].x->grad, c[n].x->grad, N * IN * sizeof(real)), 0);
        ck_assert_int_eq(memcmp(c[0].W->grad, c[n].W->grad, N * E * sizeof(real)), 0);
        for (int e = 0; e < NT; e++) {
            ck_assert_int_eq(memcmp(c[0].A[e]->grad, c[n].A[e]->grad, R * IN * sizeof(real)), 0);
            ck_assert_int_eq(memcmp(c[0].B[e]->grad, c[n].B[e]->grad, OUT * R * sizeof(real)), 0);
        }
    }
    for (int n = 0; n < 3; n++) done(&c[n]);
}
END_TEST

Suite *routed_lora_suite(void) {
    Suite *s = suite_create("routed_lora");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_routed_lora_twin, 0, 2);
    tcase_add_test(tc, test_routed_lora_threads);
    suite_add_tcase(s, tc);
    return s;
}
