/* tests/nn/test_moe_ffn_adapter.c — moe-ffn adapters without Python: gate2 initialisation (copy tiles the
   router rows, zeros), adapter save → reload round trips (Mixtral and upcycled), CLI-level
   validation, and dense → MoE upcycling: with zero LoRA B every expert is the dense FFN, so the
   renormalised mixture equals the dense model (top-1: weight exactly 1 → bitwise equal logits;
   top-2: the two weights sum to 1 up to rounding). */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "cli/make_tiny.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int IDS[2 * 7] = { 1, 5, 9, 14, 3, 22, 7, 1, 30, 2, 2, 19, 8, 11 };

static double max_rel_diff(const real *a, const real *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i])));
    return d;
}

static void tiny_mixtral_spec(MakeTinySpec *s, const char *gate2, int m, int k) {
    make_tiny_defaults(s);
    s->format = "hf"; s->arch = "mixtral"; s->model_experts = 4; s->model_top_k = 2;
    s->dim = 16; s->layers = 2; s->heads = 4; s->kv_heads = 2; s->hidden = 24; s->vocab = 32; s->seq_len = 16;
    static char null_s[16], top_k_s[16];   /* the spec's list options are strings ("3" or "2,4") */
    snprintf(null_s, sizeof null_s, "%d", m);
    snprintf(top_k_s, sizeof top_k_s, "%d", k);
    s->ad.adapter = "moe-ffn"; s->ad.null_s = null_s; s->ad.top_k_s = top_k_s; s->ad.gate2_init = gate2;
    s->ad.targets = "q,gate,up,down"; s->ad.rank_s = "2"; s->ad.alpha = 4; s->nonzero_b = 1; s->seed = 7;
    s->adapter_out = "unused";   /* builds the adapter */
}

START_TEST(test_gate2_copy_tiles_router)
{
    MakeTinySpec s;
    tiny_mixtral_spec(&s, "copy", 6, 4);   /* m = 6 > n = 4: rows 4, 5 wrap to gate rows 0, 1 */
    LlamaModel m;
    Error err;
    ck_assert_msg(make_tiny_build(&m, &s, &err) == STATUS_OK, "%s", err.message);
    for (int l = 0; l < 2; l++) {
        const MoeFfn *f = m.layers[l].ffn;
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(f->gate2);
        ck_assert_int_eq(f->gate2->shape[0], 6);
        for (int j = 0; j < 6; j++)
            for (int c = 0; c < 16; c++)
                ck_assert(f->gate2->data[j * 16 + c] == f->gate->data[(j % 4) * 16 + c]);
    }
    llama_free(&m);
    tiny_mixtral_spec(&s, "zeros", 2, 3);
    ck_assert_msg(make_tiny_build(&m, &s, &err) == STATUS_OK, "%s", err.message);
    for (size_t i = 0; i < m.layers[1].ffn->gate2->numel; i++) ck_assert(m.layers[1].ffn->gate2->data[i] == 0);
    llama_free(&m);
}
END_TEST

