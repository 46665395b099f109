/* tests/autograd/test_ops_model.c — forward values of the model op families (rmsnorm, rope, causal
   attention, cross-entropy) against naive twins written here in double, the two RoPE
   conventions against each other, the KV-cache decode step against the full attention,
   thread-count independence, and a shape-mismatch abort per family. (Gradients: every op is
   also in ALL_OPS, so test_autograd's finite-difference check covers the backwards.) */
#include "tests/support/suites.h"
#include "tests/support/op_fixture.h"
#include "autograd/ops.h"
#include "tensor/threads.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static double tol(void) { return REAL_IS_DOUBLE ? 1e-12 : 2e-5; }


static Tensor *rand4(Fx *f, int n0, int n1, int n2, int n3, int grad) {
    Tensor *x = tensor_new(&f->a, 4, (int[]){ n0, n1, n2, n3 }, grad);
    rng_fill_uniform(&f->rng, x->data, x->numel, -1.0, 1.0);
    return x;
}

static void assert_close(const real *got, const double *want, size_t n, double tl, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tl * (1.0 + fabs(want[i])),
                      "%s[%zu]: got %.10g want %.10g", what, i, (double)got[i], want[i]);
}

/* ---- rmsnorm ---- */

START_TEST(test_rmsnorm_forward)
{
    Fx f;
    fx_init(&f, 1);
    int R = 4, C = 7;
    Tensor *x = tensor_2d(&f.a, R, C, 0), *w = tensor_1d(&f.a, C, 0);
    rng_fill_uniform(&f.rng, x->data, x->numel, -2.0, 2.0);
    rng_fill_uniform(&f.rng, w->data, C, -1.5, 1.5);
    Tensor *y = op_rmsnorm(&f.t, x, w, (real)1e-5);
    double want[28];
    for (int r = 0; r < R; r++) {
        double ms = 0;
        for (int i = 0; i < C; i++) ms += (double)x->data[r * C + i] * x->data[r * C + i] / C;
        for (int i = 0; i < C; i++) want[r * C + i] = x->data[r * C + i] / sqrt(ms + (double)(real)1e-5) * w->data[i];
    }
    assert_close(y->data, want, (size_t)R * C, tol(), "rmsnorm");
    fx_free(&f);
}
END_TEST

START_TEST(test_rmsnorm_bad_weight_aborts)
{
    Fx f;
    fx_init(&f, 1);
    op_rmsnorm(&f.t, tensor_2d(&f.a, 2, 6, 1), tensor_1d(&f.a, 5, 1), (real)1e-5);
}
END_TEST

/* ---- rope ---- */

/* Meta (interleaved) d = 2j + t  <->  HF (half) d = t·D/2 + j */
static void meta_to_hf(real *hf, const real *meta, size_t heads, int D) {
    for (size_t h = 0; h < heads; h++)
        for (int j = 0; j < D / 2; j++)
            for (int t = 0; t < 2; t++) hf[h * D + t * (D / 2) + j] = meta[h * D + 2 * j + t];
}

START_TEST(test_rope_conventions_agree)
{
    Fx f;
    fx_init(&f, 2);
    int B = 2, T = 4, H = 3, D = 8, pos0 = 5;
    double theta = 10000.0;
    RopeTable tab;
    rope_table_init(&tab, NULL, 16, D, theta);
    Tensor *xm = rand4(&f, B, T, H, D, 0), *xh = rand4(&f, B, T, H, D, 0);
    meta_to_hf(xh->data, xm->data, (size_t)B * T * H, D);
    Tensor *ym = op_rope(&f.t, xm, &tab, pos0, ROPE_INTERLEAVED);
    Tensor *yh = op_rope(&f.t, xh, &tab, pos0, ROPE_HALF);
    real *ym_hf = arena_alloc(&f.a, ym->numel * sizeof(real));
    meta_to_hf(ym_hf, ym->data, (size_t)B * T * H, D);
    ck_assert_int_eq(memcmp(ym_hf, yh->data, ym->numel * sizeof(real)), 0);
    /* the interleaved result against rotations computed here */
    double *want = malloc(ym->numel * sizeof *want);
    for (int bt = 0; bt < B * T; bt++)
        for (int h = 0; h < H; h++)
            for (int j = 0; j < D / 2; j++) {
                double ang = (pos0 + bt % T) * pow(theta, -2.0 * j / D);
                size_t o = ((size_t)bt * H + h) * D + 2 * j;
                double x0 = xm->data[o], x1 = xm->data[o + 1];
                want[o] = x0 * cos(ang) - x1 * sin(ang);
                want[o + 1] = x0 * sin(ang) + x1 * cos(ang);
            }
    assert_close(ym->data, want, ym->numel, REAL_IS_DOUBLE ? 1e-12 : 1e-6, "rope");
    free(want);
    rope_table_free(&tab);
    fx_free(&f);
}
END_TEST

