/* tests/nn/test_moe.c — routing, Eq. 6 and router statistics against hand-computed values, the
   Mo-LoRA / AdaMoE linear against a naive dense twin, padding, and option parsing.
   Hand example (n = 2 true, m = 2 null, k = 2, T = 4):
     p rows  [0.4 0.3 0.2 0.1]  → S {0,1}  2 true
             [0.1 0.2 0.25 0.45] → S {3,2}  0 true (bypass)
             [0.5 0.1 0.1 0.3]  → S {0,3}  1 true
             [0.3 0.1 0.15 0.45] → S {3,0}  1 true
   counts c = [3 1 1 3], P = [0.325 0.175 0.175 0.325], kT = 8:
     vanilla L = 4·(3·0.325 + 0.175 + 0.175 + 3·0.325)/8 = 1.15
     Eq. 6 (null counts → mean 2) L = 4·(0.975 + 0.175 + 2·0.175 + 2·0.325)/8 = 1.075
   Load = (2+0+1+1)/4 = 1, bypass 1/4, fractions [3 1 1 3]/8, null fraction 1/2. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double HAND_P[4][4] = {
    { 0.4, 0.3, 0.2, 0.1 }, { 0.1, 0.2, 0.25, 0.45 }, { 0.5, 0.1, 0.1, 0.3 }, { 0.3, 0.1, 0.15, 0.45 } };

static Tensor *hand_p(Arena *a, int with_grad) {
    Tensor *p = tensor_2d(a, 4, 4, with_grad);
    for (int i = 0; i < 16; i++) p->data[i] = (real)HAND_P[i / 4][i % 4];
    return p;
}

static double tol(void) { return sizeof(real) == sizeof(double) ? 1e-12 : 1e-6; }

START_TEST(test_route_selection_and_weights)
{
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Tensor *p = hand_p(&a, 0);
    Routing r;
    route_select(&a, p, 2, 2, NULL, &r);
    static const int want_sel[8] = { 0, 1, 3, 2, 0, 3, 3, 0 };
    for (int i = 0; i < 8; i++) ck_assert_int_eq(r.sel[i], want_sel[i]);
    static const int want_true[4] = { 2, 0, 1, 1 }, want_count[4] = { 3, 1, 1, 3 };
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(r.n_true_sel[i], want_true[i]);
        ck_assert_int_eq(r.count[i], want_count[i]);
    }
    /* grouping: expert 0 ← rows 0, 2, 3; expert 1 ← row 0 */
    ck_assert_int_eq(r.offset[1], 3);
    ck_assert_int_eq(r.offset[2], 4);
    ck_assert_int_eq(r.rows[0], 0); ck_assert_int_eq(r.rows[1], 2); ck_assert_int_eq(r.rows[2], 3);
    ck_assert_int_eq(r.flat[1], 2 * 4 + 0); ck_assert_int_eq(r.rows[3], 0); ck_assert_int_eq(r.flat[3], 1);
    /* true-only: row 1 keeps only raw null weights; rows 2, 3 have one true expert → weight 1 */
    const double want_to[16] = { 0.4 / 0.7, 0.3 / 0.7, 0, 0,   0, 0, 0.25, 0.45,
                                 1, 0, 0, 0.3,                1, 0, 0, 0.45 };
    const double want_all[16] = { 0.4 / 0.7, 0.3 / 0.7, 0, 0,  0, 0, 0.25 / 0.7, 0.45 / 0.7,
                                  0.625, 0, 0, 0.375,          0.4, 0, 0, 0.6 };
    Tensor *z = tensor_2d(&a, 4, 4, 0);     /* logits whose softmax is p (rows of p sum to 1) */
    for (int i = 0; i < 16; i++) z->data[i] = (real)log(HAND_P[i / 4][i % 4]);
    Tensor *w1 = op_route_weights(&t, z, &r, 0), *w2 = op_route_weights(&t, z, &r, 1);
    for (int i = 0; i < 16; i++) {
        ck_assert_msg(fabs((double)w1->data[i] - want_to[i]) < 1e-6, "true-only W[%d] = %g, want %g", i, (double)w1->data[i], want_to[i]);
        ck_assert_msg(fabs((double)w2->data[i] - want_all[i]) < 1e-6, "all-selected W[%d] = %g, want %g", i, (double)w2->data[i], want_all[i]);
    }
    /* ties go to the lower index; masked rows select nothing */
    Tensor *q = tensor_2d(&a, 2, 4, 0);
    const real qv[8] = { 0.25, 0.25, 0.25, 0.25, 0.1, 0.3, 0.3, 0.3 };
    memcpy(q->data, qv, sizeof qv);
    route_select(&a, q, 2, 2, NULL, &r);
    ck_assert_int_eq(r.sel[0], 0); ck_assert_int_eq(r.sel[1], 1);
    ck_assert_int_eq(r.sel[2], 1); ck_assert_int_eq(r.sel[3], 2);
    const unsigned char mask[2] = { 0, 1 };
    route_select(&a, q, 2, 2, mask, &r);
    ck_assert_int_eq(r.sel[0], -1);
    ck_assert_int_eq(r.n_rows, 1);
    ck_assert_int_eq(r.count[0] + r.count[1] + r.count[2] + r.count[3], 2);
    tape_free(&t);
    arena_free(&a);
}
END_TEST

