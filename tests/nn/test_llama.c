/* tests/nn/test_llama.c — the Llama model and its checkpoint formats on tiny random models:
   llama2.c v0 / v1 and HF (f32, bf16) files of the same weights give the same logits; a LoRA
   adapter with B = 0 leaves the model unchanged; every format error is reported, not crashed. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/checkpoint.h"
#include "tensor/half.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const int IDS[2 * 7] = { 1, 5, 9, 33, 2, 47, 12, 1, 3, 3, 8, 49, 20, 0 };
static const AdapterConfig NO_ADAPTER = { .kind = ADAPTER_NONE };

static double max_abs_diff(const real *a, const real *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static void rm_rf(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static real *load_and_logits(const char *path, int frozen_bf16) {
    LlamaModel m;
    Error err;
    Status s = model_load(&m, path, &NO_ADAPTER, frozen_bf16, &err);
    ck_assert_msg(s == STATUS_OK, "load %s: %s", path, err.message);
    real *lg = tiny_logits(&m, IDS, 2, 7);
    llama_free(&m);
    return lg;
}

START_TEST(test_formats_same_logits)
{
    for (int tied = 0; tied <= 1; tied++) {
        ModelConfig c = tiny_config(tied);
        LlamaModel m;
        tiny_model(&m, &c, &NO_ADAPTER, 11, 0);
        real *ref = tiny_logits(&m, IDS, 2, 7);
        size_t n = (size_t)14 * c.vocab_size;
        char *dir = tmp_dir_new(), p0[128], p1[128], phf[128];
        snprintf(p0, sizeof p0, "%s/v0.bin", dir);
        snprintf(p1, sizeof p1, "%s/v1.bin", dir);
        snprintf(phf, sizeof phf, "%s/hf", dir);
        Error err;
        ck_assert_int_eq(llama2c_write(&m, p0, 0, &err), STATUS_OK);
        ck_assert_int_eq(llama2c_write(&m, p1, 1, &err), STATUS_OK);
        ck_assert_int_eq(hf_write(&m, phf, SAFE_F32, &err), STATUS_OK);
        real *l0 = load_and_logits(p0, 0), *l1 = load_and_logits(p1, 0), *lh = load_and_logits(phf, 0);
        ck_assert_msg(max_abs_diff(ref, l0, n) == 0, "v0 differs");
        ck_assert_msg(max_abs_diff(ref, l1, n) == 0, "v1 differs");
        /* HF rows + half-split RoPE: same math, other summation order in q·k */
        ck_assert_msg(max_abs_diff(ref, lh, n) < 1e-5, "hf differs by %g", max_abs_diff(ref, lh, n));
        free(l0); free(l1); free(lh); free(ref);
        llama_free(&m);
        rm_rf(dir);
        free(dir);
    }
}
END_TEST

/* bf16 files: weights arrive exactly bf16-rounded; bf16 storage in memory gives the same logits
   as f32 storage of the same rounded values. */
