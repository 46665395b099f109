/* tests/nn/test_real_configs.c — every real config.json of ../shared/data/configs (Llama 2,
   Llama 3.1 / 3.2, Mistral, Mixtral, Qwen2.5, SmolLM2; skipped when absent) becomes a working
   model: the file is copied with its width and depth scaled down (hidden_size, head_dim,
   intermediate_size, layers, heads with the same query-per-kv-head ratio) and every other key
   kept as it is (vocabulary, rope_theta, rope_scaling, biases, eos lists, sliding_window, ...).
   Random weights are written beside it (hf_write_weights), the directory is loaded as the CLI
   does with a LoRA adapter on every linear, and one AdamW step must lower the loss of its batch;
   the KV-cache decoder must give the full forward's logits. A checkpoint that disagrees with its
   config (an unannounced or missing bias) is refused, naming the tensor. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/config_edit.h"
#include "nn/checkpoint.h"
#include "optim/adamw.h"
#include "tensor/check.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIGS "../shared/data/configs"
#define MAX_MODELS 32

/* the model folders of CONFIGS, sorted */
static int list_models(char names[][64]) {
    DIR *d = opendir(CONFIGS);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) && n < MAX_MODELS;)
        if (e->d_name[0] != '.' && strlen(e->d_name) < 64) memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
    if (d) closedir(d);
    qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* CONFIGS/model/config.json scaled down (8-wide heads, 2 layers, at most 2 kv heads) in a temp dir */
static char *scaled_copy(const char *model, ModelConfig *orig) {
    Error err;
    char *dir = config_edit_copy(CONFIGS, model, NULL);
    ck_assert_msg(hf_read_config(dir, orig, &err) == STATUS_OK, "%s: %s", model, err.message);
    char path[300];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    char *text = xcalloc(1 << 16, 1);
    ck_assert(f && fread(text, 1, (1 << 16) - 1, f) > 0);
    fclose(f);
    int group = orig->n_heads / orig->n_kv_heads, kv = orig->n_kv_heads < 2 ? orig->n_kv_heads : 2;
    int heads = kv * group, dim = heads * 8;
    ck_assert(config_set_number(&text, "hidden_size", dim) && config_set_number(&text, "num_hidden_layers", 2));
    ck_assert(config_set_number(&text, "intermediate_size", 3 * dim) && config_set_number(&text, "num_attention_heads", heads));
    config_set_number(&text, "num_key_value_heads", kv);
    config_set_number(&text, "head_dim", 8);
    f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    free(text);
    return dir;
}

/* every key other than width and depth kept as the original config says */
static void check_same_kind(const char *model, const ModelConfig *o, const ModelConfig *c) {
    ck_assert_msg(c->head_dim == 8 && c->n_layers == 2 && c->n_heads / c->n_kv_heads == o->n_heads / o->n_kv_heads, "%s", model);
    ck_assert(c->vocab_size == o->vocab_size && c->max_seq_len == o->max_seq_len && c->tied == o->tied);
    ck_assert(c->rope_theta == o->rope_theta && c->norm_eps == o->norm_eps && c->rope_scaling == o->rope_scaling);
    ck_assert(c->rope_factor == o->rope_factor && c->rope_orig_max_pos == o->rope_orig_max_pos);
    ck_assert(c->bias_targets == o->bias_targets && c->qwen2 == o->qwen2 && c->n_experts == o->n_experts);
    ck_assert(c->eos_id == o->eos_id && c->n_eos == o->n_eos && c->bos_id == o->bos_id);
}

/* random weights for the config in dir, written beside it */
static void write_random_weights(const char *dir, const ModelConfig *c, uint64_t seed) {
    LlamaModel w;
    Error err;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    llama_declare(&w, c, &none, 0);
    llama_init_base_fan_in(&w, seed);
    ck_assert_msg(hf_write_weights(&w, dir, SAFE_F32, &err) == STATUS_OK, "%s", err.message);
    llama_free(&w);
}

/* loss of a fixed batch (no grad) */
static double batch_loss(LlamaModel *m, const int *ids, const int *tg, int B, int T) {
    Arena a;
    Tape t;
    arena_init(&a, 1 << 20);
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    double l = llama_loss(&t, m, ids, tg, B, T, NULL, NULL)->data[0];
    tape_free(&t);
    arena_free(&a);
    return l;
}