START_TEST(test_rope_position0_identity_and_inplace)
{
    Fx f;
    fx_init(&f, 3);
    RopeTable tab;
    rope_table_init(&tab, &f.a, 8, 6, 10000.0);
    Tensor *x = rand4(&f, 2, 1, 3, 6, 0);
    for (int mode = 0; mode < 2; mode++) {
        Tensor *y = op_rope(&f.t, x, &tab, 0, (RopeMode)mode);
        ck_assert_int_eq(memcmp(y->data, x->data, x->numel * sizeof(real)), 0);
    }
    /* in-place kernel == op, one sequence of T = 5 at pos0 = 2 */
    Tensor *s = rand4(&f, 1, 5, 3, 6, 0);
    for (int mode = 0; mode < 2; mode++) {
        Tensor *y = op_rope(&f.t, s, &tab, 2, (RopeMode)mode);
        real *c = arena_alloc(&f.a, s->numel * sizeof(real));
        memcpy(c, s->data, s->numel * sizeof(real));
        rope_apply_inplace(c, 5, 3, 6, &tab, 2, (RopeMode)mode);
        ck_assert_int_eq(memcmp(c, y->data, s->numel * sizeof(real)), 0);
        ck_assert_int_ne(memcmp(c, s->data, s->numel * sizeof(real)), 0);
    }
    fx_free(&f);
}
END_TEST

START_TEST(test_rope_bad_head_size_aborts)
{
    Fx f;
    fx_init(&f, 1);
    RopeTable tab;
    rope_table_init(&tab, &f.a, 8, 6, 10000.0);
    op_rope(&f.t, rand4(&f, 1, 2, 2, 8, 1), &tab, 0, ROPE_HALF);
}
END_TEST

/* ---- attention ---- */

/* y [B,T,H,D] in double: softmax over j <= i of q·k / sqrt(D), kv head h / (H/KV) */
static void naive_attention(double *y, const real *q, const real *k, const real *v,
                            int B, int T, int H, int KV, int D) {
    double *s = malloc((size_t)T * sizeof *s);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                int g = h / (H / KV);
                const real *qi = q + (((size_t)b * T + i) * H + h) * D;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    const real *kj = k + (((size_t)b * T + j) * KV + g) * D;
                    s[j] = 0;
                    for (int d = 0; d < D; d++) s[j] += (double)qi[d] * kj[d];
                    s[j] /= sqrt((double)D);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - mx));
                double *yi = y + (((size_t)b * T + i) * H + h) * D;
                for (int d = 0; d < D; d++) {
                    yi[d] = 0;
                    for (int j = 0; j <= i; j++) yi[d] += s[j] / sum * v[(((size_t)b * T + j) * KV + g) * D + d];
                }
            }
    free(s);
}

static void check_attention_shape(int B, int T, int H, int KV, int D) {
    Fx f;
    fx_init(&f, 4);
    Tensor *q = rand4(&f, B, T, H, D, 0), *k = rand4(&f, B, T, KV, D, 0), *v = rand4(&f, B, T, KV, D, 0);
    for (int grad = 0; grad < 2; grad++) {   /* unrecorded (scratch) and recorded (saved P) paths */
        q->grad = grad ? arena_alloc_zero(&f.a, q->numel * sizeof(real)) : NULL;
        Tensor *y = op_causal_attention(&f.t, q, k, v);
        double *want = malloc(y->numel * sizeof *want);
        naive_attention(want, q->data, k->data, v->data, B, T, H, KV, D);
        assert_close(y->data, want, y->numel, REAL_IS_DOUBLE ? 1e-12 : 1e-5, "attention");
        free(want);
        for (int b = 0; b < B; b++)       /* position 0 sees only itself: y = v exactly */
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++)
                    ck_assert(y->data[(((size_t)b * T) * H + h) * D + d] ==
                              v->data[(((size_t)b * T) * KV + h / (H / KV)) * D + d]);
    }
    fx_free(&f);
}

