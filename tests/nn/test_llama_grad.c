/* tests/nn/test_llama_grad.c — gradient checks of whole modules in double precision, through the
   same harness as the ops (tests/support/gradcheck.h): a LoRA linear alone, and the whole tiny Llama
   (GQA, RoPE, SwiGLU, answer-only LM head, cross-entropy) with LoRA on all seven targets and with
   full fine-tuning. The model lives in ex->aux and is freed by the case's cleanup. */
#include "tests/support/suites.h"
#include "tests/support/gradcheck.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    LlamaModel m;
    int ids[2 * 6], targets[2 * 6];
    int rope_half;
} ModelCase;

static void model_case_init(OpExample *ex, Rng *rng, const AdapterConfig *acfg, int rope_half,
                            const char *const *names, int n_names) {
    ModelCase *mc = calloc(1, sizeof *mc);
    ModelConfig c = tiny_config(0);
    c.rope_half = rope_half;
    tiny_model(&mc->m, &c, acfg, rng_u64(rng), 0.2);
    for (int i = 0; i < 12; i++) {
        mc->ids[i] = (int)rng_int(rng, (uint64_t)c.vocab_size);
        mc->targets[i] = i % 3 == 0 ? -100 : (int)rng_int(rng, (uint64_t)c.vocab_size);
    }
    ex->aux = mc;
    ex->n_in = 0;
    for (int i = 0; i < n_names; i++) {
        Tensor *t = param_find(&mc->m.ps, names[i]);
        ck_assert_msg(t && t->grad, "%s missing or not trainable", names[i]);
        ex->in[ex->n_in++] = t;
    }
}

static Tensor *model_apply(Tape *t, const OpExample *ex) {
    ModelCase *mc = ex->aux;
    return llama_loss(t, &mc->m, mc->ids, mc->targets, 2, 6, NULL, NULL);
}

static void model_cleanup(OpExample *ex) {
    ModelCase *mc = ex->aux;
    llama_free(&mc->m);
    free(mc);
}

static void lora_model_example(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    static const char *const names[] = { "model.layers.0.self_attn.q_proj.lora_A.weight",
        "model.layers.0.self_attn.k_proj.lora_B.weight", "model.layers.1.mlp.down_proj.lora_A.weight",
        "model.layers.1.self_attn.o_proj.lora_B.weight" };
    model_case_init(ex, rng, &acfg, 0, names, 4);
}

static void lora_half_example(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_Q | LORA_TARGET_V | LORA_TARGET_UP, .rank = 3, .alpha = 6.0, .rslora = 1 };
    static const char *const names[] = { "model.layers.1.self_attn.q_proj.lora_A.weight",
        "model.layers.0.self_attn.v_proj.lora_B.weight", "model.layers.0.mlp.up_proj.lora_A.weight" };
    model_case_init(ex, rng, &acfg, 1, names, 3);
}

static void full_ft_example(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_FULL };
    static const char *const names[] = { "model.layers.0.input_layernorm.weight",
        "model.layers.1.mlp.gate_proj.weight", "model.norm.weight", "lm_head.weight" };
    model_case_init(ex, rng, &acfg, 0, names, 4);
}

/* LoRA linear alone, with the input x checked as well */
typedef struct { ParamStore ps; LoraLinear lin; } LinCase;

static void lora_linear_example(Arena *a, Rng *rng, OpExample *ex) {
    LinCase *lc = calloc(1, sizeof *lc);
    AdapterConfig acfg = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 3, .alpha = 6.0 };
    param_store_init(&lc->ps);
    lora_linear_declare(&lc->lin, &lc->ps, "lin", 5, 4, 3, &acfg, 0);
    param_store_allocate(&lc->ps);
    rng_fill_uniform(rng, lc->lin.weight->data, lc->lin.weight->numel, -1, 1);
    lora_linear_init(&lc->lin, rng);
    rng_fill_uniform(rng, lc->lin.lora_b->data, lc->lin.lora_b->numel, -1, 1);
    ex->aux = lc;
    ex->in[0] = tensor_3d(a, 2, 3, 5, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1, 1);
    ex->in[1] = lc->lin.lora_a;
    ex->in[2] = lc->lin.lora_b;
    ex->n_in = 3;
}

static Tensor *lora_linear_apply(Tape *t, const OpExample *ex) {
    const LinCase *lc = ex->aux;
    return lora_linear_forward(t, &lc->lin, ex->in[0], NULL);
}

static void lora_linear_cleanup(OpExample *ex) {
    LinCase *lc = ex->aux;
    param_store_free(&lc->ps);
    free(lc);
}

static const OpCase MODULES[] = {
    { "lora_linear", lora_linear_example, lora_linear_apply, lora_linear_cleanup },
    { "llama_lora_all_targets", lora_model_example, model_apply, model_cleanup },
    { "llama_lora_qvu_rslora_half_rope", lora_half_example, model_apply, model_cleanup },
    { "llama_full_finetune", full_ft_example, model_apply, model_cleanup },
};

START_TEST(test_module_gradcheck)
{
    ck_assert_msg(gradcheck_expect(&MODULES[_i], 4321 + (uint64_t)_i, 5e-2) > 0, "%s: example has no input with a grad", MODULES[_i].name);
}
END_TEST

Suite *model_grad_suite(void) {
    Suite *s = suite_create("model_grad");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_module_gradcheck, 0, (int)(sizeof MODULES / sizeof MODULES[0]));
    suite_add_tcase(s, tc);
    return s;
}
