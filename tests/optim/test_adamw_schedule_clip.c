/* tests/optim/test_adamw_schedule_clip.c — AdamW, LR / aux schedules and clipping against hand-computed values.
   AdamW references follow the update rule of Loshchilov & Hutter (2019) as PyTorch states it,
   evaluated by hand for p = 1, g = (0.5, -0.25), lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01:
   step 1: m̂ = 0.5, v̂ = 0.25 -> p = 0.999 - 0.1·0.5/(0.5+1e-8) = 0.899000002
   step 2: m = 0.02, v = 0.00031225, m̂ = 0.02/0.19, v̂ = 0.00031225/0.001999 -> 0.8714672987 */
#include "tests/support/suites.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "optim/clip.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_adamw_two_steps)
{
    AdamWConfig cfg = { 0.9, 0.999, 1e-8, 0.01 };
    AdamW opt;
    adamw_init(&opt, &cfg, 2);
    opt.decay[1] = 0;                         /* second value: no weight decay */
    real p[2] = { 1, 1 }, g[2] = { (real)0.5, (real)0.5 };
    adamw_step(&opt, p, g, 0.1);
    ck_assert_double_eq_tol(p[0], 0.899000002, 1e-6);
    ck_assert_double_eq_tol(p[1], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6);
    g[0] = g[1] = (real)-0.25;
    adamw_step(&opt, p, g, 0.1);
    ck_assert_double_eq_tol(p[0], 0.8714672987058463, 1e-6);
    ck_assert_int_eq(opt.step, 2);
    adamw_free(&opt);
}
END_TEST

/* the textbook loop (adamw.h, one element at a time, decay by a branch) as the naive twin of the
   vectorised, threaded adamw_step: the same bits at 1 and 2 threads, also when lr·wd > 1/2 */
static void adamw_twin(real *p, real *m, real *v, const uint8_t *dk, const real *g, size_t n, long t, double lr,
                       const AdamWConfig *c) {
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    real b1 = (real)c->beta1, b2 = (real)c->beta2, eps = (real)c->eps, ss = (real)(lr / bc1);
    real isb = (real)(1.0 / sqrt(bc2)), decay = (real)(1.0 - lr * c->weight_decay);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        if (dk[i]) p[i] *= decay;
        p[i] -= ss * m[i] / (real_sqrt(v[i]) * isb + eps);
    }
}

START_TEST(test_adamw_twin_threads)
{
    enum { N = 50021 };
    AdamWConfig cfg = { 0.9, 0.999, 1e-8, 0.01 };
    real *p = malloc(3 * N * sizeof(real)), *g = malloc(N * sizeof(real)), *m = calloc(2 * N, sizeof(real));
    uint8_t *dk = malloc(N);
    Rng r = rng_derive(5, 1);
    for (int nt = 1; nt <= 2; nt++) {
        double lr = nt == 1 ? 1e-3 : 80.0;      /* 80 · 0.01 = 0.8: decay 0.2 < 1/2 */
        threads_init(nt);
        AdamW opt;
        adamw_init(&opt, &cfg, N);
        rng_fill_uniform(&r, p, N, -1, 1);
        memcpy(p + N, p, N * sizeof(real));
        memset(m, 0, 2 * N * sizeof(real));
        for (int i = 0; i < N; i++) dk[i] = opt.decay[i] = (uint8_t)(rng_int(&r, 3) != 0);
        for (long t = 1; t <= 3; t++) {
            rng_fill_uniform(&r, g, N, -2, 2);
            adamw_step(&opt, p, g, lr);
            adamw_twin(p + N, m, m + N, dk, g, N, t, lr, &cfg);
        }
        ck_assert_int_eq(memcmp(p, p + N, N * sizeof(real)), 0);
        ck_assert_int_eq(memcmp(opt.m, m, N * sizeof(real)), 0);
        adamw_free(&opt);
    }
    threads_init(0);
    free(p), free(g), free(m), free(dk);
}
END_TEST

START_TEST(test_lr_schedules)
{
    LrSchedule s = { LR_COSINE, 1e-3, 1e-4, 10, 110 };
    ck_assert_double_eq_tol(lr_schedule_at(&s, 0), 1e-4, 1e-12);     /* warmup: (0+1)/10 */
    ck_assert_double_eq_tol(lr_schedule_at(&s, 9), 1e-3, 1e-12);
    ck_assert_double_eq_tol(lr_schedule_at(&s, 10), 1e-3, 1e-12);    /* cosine starts at peak */
    ck_assert_double_eq_tol(lr_schedule_at(&s, 60), 0.00055, 1e-12); /* halfway: (max+min)/2 */
    ck_assert_double_eq_tol(lr_schedule_at(&s, 110), 1e-4, 1e-12);
    s.kind = LR_LINEAR;
    ck_assert_double_eq_tol(lr_schedule_at(&s, 35), 1e-4 + 0.9e-3 * 0.75, 1e-12);
    s.kind = LR_CONSTANT;
    ck_assert_double_eq_tol(lr_schedule_at(&s, 100), 1e-3, 1e-12);
    LrScheduleKind k;
    ck_assert_int_eq(lr_schedule_parse("cosine", &k, NULL), STATUS_OK);
    ck_assert_int_eq(k, LR_COSINE);
    ck_assert_int_eq(lr_schedule_parse("exp", &k, NULL), STATUS_INVALID);
}
END_TEST

START_TEST(test_aux_schedules)
{
    AuxSchedule s = { AUX_LINEAR, 0.01, 0.0, { 0 }, 0 };
    ck_assert_double_eq_tol(aux_schedule_at(&s, 0.25, 0), 0.0075, 1e-12);
    s.kind = AUX_CONST;
    ck_assert_double_eq_tol(aux_schedule_at(&s, 0.9, 3), 0.01, 1e-12);
    s.kind = AUX_EPOCH;
    Error err;
    ck_assert_int_eq(aux_schedule_parse_values(&s, "0.01,0.001", &err), STATUS_OK);
    ck_assert_double_eq_tol(aux_schedule_at(&s, 0.1, 0), 0.01, 1e-12);
    ck_assert_double_eq_tol(aux_schedule_at(&s, 0.6, 1), 0.001, 1e-12);
    ck_assert_double_eq_tol(aux_schedule_at(&s, 0.9, 5), 0.001, 1e-12);  /* last value repeats */
    ck_assert_int_eq(aux_schedule_parse_values(&s, "0.01,x", &err), STATUS_INVALID);
    ck_assert_int_eq(aux_schedule_parse_values(&s, "-1", &err), STATUS_INVALID);
}
END_TEST

START_TEST(test_clip)
{
    real g[2] = { 3, 4 };                     /* norm 5 */
    ck_assert_double_eq_tol(clip_grad_norm(g, 2, 10), 5, 1e-12);
    ck_assert(g[0] == 3);                     /* under the limit: untouched */
    ck_assert_double_eq_tol(clip_grad_norm(g, 2, 1), 5, 1e-12);
    ck_assert_double_eq_tol(grad_global_norm(g, 2), 1, 1e-5);
    ck_assert_double_eq_tol(g[0] / g[1], 0.75, 1e-6);
}
END_TEST

Suite *optim_suite(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_adamw_two_steps);
    tcase_add_test(tc, test_adamw_twin_threads);
    tcase_add_test(tc, test_lr_schedules);
    tcase_add_test(tc, test_aux_schedules);
    tcase_add_test(tc, test_clip);
    suite_add_tcase(s, tc);
    return s;
}