/* L of the hand example for a kind, optionally with a row mask; grads of p into grad_out */
static double hand_aux(int n_true, int n_null, int group, const unsigned char *mask, double *coef_out) {
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Tensor *p = hand_p(&a, 1);
    Routing r;
    route_select(&a, p, n_true, 2, mask, &r);
    double counts[4], coef[4];
    for (int i = 0; i < 4; i++) counts[i] = r.count[i];
    aux_loss_coefs(counts, n_true, n_null, 2, r.n_rows, group, coef);
    Tensor *L = op_router_aux(&t, p, coef, mask);
    double v = (double)L->data[0];
    tape_backward(&t, L);
    for (int row = 0; row < 4; row++)
        for (int i = 0; i < 4; i++) {
            double want = mask && !mask[row] ? 0 : coef[i];
            ck_assert_msg(fabs((double)p->grad[row * 4 + i] - want) < 1e-6, "dL/dp[%d][%d] = %g, want %g", row, i,
                          (double)p->grad[row * 4 + i], want);
        }
    if (coef_out) memcpy(coef_out, coef, sizeof coef);
    tape_free(&t);
    arena_free(&a);
    return v;
}

START_TEST(test_eq6_hand_values)
{
    double coef[4];
    double vanilla = hand_aux(2, 2, 0, NULL, NULL), eq6 = hand_aux(2, 2, 1, NULL, coef);
    ck_assert_msg(fabs(vanilla - 1.15) < 1e-6, "vanilla %.9f, want 1.15", vanilla);
    ck_assert_msg(fabs(eq6 - 1.075) < 1e-6, "eq6 %.9f, want 1.075", eq6);
    /* dL/dp_ti = E f̃_i / T = 4 · [3 1 2 2]/8 / 4 */
    const double want[4] = { 0.375, 0.125, 0.25, 0.25 };
    for (int i = 0; i < 4; i++) ck_assert(fabs(coef[i] - want[i]) < tol());
    /* m = 0: Eq. 6 is the vanilla loss (all four experts true) */
    double m0_eq6 = hand_aux(4, 0, 1, NULL, NULL), m0_van = hand_aux(4, 0, 0, NULL, NULL);
    ck_assert(fabs(m0_eq6 - 1.15) < 1e-6 && fabs(m0_van - 1.15) < 1e-6);
    /* row 3 masked: T = 3, c = [2 1 1 2], P = [1.0 0.6 0.55 0.85]/3, kT = 6 */
    const unsigned char mask[4] = { 1, 1, 1, 0 };
    double mv = hand_aux(2, 2, 0, mask, NULL), me = hand_aux(2, 2, 1, mask, NULL);
    ck_assert_msg(fabs(mv - 4 * 4.85 / 18) < 1e-6, "masked vanilla %.9f", mv);
    ck_assert_msg(fabs(me - 4 * 4.7 / 18) < 1e-6, "masked eq6 %.9f", me);
}
END_TEST

