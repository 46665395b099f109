/* tests/nn/test_field_experts.c — --experts-from (nn/adapter_experts.h): two plain LoRA adapters
   (different seeds, alpha 16 and 6, rank 2, B != 0) saved in PEFT format become experts 0 and 1
   of a Mo-LoRA adapter with alpha 4: every routed linear must hold A_e = the source's A exactly
   (after the file's F32 rounding) and B_e = B_src · s_src / s_dst (s = alpha / r: ratios 4 and 1.5), so s_dst·B_e·A_e equals
   the source's update; the router keeps its fresh init. The mismatches are errors naming the
   directory and the key: a source per expert (1 given for 2), the rank, the targets, a routed
   (non-LoRA) source. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_experts.h"
#include "nn/adapter_io.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void save_lora(const char *dir, uint64_t seed, double alpha, int targets) {
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = targets, .rank = 2, .alpha = alpha };
    LlamaModel m;
    tiny_model(&m, &c, &a, seed, 0.05);
    Error err;
    ck_assert_msg(adapter_save(&m, dir, "tiny", &err) == STATUS_OK, "%s", err.message);
    llama_free(&m);
}

static void molora(LlamaModel *m, int n, int rank, int targets) {
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_MOLORA, .targets = targets, .rank = rank, .alpha = 4 };
    adapter_moe_defaults(&a);
    a.n_true = n; a.top_k = 1;
    tiny_model(m, &c, &a, 9, 0);
}

/* the source model's tensor NAME (plain LoRA, seed, alpha) */
static const Tensor *source_tensor(LlamaModel *src, uint64_t seed, double alpha, const char *name) {
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = alpha };
    tiny_model(src, &c, &a, seed, 0.05);
    const Tensor *t = param_find(&src->ps, name);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(test_experts_from_values)
{
    char *root = tmp_dir_new(), d0[300], d1[300];
    snprintf(d0, sizeof d0, "%s/a", root);
    snprintf(d1, sizeof d1, "%s/b", root);
    save_lora(d0, 11, 16, LORA_TARGET_ALL);
    save_lora(d1, 12, 6, LORA_TARGET_ALL);
    LlamaModel m;
    molora(&m, 2, 2, LORA_TARGET_ALL);
    const Tensor *router = param_find(&m.ps, "model.layers.1.mlp.up_proj.router.weight");
    real r0 = router->data[3];
    Error err;
    const char *dirs[2] = { d0, d1 };
    ck_assert_msg(adapter_experts_from(&m, dirs, 2, &err) == STATUS_OK, "%s", err.message);
    ck_assert(router->data[3] == r0);
    static const char *const mods[] = { "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj",
                                        "model.layers.1.self_attn.v_proj" };
    const uint64_t seeds[2] = { 11, 12 };
    const double alphas[2] = { 16, 6 }, ratio[2] = { 4.0, 1.5 };   /* (alpha_src / 2) / (4 / 2) */
    for (int e = 0; e < 2; e++)
        for (int j = 0; j < 3; j++) {
            char name[200], src_name[200];
            LlamaModel src;
            snprintf(src_name, sizeof src_name, "%s.lora_A.weight", mods[j]);
            snprintf(name, sizeof name, "%s.lora_A.%d.weight", mods[j], e);
            const Tensor *sa = source_tensor(&src, seeds[e], alphas[e], src_name), *a = param_find(&m.ps, name);
            ck_assert(a && a->numel == sa->numel);
            for (size_t i = 0; i < a->numel; i++)   /* the file holds F32: exact after that rounding */
                ck_assert_msg(a->data[i] == (real)(float)sa->data[i], "%s[%zu] differs from the source", name, i);
            snprintf(src_name, sizeof src_name, "%s.lora_B.weight", mods[j]);
            snprintf(name, sizeof name, "%s.lora_B.%d.weight", mods[j], e);
            const Tensor *sb = param_find(&src.ps, src_name), *b = param_find(&m.ps, name);
            double worst = 0, big = 0;
            for (size_t i = 0; i < b->numel; i++) {
                worst = fmax(worst, fabs((double)b->data[i] - ratio[e] * (double)sb->data[i]));
                big = fmax(big, fabs((double)sb->data[i]));
            }
            ck_assert_msg(big > 0 && worst <= 1e-6 * ratio[e] * big, "%s: B off by %g", name, worst);
            llama_free(&src);
        }
    llama_free(&m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    free(root);
}
END_TEST

static void expect_error(LlamaModel *m, const char *const *dirs, int n, const char *want1, const char *want2) {
    Error err;
    ck_assert_int_eq(adapter_experts_from(m, dirs, n, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, want1) && strstr(err.message, want2), "message '%s' lacks '%s' / '%s'", err.message,
                  want1, want2);
    llama_free(m);
}

START_TEST(test_experts_from_mismatches)
{
    char *root = tmp_dir_new(), d0[300], d1[300], dq[300], dm[300];
    snprintf(d0, sizeof d0, "%s/a", root);
    snprintf(d1, sizeof d1, "%s/b", root);
    snprintf(dq, sizeof dq, "%s/qv", root);
    snprintf(dm, sizeof dm, "%s/molora", root);
    save_lora(d0, 11, 16, LORA_TARGET_ALL);
    save_lora(d1, 12, 16, LORA_TARGET_ALL);
    save_lora(dq, 13, 16, LORA_TARGET_Q | LORA_TARGET_V);
    LlamaModel m;
    molora(&m, 2, 2, LORA_TARGET_ALL);
    Error err;
    ck_assert(adapter_save(&m, dm, "tiny", &err) == STATUS_OK);
    const char *one[1] = { d0 }, *qv[2] = { d0, dq }, *mo[2] = { dm, d1 }, *two[2] = { d0, d1 };
    expect_error(&m, one, 1, "gives 1 adapters", "2 true experts");
    molora(&m, 2, 2, LORA_TARGET_ALL);
    expect_error(&m, qv, 2, "qv/adapter_config.json: target_modules q,v", "adapts q,k,v,o,gate,up,down");
    molora(&m, 2, 2, LORA_TARGET_ALL);
    expect_error(&m, mo, 2, "molora/adapter_config.json", "not plain LoRA");
    molora(&m, 2, 4, LORA_TARGET_ALL);
    expect_error(&m, two, 2, "a/adapter_config.json: \"r\" 2", "rank 4");
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    free(root);
}
END_TEST

Suite *field_experts_suite(void) {
    Suite *s = suite_create("field_experts");
    TCase *tc = tcase_create("experts_from");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_experts_from_values);
    tcase_add_test(tc, test_experts_from_mismatches);
    suite_add_tcase(s, tc);
    return s;
}