/* one AdamW step on the batch; returns the loss before it */
static double train_step(LlamaModel *m, const int *ids, const int *tg, int B, int T) {
    Arena a;
    Tape t;
    AdamW opt;
    AdamWConfig oc = { 0.9, 0.999, 1e-8, 0.0 };
    arena_init(&a, 1 << 20);
    tape_init(&t, &a);
    param_store_zero_grad(&m->ps);
    Tensor *loss = llama_loss(&t, m, ids, tg, B, T, NULL, NULL);
    double l = loss->data[0];
    tape_backward(&t, loss);
    adamw_init(&opt, &oc, m->ps.train_numel);
    adamw_step(&opt, m->ps.train, m->ps.train_grad, 1e-2);
    adamw_free(&opt);
    tape_free(&t);
    arena_free(&a);
    return l;
}

START_TEST(test_every_real_config_trains)
{
    if (!config_edit_available(CONFIGS)) return;
    char names[MAX_MODELS][64];
    int n = list_models(names);
    ck_assert_int_ge(n, 8);
    for (int k = 0; k < n; k++) {
        ModelConfig orig, c;
        Error err;
        char *dir = scaled_copy(names[k], &orig);
        ck_assert_msg(hf_read_config(dir, &c, &err) == STATUS_OK, "%s scaled: %s", names[k], err.message);
        check_same_kind(names[k], &orig, &c);
        write_random_weights(dir, &c, 100 + (uint64_t)k);
        AdapterConfig ac = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8 };
        LlamaModel m;
        ck_assert_msg(hf_load(&m, dir, &ac, 0, &err) == STATUS_OK, "%s: %s", names[k], err.message);
        llama_init_adapter(&m, 7);
        Rng r = rng_derive(k, 9);
        int ids[2 * 16], tg[2 * 16];
        for (int i = 0; i < 32; i++) ids[i] = (int)rng_int(&r, (uint64_t)c.vocab_size);
        for (int i = 0; i < 32; i++) tg[i] = i % 16 == 15 ? -100 : ids[i + 1];
        double before = train_step(&m, ids, tg, 2, 16), after = batch_loss(&m, ids, tg, 2, 16);
        ck_assert_msg(isfinite(before) && after < before, "%s: loss %g -> %g after one step", names[k], before, after);
        double dv = decode_vs_full(&m, ids, 16);
        ck_assert_msg(dv < 1e-3, "%s: KV-cache logits differ from the full forward by %g", names[k], dv);
        if (getenv("PARITY_VERBOSE"))
            printf("real config %-24s dim %d heads %d/%d vocab %d: loss %.4f -> %.4f, decode %.1e\n", names[k], c.dim,
                   c.n_heads, c.n_kv_heads, c.vocab_size, before, after, dv);
        llama_free(&m);
        config_edit_free(dir);
    }
}
END_TEST

/* weights with q/k/v biases under a config without them (and the reverse) */
START_TEST(test_checkpoint_config_disagree)
{
    if (!config_edit_available(CONFIGS)) return;
    ModelConfig orig, c;
    Error err;
    char *dir = scaled_copy("Qwen2.5-0.5B", &orig);
    ck_assert(hf_read_config(dir, &c, &err) == STATUS_OK);
    write_random_weights(dir, &c, 5);
    const char *as_llama[3] = { "\"model_type\": \"qwen2\"", "\"model_type\": \"llama\"", NULL };
    char *cfg2 = config_edit_copy(dir, ".", as_llama);   /* dir/./config.json edited into a new dir */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s/model.safetensors' '%s/'", dir, cfg2);
    ck_assert_int_eq(system(cmd), 0);
    LlamaModel m;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    ck_assert_int_eq(hf_load(&m, cfg2, &none, 0, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "model.layers.0.self_attn.") && strstr(err.message, "_proj.bias"), "%s", err.message);
    const char *with_o[3] = { "\"model_type\": \"llama\"", "\"model_type\": \"llama\", \"attention_bias\": true", NULL };
    char *cfg3 = config_edit_copy(cfg2, ".", with_o);   /* llama q/k/v/o: o_proj.bias is missing */
    snprintf(cmd, sizeof cmd, "cp '%s/model.safetensors' '%s/'", dir, cfg3);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(hf_load(&m, cfg3, &none, 0, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "o_proj.bias") && strstr(err.message, "is missing"), "%s", err.message);
    config_edit_free(cfg3);
    config_edit_free(cfg2);
    config_edit_free(dir);
}
END_TEST

Suite *real_configs_suite(void) {
    Suite *s = suite_create("real_configs");
    TCase *tc = tcase_create("configs");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_real_config_trains);
    tcase_add_test(tc, test_checkpoint_config_disagree);
    suite_add_tcase(s, tc);
    return s;
}
