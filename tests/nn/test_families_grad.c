/* tests/nn/test_families_grad.c — gradient checks (double build: finite differences, the harness
   of tests/support/gradcheck.h) of the model families' additions inside whole models:
   - full fine-tuning of a Llama model with attention_bias (q/k/v/o biases) and llama3
     rope_scaling: the biases are trainable and their gradients right (o's bias sits on the
     fused residual path);
   - LoRA and AdaMoE on a Qwen2-style model (q/k/v biases, frozen): the adapters' gradients flow
     through the biased projections;
   and the KV-cache decoder on both against the full forward; and a Qwen2 model upcycled to an
   MoE FFN (moe-ffn --upcycle: every expert a copy of the dense FFN, top-2 renormalised, no
   nulls) gives the dense model's loss, biases included. */
#include "tests/support/suites.h"
#include "tests/support/gradcheck.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    LlamaModel m;
    int ids[2 * 8], targets[2 * 8];
} FamCase;

/* tiny_config with HF rows; qwen2: q/k/v biases; else q/k/v/o biases and llama3 scaling
   (head_dim 6, theta 500, original context 64: the wavelengths 6.3, 49.9 and 395 fall in all
   three regimes: < 16 unchanged, 16..64 smoothed, > 64 divided by the factor) */
static ModelConfig family_config(int qwen2) {
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    c.rope_theta = 500;
    c.qwen2 = qwen2;
    c.bias_targets = LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V | (qwen2 ? 0 : LORA_TARGET_O);
    if (!qwen2) {
        c.rope_scaling = ROPE_SCALING_LLAMA3;
        c.rope_factor = 8; c.rope_low_freq = 1; c.rope_high_freq = 4; c.rope_orig_max_pos = 64;
    }
    return c;
}

static void fam_case_init(OpExample *ex, Rng *rng, const AdapterConfig *acfg, int qwen2,
                          const char *const *names, int n_names) {
    FamCase *fc = calloc(1, sizeof *fc);
    ModelConfig c = family_config(qwen2);
    tiny_model(&fc->m, &c, acfg, rng_u64(rng), 0.2);
    for (int i = 0; i < 16; i++) {
        fc->ids[i] = (int)rng_int(rng, (uint64_t)c.vocab_size);
        fc->targets[i] = i % 3 == 0 ? -100 : (int)rng_int(rng, (uint64_t)c.vocab_size);
    }
    ex->aux = fc;
    ex->n_in = 0;
    for (int i = 0; i < n_names; i++) {
        Tensor *t = param_find(&fc->m.ps, names[i]);
        ck_assert_msg(t && t->grad, "%s missing or not trainable", names[i]);
        ex->in[ex->n_in++] = t;
    }
}

static Tensor *fam_apply(Tape *t, const OpExample *ex) {
    FamCase *fc = ex->aux;
    return llama_loss(t, &fc->m, fc->ids, fc->targets, 2, 8, NULL, NULL);
}

static void fam_cleanup(OpExample *ex) {
    FamCase *fc = ex->aux;
    llama_free(&fc->m);
    free(fc);
}

static void full_bias_example(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_FULL };
    static const char *const names[] = { "model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.k_proj.bias",
        "model.layers.0.self_attn.v_proj.bias", "model.layers.1.self_attn.o_proj.bias" };
    fam_case_init(ex, rng, &acfg, 0, names, 4);
}

static void qwen2_lora_example(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    static const char *const names[] = { "model.layers.0.self_attn.q_proj.lora_A.weight",
        "model.layers.1.self_attn.k_proj.lora_B.weight", "model.layers.0.self_attn.v_proj.lora_A.weight" };
    fam_case_init(ex, rng, &acfg, 1, names, 3);
}

static void qwen2_adamoe_example(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_Q | LORA_TARGET_V | LORA_TARGET_O,
                           .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 2; acfg.top_k = 2; acfg.aux_coef = 0.05;
    static const char *const names[] = { "model.layers.0.self_attn.q_proj.lora_A.1.weight",
        "model.layers.1.self_attn.v_proj.lora_B.0.weight", "model.layers.0.self_attn.q_proj.router.weight" };
    fam_case_init(ex, rng, &acfg, 1, names, 3);
}