START_TEST(test_attention_vs_naive)
{
    check_attention_shape(2, 5, 4, 2, 6);                 /* GQA, odd D */
    check_attention_shape(1, ATTN_ROW_BLOCK + 6, 3, 1, 5); /* multi-query, crosses row blocks */
    check_attention_shape(2, 3, 2, 2, 4);                 /* MHA */
}
END_TEST

START_TEST(test_attention_decode_step_matches_full)
{
    Fx f;
    fx_init(&f, 5);
    int T = 9, H = 4, KV = 2, D = 6;
    Tensor *q = rand4(&f, 1, T, H, D, 0), *k = rand4(&f, 1, T, KV, D, 0), *v = rand4(&f, 1, T, KV, D, 0);
    Tensor *y = op_causal_attention(&f.t, q, k, v);
    real out[24], scratch[4 * 9];
    for (int pos = 0; pos < T; pos++) {
        attention_decode_step(out, q->data + (size_t)pos * H * D, k->data, v->data, pos, H, KV, D, scratch);
        for (int i = 0; i < H * D; i++)
            ck_assert_msg(fabs((double)out[i] - y->data[(size_t)pos * H * D + i]) <= tol(),
                          "pos %d elem %d: %g vs %g", pos, i, (double)out[i], (double)y->data[(size_t)pos * H * D + i]);
    }
    fx_free(&f);
}
END_TEST

/* forward + backward with fixed inputs and output grad; copies y, dq, dk, dv into buf */
static void attention_run(real *buf, int B, int T, int H, int KV, int D) {
    Fx f;
    fx_init(&f, 6);
    Tensor *q = rand4(&f, B, T, H, D, 1), *k = rand4(&f, B, T, KV, D, 1), *v = rand4(&f, B, T, KV, D, 1);
    Tensor *y = op_causal_attention(&f.t, q, k, v);
    rng_fill_uniform(&f.rng, tensor_grad_ready(y), y->numel, -1.0, 1.0);
    tape_backward_seeded(&f.t);
    size_t nq = q->numel, nk = k->numel;
    memcpy(buf, y->data, nq * sizeof(real));
    memcpy(buf + nq, q->grad, nq * sizeof(real));
    memcpy(buf + 2 * nq, k->grad, nk * sizeof(real));
    memcpy(buf + 2 * nq + nk, v->grad, nk * sizeof(real));
    fx_free(&f);
}

START_TEST(test_attention_threads_bitwise)
{
    int B = 2, T = ATTN_ROW_BLOCK + 9, H = 6, KV = 3, D = 8;
    size_t n = 2 * (size_t)B * T * H * D + 2 * (size_t)B * T * KV * D;
    real *r1 = malloc(n * sizeof(real)), *r2 = malloc(n * sizeof(real)), *r3 = malloc(n * sizeof(real));
    threads_init(1);
    attention_run(r1, B, T, H, KV, D);
    threads_init(2);
    attention_run(r2, B, T, H, KV, D);
    threads_init(3);
    attention_run(r3, B, T, H, KV, D);
    ck_assert_int_eq(memcmp(r1, r2, n * sizeof(real)), 0);
    ck_assert_int_eq(memcmp(r1, r3, n * sizeof(real)), 0);
    threads_init(1);
    free(r1);
    free(r2);
    free(r3);
}
END_TEST

START_TEST(test_attention_bad_kv_heads_aborts)
{
    Fx f;
    fx_init(&f, 1);
    op_causal_attention(&f.t, rand4(&f, 1, 3, 4, 2, 1), rand4(&f, 1, 3, 3, 2, 1), rand4(&f, 1, 3, 3, 2, 1));
}
END_TEST

/* ---- cross-entropy ---- */

