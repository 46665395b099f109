/* tests/nn/test_hf_config.c — config.json of the model families (nn/hf_config.c) and Llama 3's
   RoPE frequencies (rope_inv_freq):
   - rope_inv_freq against values worked by hand from the formula of Llama 3.1 (Meta's
     apply_scaling; transformers' _compute_llama3_parameters) in all three regimes;
   - the real config.json files in ../shared/data/configs (skipped when absent) read with the
     values their model cards state (PROVENANCE.md);
   - edited copies of them: every unsupported key refused with a message naming it, and the
     spellings of "no scaling" accepted;
   - loading into bf16 storage (--base-dtype bf16) from F32 and BF16 files gives the rounded values. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/config_edit.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "cli/make_tiny.h"
#include "tensor/half.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_llama3_inv_freq_by_hand)
{
    /* theta 100, D 6, factor 8, low 1, high 4, original 64: wavelengths 2π·100^(2j/6) = 6.28
       (< 64/4: unchanged), 29.16 (between 16 and 64: s = (64/29.16 - 1)/3 = 0.39816,
       (1 - s)·0.21544/8 + s·0.21544 = 0.10199), 135.4 (> 64: 0.046416/8) */
    ModelConfig c = { .head_dim = 6, .rope_theta = 100, .rope_scaling = ROPE_SCALING_LLAMA3, .rope_factor = 8,
                      .rope_low_freq = 1, .rope_high_freq = 4, .rope_orig_max_pos = 64 };
    double f[3], want[3] = { 1.0, 0.10198935907779744, 0.005801986042015975 };
    rope_inv_freq(&c, f);
    for (int j = 0; j < 3; j++) ck_assert_msg(fabs(f[j] - want[j]) <= 1e-15 * want[j], "j %d: %.17g vs %.17g", j, f[j], want[j]);
    /* Llama 3.1-8B: theta 500000, D 128, factor 8, low 1, high 4, original 8192 */
    ModelConfig l31 = { .head_dim = 128, .rope_theta = 500000, .rope_scaling = ROPE_SCALING_LLAMA3, .rope_factor = 8,
                        .rope_low_freq = 1, .rope_high_freq = 4, .rope_orig_max_pos = 8192 };
    double g[64];
    rope_inv_freq(&l31, g);
    static const int js[5] = { 0, 20, 30, 40, 63 };
    static const double wl31[5] = { 1.0, 0.016560440080994446, 0.0013718935677611381, 3.428102195952591e-05,
                                    3.068925988914511e-07 };
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fabs(g[js[i]] - wl31[i]) <= 1e-14 * wl31[i], "j %d: %.17g vs %.17g", js[i], g[js[i]], wl31[i]);
    l31.rope_scaling = ROPE_SCALING_NONE;   /* plain RoPE: theta^(-2j/D) */
    rope_inv_freq(&l31, g);
    ck_assert(fabs(g[40] - 0.0002742481756762073) <= 1e-18);
}
END_TEST

#define CONFIGS "../shared/data/configs"

/* the real file's config read from a copy in a temp dir after the edits (NULL = none) */
static Status read_edited(const char *model, const char *const *edits, ModelConfig *c, Error *err) {
    char *dir = config_edit_copy(CONFIGS, model, edits);
    Status s = hf_read_config(dir, c, err);
    config_edit_free(dir);
    return s;
}