/* the layer loss pools its modules: the 4 rows split over two modules give the same L */
START_TEST(test_aux_pools_modules)
{
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 2; acfg.top_k = 2;
    MoeState *s = moe_state_new(&acfg, 2);
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Tensor *p = hand_p(&a, 1);
    Tensor *halves[2];
    Routing *r = arena_alloc(&a, 2 * sizeof *r);
    moe_forward_begin(s, NULL, 2);
    for (int h = 0; h < 2; h++) {
        halves[h] = tensor_2d(&a, 2, 4, 1);
        memcpy(halves[h]->data, p->data + 8 * h, 8 * sizeof(real));
        route_select(&a, halves[h], 2, 2, NULL, &r[h]);
        s->log[1 * MOE_MODULES + (h ? 6 : 0)] = (MoeRecord){ halves[h], &r[h], NULL, 0, 0 };
    }
    Tensor *L = moe_aux_loss(&t, s);
    ck_assert_msg(fabs((double)L->data[0] - 1.075) < 1e-6, "pooled eq6 %.9f", (double)L->data[0]);
    ck_assert(s->aux_per_layer[0] == 0 && fabs(s->aux_per_layer[1] - 1.075) < 1e-6);
    s->acfg.aux = MOE_AUX_NONE;
    ck_assert_ptr_null(moe_aux_loss(&t, s));
    tape_free(&t);
    arena_free(&a);
    moe_state_free(s);
}
END_TEST

START_TEST(test_stats_hand_routing)
{
    MoeModuleStats mod[2 * MOE_MODULES];
    MoeStats st = { 2, 2, 2, 2, 2.0, mod, 0, NULL, NULL, NULL };
    moe_stats_reset(&st);
    Arena a;
    arena_init(&a, 1 << 16);
    Tensor *p = hand_p(&a, 0);
    Routing r;
    route_select(&a, p, 2, 2, NULL, &r);
    moe_stats_accumulate(&st, 0, 2, p, &r);
    MoeSummary s;
    moe_summary_layer(&st, 0, &s);
    double ent = 0;
    for (int i = 0; i < 16; i++) ent -= HAND_P[i / 4][i % 4] * log(HAND_P[i / 4][i % 4]);
    ck_assert(s.tokens == 4 && fabs(s.load - 1.0) < 1e-12 && fabs(s.bypass_fraction - 0.25) < 1e-12);
    ck_assert(fabs(s.null_fraction - 0.5) < 1e-12 && fabs(s.flops_saved - 0.5) < 1e-12);
    ck_assert_msg(fabs(s.entropy - ent / 4) < 1e-6, "entropy %g want %g", s.entropy, ent / 4);
    const double frac[4] = { 3.0 / 8, 1.0 / 8, 1.0 / 8, 3.0 / 8 };
    for (int i = 0; i < 4; i++) ck_assert(fabs(s.expert_fraction[i] - frac[i]) < 1e-12);
    ck_assert(s.true_hist[0] == 0.25 && s.true_hist[1] == 0.5 && s.true_hist[2] == 0.25);
    /* a second module of the same layer with every row masked but one: pooled over 5 tokens */
    const unsigned char mask[4] = { 1, 0, 0, 0 };
    route_select(&a, p, 2, 2, mask, &r);
    moe_stats_accumulate(&st, 0, 5, p, &r);
    moe_summary_layer(&st, 0, &s);
    ck_assert(s.tokens == 5 && fabs(s.load - 6.0 / 5) < 1e-12 && fabs(s.bypass_fraction - 0.2) < 1e-12);
    moe_summary_module(&st, 0, 5, &s);
    ck_assert(s.tokens == 1 && s.load == 2.0);
    /* model level = mean over layers that saw tokens (layer 1 saw none) */
    moe_summary_model(&st, &s);
    ck_assert(fabs(s.load - 6.0 / 5) < 1e-12 && fabs(s.flops_saved - 0.4) < 1e-12);
    moe_stats_reset(&st);
    moe_summary_model(&st, &s);
    ck_assert(s.tokens == 0 && s.load == 0);
    arena_free(&a);
}
END_TEST