START_TEST(test_cross_entropy_vs_naive)
{
    Fx f;
    fx_init(&f, 7);
    enum { N = 6, V = 9 };
    const int tg[N] = { 4, CE_IGNORE_INDEX, 0, 8, CE_IGNORE_INDEX, 2 };
    Tensor *x = tensor_2d(&f.a, N, V, 1);
    rng_fill_uniform(&f.rng, x->data, x->numel, -3.0, 3.0);
    x->data[3 * V + 1] = 40;   /* a large logit: exp would overflow without the max shift in float */
    double want = 0, logp[N], want_logp[N];
    int counted = 0;
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < V; j++) s += exp((double)x->data[i * V + j]);
        want_logp[i] = tg[i] == CE_IGNORE_INDEX ? 0.0 : x->data[i * V + (tg[i] < 0 ? 0 : tg[i])] - log(s);
        if (tg[i] != CE_IGNORE_INDEX) { want -= want_logp[i]; counted++; }
    }
    want /= counted;
    Tensor *y = op_cross_entropy(&f.t, x, tg, N);
    ck_assert_int_eq((int)y->numel, 1);
    ck_assert_msg(fabs((double)y->data[0] - want) <= tol() * (1 + fabs(want)), "ce %.10g vs %.10g", (double)y->data[0], want);
    cross_entropy_rows(x->data, N, V, tg, logp);
    for (int i = 0; i < N; i++) ck_assert_double_eq_tol(logp[i], want_logp[i], 1e-5 * (1 + fabs(want_logp[i])));
    tape_backward(&f.t, y);
    for (int j = 0; j < V; j++) {   /* ignored rows get no gradient; counted rows sum to zero */
        ck_assert(x->grad[1 * V + j] == 0 && x->grad[4 * V + j] == 0);
    }
    double g0 = 0;
    for (int j = 0; j < V; j++) g0 += x->grad[j];
    ck_assert_double_eq_tol(g0, 0.0, 1e-6);
    fx_free(&f);
}
END_TEST

START_TEST(test_cross_entropy_all_ignored_is_zero)
{
    Fx f;
    fx_init(&f, 8);
    const int tg[3] = { CE_IGNORE_INDEX, CE_IGNORE_INDEX, CE_IGNORE_INDEX };
    Tensor *x = tensor_2d(&f.a, 3, 4, 1);
    rng_fill_uniform(&f.rng, x->data, x->numel, -1.0, 1.0);
    Tensor *y = op_cross_entropy(&f.t, x, tg, 3);
    ck_assert(y->data[0] == 0);
    tape_backward(&f.t, y);
    for (size_t i = 0; i < x->numel; i++) ck_assert(x->grad[i] == 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_cross_entropy_bad_rows_aborts)
{
    Fx f;
    fx_init(&f, 1);
    const int tg[3] = { 0, 1, 2 };
    op_cross_entropy(&f.t, tensor_2d(&f.a, 2, 4, 1), tg, 3);
}
END_TEST

START_TEST(test_cross_entropy_bad_target_aborts)
{
    Fx f;
    fx_init(&f, 1);
    const int tg[2] = { 0, 4 };
    op_cross_entropy(&f.t, tensor_2d(&f.a, 2, 4, 1), tg, 2);
}
END_TEST

Suite *ops_model_suite(void) {
    Suite *s = suite_create("ops_model");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rmsnorm_forward);
    tcase_add_test(tc, test_rope_conventions_agree);
    tcase_add_test(tc, test_rope_position0_identity_and_inplace);
    tcase_add_test(tc, test_attention_vs_naive);
    tcase_add_test(tc, test_attention_decode_step_matches_full);
    tcase_add_test(tc, test_attention_threads_bitwise);
    tcase_add_test(tc, test_cross_entropy_vs_naive);
    tcase_add_test(tc, test_cross_entropy_all_ignored_is_zero);
    suite_add_tcase(s, tc);
    TCase *ab = tcase_create("aborts");
    tcase_add_abort_test(ab, test_rmsnorm_bad_weight_aborts);
    tcase_add_abort_test(ab, test_rope_bad_head_size_aborts);
    tcase_add_abort_test(ab, test_attention_bad_kv_heads_aborts);
    tcase_add_abort_test(ab, test_cross_entropy_bad_rows_aborts);
    tcase_add_abort_test(ab, test_cross_entropy_bad_target_aborts);
    suite_add_tcase(s, ab);
    return s;
}