START_TEST(test_real_configs_read)
{
    if (!config_edit_available(CONFIGS)) return;
    ModelConfig c;
    Error err;
    ck_assert_msg(read_edited("Llama-3.2-1B", NULL, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.dim == 2048 && c.n_layers == 16 && c.n_heads == 32 && c.n_kv_heads == 8 && c.head_dim == 64);
    ck_assert(c.hidden_dim == 8192 && c.vocab_size == 128256 && c.max_seq_len == 131072 && c.tied);
    ck_assert(c.rope_scaling == ROPE_SCALING_LLAMA3 && c.rope_factor == 32 && c.rope_low_freq == 1 &&
              c.rope_high_freq == 4 && c.rope_orig_max_pos == 8192 && c.rope_theta == 500000);
    ck_assert(c.bos_id == 128000 && c.eos_id == 128001 && c.bias_targets == 0 && c.norm_eps == 1e-5);
    ck_assert_msg(read_edited("Llama-3.1-8B-Instruct", NULL, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.n_eos == 3 && c.eos_ids[0] == 128001 && c.eos_ids[1] == 128008 && c.eos_ids[2] == 128009);
    ck_assert(model_is_eos(&c, 128009) && !model_is_eos(&c, 2) && !c.tied && c.rope_factor == 8);
    ck_assert_msg(read_edited("Qwen2.5-0.5B", NULL, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.qwen2 && c.bias_targets == (LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V) && c.tied);
    ck_assert(c.dim == 896 && c.n_heads == 14 && c.n_kv_heads == 2 && c.head_dim == 64 && c.n_layers == 24);
    ck_assert(c.norm_eps == 1e-6 && c.rope_theta == 1e6 && c.max_seq_len == 32768 && c.vocab_size == 151936);
    ck_assert_msg(read_edited("SmolLM2-135M-Instruct", NULL, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.dim == 576 && c.n_heads == 9 && c.n_kv_heads == 3 && c.n_layers == 30 && c.rope_theta == 100000);
    ck_assert(c.rope_scaling == ROPE_SCALING_NONE && c.tied && c.max_seq_len == 8192);
    /* Mistral-7B-v0.1: sliding_window 4096 < max_position_embeddings 32768 limits sequences */
    ck_assert_msg(read_edited("Mistral-7B-v0.1", NULL, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.max_seq_len == 4096 && c.n_kv_heads == 8 && !c.tied);
    ck_assert_msg(read_edited("Mixtral-8x7B-v0.1", NULL, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.n_experts == 8 && c.experts_per_tok == 2 && c.max_seq_len == 32768 && c.rope_theta == 1e6);
}
END_TEST

typedef struct {
    const char *model;
    const char *edits[5];       /* pairs: text to find, replacement (NULL ends) */
    const char *key;            /* the error must name it */
} Refusal;

static const Refusal REFUSALS[] = {
    { "Llama-3.2-1B", { "\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"" }, "yarn" },
    { "Llama-3.2-1B", { "\"rope_type\": \"llama3\"", "\"type\": \"linear\"" }, "linear" },
    { "Llama-3.1-8B-Instruct", { "\"rope_type\": \"llama3\"", "\"rope_type\": \"dynamic\"" }, "dynamic" },
    { "Llama-3.2-1B", { "\"factor\": 32.0,", "" }, "factor" },
    { "Llama-3.2-1B", { "\"original_max_position_embeddings\": 8192", "\"original_max_position_embeddings\": null" },
      "original_max_position_embeddings" },
    { "Llama-3.2-1B", { "\"mlp_bias\": false", "\"mlp_bias\": true" }, "mlp_bias" },
    { "Llama-3.2-1B", { "\"mlp_bias\": false", "\"partial_rotary_factor\": 0.5" }, "partial_rotary_factor" },
    { "Qwen2.5-0.5B", { "\"use_sliding_window\": false", "\"use_sliding_window\": true" }, "use_sliding_window" },
    { "Qwen2.5-0.5B", { "\"use_mrope\": false", "\"use_mrope\": true" }, "use_mrope" },
    { "Qwen2.5-0.5B", { "\"model_type\": \"qwen2\"", "\"model_type\": \"qwen2_moe\"" }, "qwen2_moe" },
    { "SmolLM2-135M-Instruct", { "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"" }, "hidden_act" },
    { "SmolLM2-135M-Instruct", { "\"attention_dropout\": 0.0", "\"attention_dropout\": 0.1" }, "attention_dropout" },
    { "SmolLM2-135M-Instruct", { "\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": \"1e-5\"" }, "rms_norm_eps" },
    { "Mistral-7B-v0.1", { "\"model_type\": \"mistral\"", "\"model_type\": \"mistral\", \"attention_bias\": true" },
      "attention_bias" },
    { "Llama-2-7b-hf", { "\"pretraining_tp\": 1", "\"quantization_config\": {\"bits\": 4}" }, "quantization_config" },
    { "Llama-2-7b-hf", { "\"eos_token_id\": 2", "\"eos_token_id\": \"</s>\"" }, "eos_token_id" },
};
#define N_REFUSALS ((int)(sizeof REFUSALS / sizeof REFUSALS[0]))

START_TEST(test_real_config_refusals)
{
    if (!config_edit_available(CONFIGS)) return;
    const Refusal *r = &REFUSALS[_i];
    ModelConfig c;
    Error err;
    ck_assert_int_eq(read_edited(r->model, r->edits, &c, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, r->key) && strstr(err.message, "config.json"),
                  "%s edited: the error \"%s\" does not name %s", r->model, err.message, r->key);
}
END_TEST

/* null, {} and rope_type "default" all mean no scaling; the older "type" key reads as rope_type */
START_TEST(test_real_config_no_scaling_spellings)
{
    if (!config_edit_available(CONFIGS)) return;
    static const char *const spell[4] = { "null", "{}", "{\"rope_type\": \"default\"}", "{\"type\": \"default\"}" };
    const char *find = "\"rope_scaling\": null";
    for (int i = 0; i < 4; i++) {
        char repl[96];
        snprintf(repl, sizeof repl, "\"rope_scaling\": %s", spell[i]);
        const char *edits[3] = { find, repl, NULL };
        ModelConfig c;
        Error err;
        ck_assert_msg(read_edited("SmolLM2-135M-Instruct", edits, &c, &err) == STATUS_OK, "%s: %s", spell[i], err.message);
        ck_assert_int_eq(c.rope_scaling, ROPE_SCALING_NONE);
    }
    const char *older[3] = { "\"rope_type\": \"llama3\"", "\"type\": \"llama3\"", NULL };
    ModelConfig c;
    Error err;
    ck_assert_msg(read_edited("Llama-3.2-1B", older, &c, &err) == STATUS_OK, "%s", err.message);
    ck_assert(c.rope_scaling == ROPE_SCALING_LLAMA3 && c.rope_factor == 32);
}
END_TEST

/* a model loaded into bf16 storage holds exactly the rounded f32 values, from an F32 file (rounded
   while reading) and from a BF16 file (copied) alike */
START_TEST(test_load_into_bf16_storage)
{
    char *dir = tmp_dir_new(), p32[300], p16[300];
    snprintf(p32, sizeof p32, "%s/f32", dir);
    snprintf(p16, sizeof p16, "%s/bf16", dir);
    MakeTinySpec s;
    Error err;
    make_tiny_defaults(&s);
    s.arch = "qwen2";
    s.out = p32;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
    s.out = p16;
    s.dtype = "bf16";
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
    AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel ref, a, b;
    ck_assert(hf_load(&ref, p32, &none, 0, &err) == STATUS_OK);
    ck_assert(hf_load(&a, p32, &none, 1, &err) == STATUS_OK);
    ck_assert(hf_load(&b, p16, &none, 1, &err) == STATUS_OK);
    int n16 = 0;
    for (int i = 0; i < ref.ps.n; i++) {
        const Tensor *r = ref.ps.params[i], *x = a.ps.params[i], *y = b.ps.params[i];
        ck_assert(!strcmp(r->name, x->name) && !strcmp(r->name, y->name) && !x->bf16 == !y->bf16);
        for (size_t j = 0; j < r->numel; j++) {
            uint16_t want = f32_to_bf16((float)r->data[j]);
            if (x->bf16) ck_assert(x->bf16[j] == want && y->bf16[j] == want);
            else ck_assert(x->data[j] == r->data[j] && y->data[j] == (real)bf16_to_f32(want));   /* 1-D: real */
        }
        n16 += x->bf16 != NULL;
    }
    ck_assert_int_gt(n16, 4);
    llama_free(&ref);
    llama_free(&a);
    llama_free(&b);
    config_edit_free(dir);
}
END_TEST

Suite *hf_config_suite(void) {
    Suite *s = suite_create("hf_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_llama3_inv_freq_by_hand);
    tcase_add_test(tc, test_real_configs_read);
    tcase_add_loop_test(tc, test_real_config_refusals, 0, N_REFUSALS);
    tcase_add_test(tc, test_real_config_no_scaling_spellings);
    tcase_add_test(tc, test_load_into_bf16_storage);
    suite_add_tcase(s, tc);
    return s;
}