/* writes spec's model + adapter into a temp dir, reloads both, compares logits with the built model */
static void roundtrip(MakeTinySpec *s, double tol) {
    char *dir = tmp_dir_new(), mp[128], ap[128], cmd[160];
    snprintf(mp, sizeof mp, "%s/model", dir);
    snprintf(ap, sizeof ap, "%s/adapter", dir);
    s->out = mp;
    s->adapter_out = ap;
    LlamaModel a, b;
    Error err;
    ck_assert_msg(make_tiny_build(&a, s, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(hf_write(&a, mp, SAFE_F32, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(adapter_save(&a, ap, mp, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(model_load_with_adapter(&b, mp, ap, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(b.acfg.kind, ADAPTER_MOE_FFN);
    ck_assert_int_eq(b.acfg.n_null, a.acfg.n_null);
    ck_assert_int_eq(b.acfg.upcycle, a.acfg.upcycle);
    ck_assert_int_eq(b.ps.n, a.ps.n);
    real *la = tiny_logits(&a, IDS, 2, 7), *lb = tiny_logits(&b, IDS, 2, 7);
    double d = max_rel_diff(lb, la, (size_t)14 * a.cfg.vocab_size);
    ck_assert_msg(d <= tol, "reloaded logits differ by %g", d);
    free(la);
    free(lb);
    llama_free(&a);
    llama_free(&b);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

START_TEST(test_moe_ffn_save_reload)
{
    MakeTinySpec s;
    tiny_mixtral_spec(&s, "random", 3, 3);
    roundtrip(&s, sizeof(real) == 4 ? 0 : 1e-5);   /* double build: parameters pass through f32 */
}
END_TEST

START_TEST(test_upcycle_save_reload)
{
    MakeTinySpec s;
    tiny_mixtral_spec(&s, "random", 2, 3);
    s.arch = "llama";
    s.ad.upcycle = 4;
    s.ad.targets = "q,v,gate,up,down";
    roundtrip(&s, sizeof(real) == 4 ? 0 : 1e-5);
}
END_TEST

/* dense model vs the same base upcycled to 4 experts with B = 0 */
static double upcycle_vs_dense(int top_k, int n_null, MoeGate2Init g2) {
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    AdapterConfig none = { 0 }, up = { 0 };
    up.kind = ADAPTER_MOE_FFN;
    adapter_moe_defaults(&up);
    up.upcycle = up.n_true = 4;
    up.n_null = n_null;
    up.top_k = top_k;
    up.gate2_init = g2;
    up.targets = LORA_TARGET_GATE | LORA_TARGET_UP | LORA_TARGET_DOWN | LORA_TARGET_Q;
    up.rank = 2;
    up.alpha = 4;
    LlamaModel d, u;
    tiny_model(&d, &c, &none, 5, 0);
    tiny_model(&u, &c, &up, 5, 0);
    ck_assert_ptr_nonnull(u.layers[0].ffn);
    ck_assert_ptr_null(d.layers[0].ffn);
    ck_assert(u.layers[0].ffn->w1[3].weight == u.layers[0].gate.weight);   /* experts share the dense FFN */
    real *ld = tiny_logits(&d, IDS, 2, 7), *lu = tiny_logits(&u, IDS, 2, 7);
    double diff = max_rel_diff(lu, ld, (size_t)14 * c.vocab_size);
    MoeSummary ms;
    moe_summary_model(&u.moe->stats, &ms);
    ck_assert(ms.tokens > 0);
    free(ld);
    free(lu);
    llama_free(&d);
    llama_free(&u);
    return diff;
}

START_TEST(test_upcycle_zero_b_equals_dense)
{
    double d1 = upcycle_vs_dense(1, 0, MOE_GATE2_COPY), d2 = upcycle_vs_dense(2, 0, MOE_GATE2_COPY);
    ck_assert_msg(d1 == 0, "top-1 upcycled model differs from the dense one by %g", d1);
    ck_assert_msg(d2 <= 1e-5, "top-2 upcycled model differs from the dense one by %g", d2);
    /* gate2 copy: each null clone ties with its true expert and loses the tie, so every token
       still selects a true expert (true-only renormalisation: weights 1) */
    double d3 = upcycle_vs_dense(2, 4, MOE_GATE2_COPY);
    ck_assert_msg(d3 <= 1e-5, "copy-initialised nulls changed the output by %g", d3);
}
END_TEST

/* the comparison can fail: random null routers make some tokens skip the FFN */
START_TEST(test_upcycle_with_nulls_differs)
{
    ck_assert(upcycle_vs_dense(2, 4, MOE_GATE2_RANDOM) > 1e-4);
}
END_TEST

START_TEST(test_moe_ffn_model_checks)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { 0 };
    a.kind = ADAPTER_MOE_FFN;
    adapter_moe_defaults(&a);
    Error err;
    ck_assert_int_eq(moe_ffn_check_model(&c, &a, "m", &err), STATUS_INVALID);   /* dense without --upcycle */
    ck_assert_ptr_nonnull(strstr(err.message, "--upcycle"));
    a.upcycle = 4;
    ck_assert_int_eq(moe_ffn_check_model(&c, &a, "m", &err), STATUS_OK);
    c.n_experts = 4;
    c.experts_per_tok = 2;
    ck_assert_int_eq(moe_ffn_check_model(&c, &a, "m", &err), STATUS_INVALID);   /* upcycle a Mixtral */
    a.upcycle = 0;
    a.top_k = 9;
    ck_assert_int_eq(moe_ffn_check_model(&c, &a, "m", &err), STATUS_INVALID);   /* 4 + 4 experts < 9 */
    a.kind = ADAPTER_ADAMOE;
    ck_assert_int_eq(moe_ffn_check_model(&c, &a, "m", &err), STATUS_INVALID);
    a.kind = ADAPTER_LORA;
    ck_assert_int_eq(moe_ffn_options(&a, NULL, 2, "copy", &err), STATUS_INVALID);  /* --upcycle needs moe-ffn */
    a.kind = ADAPTER_MOE_FFN;
    ck_assert_int_eq(moe_ffn_options(&a, NULL, 0, "tiled", &err), STATUS_INVALID);
}
END_TEST

Suite *mixtral_moe_suite(void) {
    Suite *s = suite_create("mixtral_moe");
    TCase *tc = tcase_create("moe_ffn");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gate2_copy_tiles_router);
    tcase_add_test(tc, test_moe_ffn_save_reload);
    tcase_add_test(tc, test_upcycle_save_reload);
    tcase_add_test(tc, test_upcycle_zero_b_equals_dense);
    tcase_add_test(tc, test_upcycle_with_nulls_differs);
    tcase_add_test(tc, test_moe_ffn_model_checks);
    suite_add_tcase(s, tc);
    return s;
}
