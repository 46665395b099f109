/* tests/nn/test_adapter_io.c — PEFT LoRA adapter directories (nn/adapter_io.h): save -> load round
   trip is bitwise, the config has PEFT's keys and no "moe" key, tensor keys/shapes follow PEFT
   (checked against hand-written names and shapes of the tiny model), every malformed directory
   is an error that names what is wrong, and a failed save leaves no partial file behind. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "cli/make_tiny.h"
#include "nn/safetensors.h"
#include "data/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* tiny_config: dim 24, hidden 40, heads 4, kv heads 2, head_dim 6, 2 layers */
static const AdapterConfig LORA_ALL = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8.0 };

static void rm_rf(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* model with random A and non-zero B; adapter values rounded to float so F32 files hold them exactly */
static void make_model(LlamaModel *m, const AdapterConfig *a, uint64_t seed) {
    ModelConfig c = tiny_config(0);
    tiny_model(m, &c, a, seed, 0.05);
    for (int i = 0; i < m->ps.n; i++)
        if (strstr(m->ps.params[i]->name, ".lora_"))
            for (size_t j = 0; j < m->ps.params[i]->numel; j++)
                m->ps.params[i]->data[j] = (real)(float)m->ps.params[i]->data[j];
}

static char *saved_dir(LlamaModel *m, const AdapterConfig *a) {
    char *dir = tmp_dir_new(), sub[128];
    snprintf(sub, sizeof sub, "%s/nested/adapter", dir);   /* created on demand */
    make_model(m, a, 7);
    Error err;
    ck_assert_msg(adapter_save(m, sub, "tiny.bin", &err) == STATUS_OK, "%s", err.message);
    return dir;
}

START_TEST(test_round_trip_bitwise)
{
    LlamaModel m, m2;
    char *dir = saved_dir(&m, &LORA_ALL), sub[128];
    snprintf(sub, sizeof sub, "%s/nested/adapter", dir);
    AdapterConfig got;
    Error err;
    ck_assert_msg(adapter_read_config(sub, &got, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(got.kind, ADAPTER_LORA);
    ck_assert_int_eq(got.rank, 4);
    ck_assert_int_eq(got.targets, LORA_TARGET_ALL);
    ck_assert(got.alpha == 8.0 && got.rslora == 0 && got.dropout == 0.0);
    ModelConfig c = tiny_config(0);
    llama_declare(&m2, &c, &got, 0);
    ck_assert_msg(adapter_load(&m2, sub, &err) == STATUS_OK, "%s", err.message);
    int n = 0;
    for (int i = 0; i < m.ps.n; i++) {
        const Tensor *t = m.ps.params[i];
        if (!strstr(t->name, ".lora_")) continue;
        const Tensor *u = param_find(&m2.ps, t->name);
        ck_assert_ptr_nonnull(u);
        ck_assert_int_eq(memcmp(t->data, u->data, t->numel * sizeof(real)), 0);
        n++;
    }
    ck_assert_int_eq(n, 2 * 7 * 2);
    llama_free(&m);
    llama_free(&m2);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_config_and_keys_are_peft)
{
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_Q | LORA_TARGET_V | LORA_TARGET_DOWN, .rank = 2, .alpha = 16.0, .rslora = 1, .dropout = 0.05 };
    LlamaModel m;
    char *dir = saved_dir(&m, &a), path[160];
    snprintf(path, sizeof path, "%s/nested/adapter/adapter_config.json", dir);
    JsonDoc doc;
    Error err;
    ck_assert_int_eq(json_parse_file(&doc, path, &err), STATUS_OK);
    const JsonValue *r = doc.root;
    const char *s;
    long long ri;
    double x;
    int b;
    ck_assert(json_get_string(r, "peft_type", &s) && !strcmp(s, "LORA"));
    ck_assert(json_get_string(r, "task_type", &s) && !strcmp(s, "CAUSAL_LM"));
    ck_assert(json_get_string(r, "base_model_name_or_path", &s) && !strcmp(s, "tiny.bin"));
    ck_assert(json_get_string(r, "bias", &s) && !strcmp(s, "none"));
    ck_assert(json_get_int(r, "r", &ri) && ri == 2);
    ck_assert(json_get_number(r, "lora_alpha", &x) && x == 16.0);
    ck_assert(json_get_number(r, "lora_dropout", &x) && x == 0.05);
    ck_assert(json_get_bool(r, "use_rslora", &b) && b == 1);
    ck_assert(json_get_bool(r, "fan_in_fan_out", &b) && b == 0);
    ck_assert(json_get_bool(r, "init_lora_weights", &b) && b == 1);
    ck_assert(json_get_bool(r, "inference_mode", &b) && b == 0);
    ck_assert_ptr_null(json_get(r, "moe"));
    const JsonValue *tm = json_get(r, "target_modules");
    ck_assert(tm && tm->type == JSON_ARRAY && tm->count == 3);
    ck_assert_str_eq(tm->items[0].string, "q_proj");
    ck_assert_str_eq(tm->items[1].string, "v_proj");
    ck_assert_str_eq(tm->items[2].string, "down_proj");
    json_doc_free(&doc);
    SafeTensors st;
    snprintf(path, sizeof path, "%s/nested/adapter/adapter_model.safetensors", dir);
    ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_OK);
    ck_assert_int_eq((int)st.count, 2 * 3 * 2);
    const SafeTensor *t = safetensors_find(&st, "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
    ck_assert(t && t->dtype == SAFE_F32 && t->ndim == 2 && t->shape[0] == 12 && t->shape[1] == 2);
    t = safetensors_find(&st, "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight");
    ck_assert(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 40);
    ck_assert_ptr_null(safetensors_find(&st, "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"));
    safetensors_close(&st);
    llama_free(&m);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Rewrites DIR/adapter_model.safetensors from m's LoRA tensors with one change. */
typedef enum { DROP_ONE, RESHAPE_ONE, ADD_EXTRA, ADD_UNPREFIXED } Mutation;

static void write_mutated(const LlamaModel *m, const char *dir, Mutation mu, const char *victim) {
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    static float zeros[4096];
    char key[320], path[200];
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (!strstr(t->name, ".lora_")) continue;
        adapter_file_key(t->name, key, sizeof key);
        if (mu == DROP_ONE && !strcmp(key, victim)) continue;
        int shape[2] = { t->shape[0], t->shape[1] };
        if (mu == RESHAPE_ONE && !strcmp(key, victim)) shape[0] -= 1;
        safetensors_writer_add_real(&w, key, SAFE_F32, shape, 2, t->data);
    }
    if (mu == ADD_EXTRA) safetensors_writer_add_f32(&w, victim, SAFE_F32, (int[]){ 4, 24 }, 2, zeros);
    if (mu == ADD_UNPREFIXED) safetensors_writer_add_f32(&w, victim, SAFE_F32, (int[]){ 4, 24 }, 2, zeros);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    Error err;
    ck_assert_int_eq(safetensors_write(&w, path, &err), STATUS_OK);
    safetensors_writer_free(&w);
}

static void expect_load_error(LlamaModel *m, const char *dir, Status want, const char *needle) {
    Error err;
    Status s = adapter_load(m, dir, &err);
    ck_assert_msg(s == want, "expected status %d, got %d (%s)", want, s, err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
}

START_TEST(test_load_errors)
{
    LlamaModel m;
    char *dir = saved_dir(&m, &LORA_ALL), sub[128], path[200];
    snprintf(sub, sizeof sub, "%s/nested/adapter", dir);
    const char *q = "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight";
    write_mutated(&m, sub, DROP_ONE, q);
    expect_load_error(&m, sub, STATUS_FORMAT, q);
    write_mutated(&m, sub, RESHAPE_ONE, q);
    expect_load_error(&m, sub, STATUS_FORMAT, q);
    const char *extra = "base_model.model.model.layers.0.mlp.gate_proj.lora_C.weight";
    write_mutated(&m, sub, ADD_EXTRA, extra);
    expect_load_error(&m, sub, STATUS_FORMAT, extra);
    write_mutated(&m, sub, ADD_UNPREFIXED, "model.layers.0.self_attn.q_proj.lora_A.weight");
    expect_load_error(&m, sub, STATUS_FORMAT, "unexpected tensor model.layers.0.self_attn.q_proj.lora_A.weight");
    /* the config says rank 8 while the tensors have rank 4 */
    write_mutated(&m, sub, DROP_ONE, "none");
    snprintf(path, sizeof path, "%s/adapter_config.json", sub);
    write_text(path, "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8, \"target_modules\": "
                     "[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\",\"gate_proj\",\"up_proj\",\"down_proj\"]}");
    expect_load_error(&m, sub, STATUS_INVALID, "r 8");              /* model declared with r 4 */
    AdapterConfig a8;
    Error err;
    ck_assert_int_eq(adapter_read_config(sub, &a8, &err), STATUS_OK);
    ck_assert_int_eq(a8.rank, 8);
    LlamaModel m8;
    ModelConfig c = tiny_config(0);
    llama_declare(&m8, &c, &a8, 0);
    expect_load_error(&m8, sub, STATUS_FORMAT, "shape [4,24]");      /* declared from the config */
    llama_free(&m8);
    remove(path);
    expect_load_error(&m, sub, STATUS_IO, "adapter_config.json");
    ck_assert_int_eq(adapter_save(&m, sub, NULL, &err), STATUS_OK);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", sub);
    remove(path);
    expect_load_error(&m, sub, STATUS_IO, "adapter_model.safetensors");
    llama_free(&m);
    rm_rf(dir);
    free(dir);
}
END_TEST

static void expect_config_error(const char *dir, const char *json, Status want, const char *needle) {
    char path[200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    write_text(path, json);
    AdapterConfig a;
    Error err;
    Status s = adapter_read_config(dir, &a, &err);
    ck_assert_msg(s == want, "%s: expected %d, got %d (%s)", json, want, s, err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
}

START_TEST(test_config_errors)
{
    char *dir = tmp_dir_new();
    expect_config_error(dir, "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], "
                             "\"moe\": {\"type\": \"switch\"}}", STATUS_INVALID, "not supported");
    expect_config_error(dir, "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], "
                             "\"moe\": {\"type\": \"adamoe\"}}", STATUS_FORMAT, "n_true");
    expect_config_error(dir, "{\"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}", STATUS_FORMAT, "\"r\"");
    expect_config_error(dir, "{\"r\": 0, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}", STATUS_FORMAT, "\"r\"");
    expect_config_error(dir, "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\", \"lm_head\"]}",
                        STATUS_FORMAT, "target_modules[1]");
    expect_config_error(dir, "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"use_dora\": true}",
                        STATUS_INVALID, "use_dora");
    expect_config_error(dir, "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"bias\": \"all\"}",
                        STATUS_INVALID, "bias");
    expect_config_error(dir, "{\"peft_type\": \"IA3\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}",
                        STATUS_INVALID, "IA3");
    expect_config_error(dir, "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"],", STATUS_FORMAT,
                        "adapter_config.json");
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_failed_save_leaves_nothing)
{
    LlamaModel m;
    make_model(&m, &LORA_ALL, 3);
    char *dir = tmp_dir_new(), path[160];
    Error err;
    snprintf(path, sizeof path, "%s/file", dir);               /* the adapter path is a file */
    write_text(path, "x");
    ck_assert_int_eq(adapter_save(&m, path, NULL, &err), STATUS_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "not a directory"));
    ck_assert_int_eq(dir_count_entries(dir), 1);
    snprintf(path, sizeof path, "%s/file/sub", dir);           /* a component is a file */
    ck_assert_int_eq(adapter_save(&m, path, NULL, &err), STATUS_IO);
    char ad[160];                                              /* rename onto a directory fails */
    snprintf(ad, sizeof ad, "%s/ad", dir);
    snprintf(path, sizeof path, "%s/ad/adapter_config.json", dir);
    ck_assert_int_eq(mkdir(ad, 0755), 0);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_ne(adapter_save(&m, ad, NULL, &err), STATUS_OK);
    ck_assert_int_eq(dir_count_entries(ad), 2);                    /* safetensors + the directory, no temp */
    if (geteuid() != 0) {                                      /* root ignores permissions */
        snprintf(ad, sizeof ad, "%s/ro", dir);
        mkdir(ad, 0555);
        ck_assert_int_eq(adapter_save(&m, ad, NULL, &err), STATUS_IO);
        ck_assert_int_eq(dir_count_entries(ad), 0);
    }
    AdapterConfig full = { .kind = ADAPTER_FULL };
    LlamaModel mf;
    ModelConfig c = tiny_config(0);
    llama_declare(&mf, &c, &full, 0);
    ck_assert_int_eq(adapter_save(&mf, ad, NULL, &err), STATUS_INVALID);
    llama_free(&mf);
    llama_free(&m);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* writers create missing parent directories (mkdir -p) and name the reason when they cannot */
START_TEST(test_writers_create_directories)
{
    char *dir = tmp_dir_new(), p[400];
    Error err;
    MakeTinySpec s;
    make_tiny_defaults(&s);
    snprintf(p, sizeof p, "%s/a/b/tiny_hf", dir);
    s.out = p;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
    snprintf(p, sizeof p, "%s/a/b/tiny_hf/model.safetensors", dir);
    ck_assert_int_eq(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/c/d/tiny.bin", dir);
    s.format = "llama2c";
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/c/d/tiny.bin/x.bin", dir);   /* a file where a directory must go */
    ck_assert_int_eq(make_tiny_write(&s, &err), STATUS_IO);
    ck_assert_msg(strstr(err.message, "not a directory") != NULL, "%s", err.message);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(p), 0);
    free(dir);
}
END_TEST

Suite *adapter_io_suite(void) {
    Suite *s = suite_create("adapter_io");
    TCase *tc = tcase_create("peft");
    tcase_add_test(tc, test_round_trip_bitwise);
    tcase_add_test(tc, test_config_and_keys_are_peft);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_failed_save_leaves_nothing);
    tcase_add_test(tc, test_writers_create_directories);
    suite_add_tcase(s, tc);
    return s;
}