START_TEST(test_option_parsing)
{
    Error err;
    MoeNormalize nv;
    MoeNullKind nk;
    MoeAuxKind ak;
    AdapterKind kind;
    ck_assert(moe_normalize_parse("true-only", &nv, &err) == STATUS_OK && nv == MOE_NORM_TRUE_ONLY);
    ck_assert(moe_normalize_parse("all_selected", &nv, &err) == STATUS_OK && nv == MOE_NORM_ALL_SELECTED);
    ck_assert(moe_normalize_parse("all-selected", &nv, &err) == STATUS_OK && nv == MOE_NORM_ALL_SELECTED);
    ck_assert(moe_normalize_parse("true", &nv, &err) == STATUS_INVALID);
    ck_assert(moe_null_kind_parse("identity", &nk, &err) == STATUS_OK && nk == MOE_NULL_IDENTITY);
    ck_assert(moe_aux_kind_parse("vanilla", &ak, &err) == STATUS_OK && ak == MOE_AUX_VANILLA);
    ck_assert(moe_aux_kind_parse("eq7", &ak, &err) == STATUS_INVALID && strstr(err.message, "eq7"));
    ck_assert(adapter_kind_parse("adamoe", &kind, &err) == STATUS_OK && kind == ADAPTER_ADAMOE);
    ck_assert_str_eq(moe_normalize_name(MOE_NORM_TRUE_ONLY), "true_only");
    AdapterConfig a = { .kind = ADAPTER_MOLORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16 };
    adapter_moe_defaults(&a);
    ck_assert(a.n_true == 4 && a.n_null == 0 && a.top_k == 2 && adapter_moe_validate(&a, &err) == STATUS_OK);
    a.n_null = 2;
    ck_assert(adapter_moe_validate(&a, &err) == STATUS_INVALID);
    a.kind = ADAPTER_ADAMOE;
    a.top_k = 7;
    ck_assert(adapter_moe_validate(&a, &err) == STATUS_INVALID && strstr(err.message, "top-k"));
    a.top_k = 6;
    ck_assert(adapter_moe_validate(&a, &err) == STATUS_OK);
}
END_TEST

/* route_select against a selection-sort twin: slot s takes the largest p not yet taken, the lower
   index on ties (p drawn from 4 levels, so most rows tie), E 2..16, every k; a row with a NaN
   still selects k distinct experts in range */
START_TEST(test_topk_matches_selection_sort)
{
    Arena a;
    arena_init(&a, 1 << 20);
    Rng rng = rng_derive(77, 3);
    enum { ROWS = 50 };
    for (int E = 2; E <= 16; E++)
        for (int k = 1; k <= E; k++) {
            ArenaMark m = arena_mark(&a);
            Tensor *p = tensor_2d(&a, ROWS, E, 0);
            for (int i = 0; i < ROWS * E; i++) p->data[i] = (real)(rng_uniform(&rng) < 0.5 ? 0.25 * (double)rng_int(&rng, 4) : rng_uniform(&rng));
            p->data[(ROWS - 1) * E + E / 2] = (real)NAN;
            Routing r;
            route_select(&a, p, E, k, NULL, &r);
            for (int row = 0; row < ROWS; row++) {
                const real *pr = p->data + (size_t)row * E;
                const int *top = r.sel + (size_t)row * k;
                int taken[16] = { 0 };
                for (int s = 0; s < k; s++) {
                    ck_assert(top[s] >= 0 && top[s] < E && !taken[top[s]]);
                    taken[top[s]] = 1;
                }
                if (row == ROWS - 1) continue;   /* the NaN row: valid, order unspecified */
                memset(taken, 0, sizeof taken);
                for (int s = 0; s < k; s++) {
                    int best = -1;
                    for (int e = 0; e < E; e++)
                        if (!taken[e] && (best < 0 || pr[e] > pr[best])) best = e;
                    taken[best] = 1;
                    ck_assert_msg(top[s] == best, "E %d k %d row %d slot %d: %d, want %d", E, k, row, s, top[s], best);
                }
            }
            arena_rewind(&a, m);
        }
    arena_free(&a);
}
END_TEST

Suite *moe_suite(void) {
    Suite *s = suite_create("moe");
    TCase *tc = tcase_create("routing");
    tcase_add_test(tc, test_route_selection_and_weights);
    tcase_add_test(tc, test_eq6_hand_values);
    tcase_add_test(tc, test_aux_pools_modules);
    tcase_add_test(tc, test_stats_hand_routing);
    tcase_add_test(tc, test_option_parsing);
    tcase_add_test(tc, test_topk_matches_selection_sort);
    suite_add_tcase(s, tc);
    return s;
}