static const OpCase MODULES[] = {
    { "llama3_attention_bias_full_finetune", full_bias_example, fam_apply, fam_cleanup },
    { "qwen2_lora_all_targets", qwen2_lora_example, fam_apply, fam_cleanup },
    { "qwen2_adamoe_q_v_o", qwen2_adamoe_example, fam_apply, fam_cleanup },
};

START_TEST(test_family_gradcheck)
{
    ck_assert_msg(gradcheck_expect(&MODULES[_i], 777 + (uint64_t)_i, 5e-2) > 0, "%s: nothing checked", MODULES[_i].name);
}
END_TEST

/* decode_step with biases and scaled RoPE equals the full forward at every position */
START_TEST(test_family_decode_matches_full)
{
    for (int qwen2 = 0; qwen2 < 2; qwen2++) {
        ModelConfig c = family_config(qwen2);
        AdapterConfig acfg = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
        LlamaModel m;
        tiny_model(&m, &c, &acfg, 11 + (uint64_t)qwen2, 0.2);
        int ids[16];
        for (int i = 0; i < 16; i++) ids[i] = (i * 7 + 3) % c.vocab_size;
        double d = decode_vs_full(&m, ids, 16);
        ck_assert_msg(d < (sizeof(real) == 8 ? 1e-12 : 1e-5), "qwen2 %d: decode vs full %g", qwen2, d);
        llama_free(&m);
    }
}
END_TEST

/* mean CE of a fixed batch (no grad) */
static double fixed_loss(const LlamaModel *m) {
    Arena a;
    Tape t;
    arena_init(&a, 1 << 16);
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    int ids[16], tg[16];
    for (int i = 0; i < 16; i++) ids[i] = (i * 11 + 5) % m->cfg.vocab_size, tg[i] = (i * 7 + 1) % m->cfg.vocab_size;
    double l = (double)llama_loss(&t, m, ids, tg, 2, 8, NULL, NULL)->data[0];
    tape_free(&t);
    arena_free(&a);
    return l;
}

START_TEST(test_family_upcycled_qwen2_keeps_biases)
{
    ModelConfig c = family_config(1);
    AdapterConfig none = { .kind = ADAPTER_NONE }, up = { .kind = ADAPTER_MOE_FFN };
    adapter_moe_defaults(&up);
    up.upcycle = 4; up.n_null = 0; up.top_k = 2; up.targets = 0; up.rank = 0; up.aux = MOE_AUX_NONE;
    LlamaModel dense, moe;
    tiny_model(&dense, &c, &none, 21, 0);
    tiny_model(&moe, &c, &up, 22, 0);
    int copied = 0;
    for (int i = 0; i < dense.ps.n; i++) {   /* the dense weights (biases too) into the upcycled model */
        const Tensor *src = dense.ps.params[i];
        Tensor *dst = param_find(&moe.ps, src->name);
        ck_assert_msg(dst && dst->numel == src->numel, "%s", src->name);
        memcpy(dst->data, src->data, src->numel * sizeof(real));
        copied += strstr(src->name, ".bias") != NULL;
    }
    ck_assert_int_eq(copied, 3 * c.n_layers);
    double ld = fixed_loss(&dense), lu = fixed_loss(&moe);
    ck_assert_msg(fabs(lu - ld) <= 1e-5 * fabs(ld), "upcycled %.9g vs dense %.9g", lu, ld);
    for (int i = 0; i < moe.ps.n; i++)   /* and the biases matter */
        if (strstr(moe.ps.params[i]->name, "v_proj.bias")) moe.ps.params[i]->data[0] += 1;
    ck_assert(fabs(fixed_loss(&moe) - ld) > 1e-6 * fabs(ld));
    llama_free(&dense);
    llama_free(&moe);
}
END_TEST

Suite *families_grad_suite(void) {
    Suite *s = suite_create("families_grad");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_family_gradcheck, 0, (int)(sizeof MODULES / sizeof MODULES[0]));
    tcase_add_test(tc, test_family_decode_matches_full);
    tcase_add_test(tc, test_family_upcycled_qwen2_keeps_biases);
    suite_add_tcase(s, tc);
    return s;
}