START_TEST(test_bf16_checkpoint_and_storage)
{
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    tiny_model(&m, &c, &NO_ADAPTER, 5, 0);
    char *dir = tmp_dir_new(), phf[128];
    snprintf(phf, sizeof phf, "%s/hf16", dir);
    Error err;
    ck_assert_int_eq(hf_write(&m, phf, SAFE_BF16, &err), STATUS_OK);
    LlamaModel a, b;
    ck_assert_int_eq(hf_load(&a, phf, &NO_ADAPTER, 0, &err), STATUS_OK);
    ck_assert_int_eq(hf_load(&b, phf, &NO_ADAPTER, 1, &err), STATUS_OK);
    const Tensor *w = param_find(&a.ps, "model.layers.1.mlp.down_proj.weight");
    const Tensor *w0 = param_find(&m.ps, "model.layers.1.mlp.down_proj.weight");
    for (size_t i = 0; i < w->numel; i++)
        ck_assert(w->data[i] == (real)bf16_to_f32(f32_to_bf16((float)w0->data[i])));
    ck_assert_ptr_nonnull(param_find(&b.ps, "model.layers.1.mlp.down_proj.weight")->bf16);
    real *la = tiny_logits(&a, IDS, 2, 7), *lb = tiny_logits(&b, IDS, 2, 7);
    ck_assert_msg(max_abs_diff(la, lb, (size_t)14 * c.vocab_size) < 1e-5, "bf16 storage differs");
    free(la); free(lb);
    llama_free(&a); llama_free(&b); llama_free(&m);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_lora_b_zero_is_identity)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig lora = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8.0 };
    LlamaModel base, ad;
    tiny_model(&base, &c, &NO_ADAPTER, 3, 0);
    tiny_model(&ad, &c, &lora, 3, 0);           /* same base seed, B = 0 */
    real *l0 = tiny_logits(&base, IDS, 2, 7), *l1 = tiny_logits(&ad, IDS, 2, 7);
    ck_assert_msg(max_abs_diff(l0, l1, (size_t)14 * c.vocab_size) == 0, "B=0 adapter changed the output");
    free(l0); free(l1);
    llama_free(&ad);
    tiny_model(&ad, &c, &lora, 3, 0.05);         /* B != 0 must change it */
    l0 = tiny_logits(&base, IDS, 2, 7);
    l1 = tiny_logits(&ad, IDS, 2, 7);
    ck_assert(max_abs_diff(l0, l1, (size_t)14 * c.vocab_size) > 1e-4);
    free(l0); free(l1);
    llama_free(&ad); llama_free(&base);
}
END_TEST

static void expect_error(const char *path, Status want, const char *needle) {
    LlamaModel m;
    Error err;
    Status s = model_load(&m, path, &NO_ADAPTER, 0, &err);
    ck_assert_msg(s == want, "%s: status %d (%s), expected %d", path, s, err.message, want);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
}

START_TEST(test_format_errors)
{
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    tiny_model(&m, &c, &NO_ADAPTER, 2, 0);
    char *dir = tmp_dir_new(), p[160], hf[160], cmd[400];
    Error err;
    snprintf(p, sizeof p, "%s/nope.bin", dir);
    expect_error(p, STATUS_IO, "nope.bin");
    snprintf(p, sizeof p, "%s/m.bin", dir);
    ck_assert_int_eq(llama2c_write(&m, p, 1, &err), STATUS_OK);
    file_truncate(p, 1000);
    expect_error(p, STATUS_FORMAT, "implies");                 /* truncated: size vs header */
    FILE *f = fopen(p, "r+b");
    int32_t bad = 7;
    fseek(f, 4, SEEK_SET);
    fwrite(&bad, 4, 1, f);
    fclose(f);
    expect_error(p, STATUS_FORMAT, "version 7");
    file_truncate(p, 10);
    expect_error(p, STATUS_FORMAT, "too short");
    snprintf(hf, sizeof hf, "%s/hf", dir);
    ck_assert_int_eq(hf_write(&m, hf, SAFE_F32, &err), STATUS_OK);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/' %s/config.json", hf);
    ck_assert_int_eq(system(cmd), 0);
    expect_error(hf, STATUS_FORMAT, "model.layers.2");         /* a tensor the config implies is missing */
    snprintf(cmd, sizeof cmd, "sed -i 's/\"num_hidden_layers\": 3/\"num_hidden_layers\": 2/; s/\"intermediate_size\": 40/\"intermediate_size\": 41/' %s/config.json", hf);
    ck_assert_int_eq(system(cmd), 0);
    expect_error(hf, STATUS_FORMAT, "expected");               /* wrong shape */
    snprintf(cmd, sizeof cmd, "sed -i '/\"vocab_size\"/d' %s/config.json", hf);
    ck_assert_int_eq(system(cmd), 0);
    expect_error(hf, STATUS_FORMAT, "vocab_size");             /* missing config key */
    llama_free(&m);
    rm_rf(dir);
    free(dir);
}
END_TEST

Suite *model_suite(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("formats");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_formats_same_logits);
    tcase_add_test(tc, test_bf16_checkpoint_and_storage);
    tcase_add_test(tc, test_lora_b_zero_is_identity);
    tcase_add_test(tc, test_format_errors);
    suite_add_tcase(s, tc);
    return s;
}
