/* tests/nn/test_model_memory.c — a model that cannot fit is refused before anything is allocated:
   a Mistral-7B-shaped BF16 checkpoint (a sparse file: the real header, zero weights) gives the
   estimate 7,241,732,096 params x 2 bytes + the RoPE table 32768 x 128 x 4 bytes = 14.50 GB with
   the checkpoint's own dtype, 28.98 GB with --base-dtype f32 (the block the issue saw abort; the
   double build: 8-byte reals, 14.52 and 57.97 GB);
   a file whose tensors do not match config.json fails naming the tensor, before allocating; a
   failed allocation is a Status with the sizes; BF16 files load as bf16 storage by default. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/checkpoint.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ASan's allocator would abort on an impossible size: make it return NULL like libc does */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static const char MISTRAL_CONFIG[] =
    "{\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"hidden_size\": 4096,"
    " \"intermediate_size\": 14336, \"num_hidden_layers\": 32, \"num_attention_heads\": 32,"
    " \"num_key_value_heads\": 8, \"vocab_size\": 32000, \"max_position_embeddings\": 32768,"
    " \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\"}";

typedef struct { char name[64]; long long r, c; } Entry;

static int by_name(const void *a, const void *b) { return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name); }

/* config.json + a sparse model.safetensors with Mistral-7B's 291 BF16 tensors */
static void write_mistral(const char *dir) {
    static const char *const mats[7] = { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" };
    static const long long rows[7] = { 4096, 1024, 1024, 4096, 14336, 14336, 4096 }, cols[7] = { 4096, 4096, 4096, 4096, 4096, 4096, 14336 };
    Entry *e = calloc(300, sizeof *e);
    int n = 0;
    snprintf(e[n].name, 64, "model.embed_tokens.weight"), e[n].r = 32000, e[n++].c = 4096;
    snprintf(e[n].name, 64, "lm_head.weight"), e[n].r = 32000, e[n++].c = 4096;
    snprintf(e[n].name, 64, "model.norm.weight"), e[n].r = 4096, e[n++].c = 0;
    for (int l = 0; l < 32; l++) {
        snprintf(e[n].name, 64, "model.layers.%d.input_layernorm.weight", l), e[n].r = 4096, e[n++].c = 0;
        snprintf(e[n].name, 64, "model.layers.%d.post_attention_layernorm.weight", l), e[n].r = 4096, e[n++].c = 0;
        for (int j = 0; j < 7; j++) snprintf(e[n].name, 64, "model.layers.%d.%s.weight", l, mats[j]), e[n].r = rows[j], e[n++].c = cols[j];
    }
    qsort(e, (size_t)n, sizeof *e, by_name);
    size_t cap = 1 << 16, o = 0;
    char *h = malloc(cap);
    long long off = 0;
    o += (size_t)snprintf(h + o, cap - o, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        long long bytes = 2 * e[i].r * (e[i].c ? e[i].c : 1);
        if (e[i].c) o += (size_t)snprintf(h + o, cap - o, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],\"data_offsets\":[%lld,%lld]}",
                                          e[i].name, e[i].r, e[i].c, off, off + bytes);
        else o += (size_t)snprintf(h + o, cap - o, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld],\"data_offsets\":[%lld,%lld]}",
                                   e[i].name, e[i].r, off, off + bytes);
        off += bytes;
    }
    ck_assert_int_eq(off, 7241732096LL * 2);
    h[o++] = '}';
    while (o % 8) h[o++] = ' ';
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    unsigned long long len = o;
    fwrite(&len, 8, 1, f);
    fwrite(h, 1, o, f);
    fclose(f);
    ck_assert_int_eq(truncate(path, (off_t)(8 + o + (size_t)off)), 0);   /* sparse: no disk used */
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    fputs(MISTRAL_CONFIG, f);
    fclose(f);
    free(h);
    free(e);
}

START_TEST(test_mistral_7b_refused_with_estimate)
{
    char *dir = tmp_dir_new();
    write_mistral(dir);
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16 };
    a.targets = 0;   /* no adapter tensors: the estimate is the base's alone */
    a.kind = ADAPTER_NONE;
    LlamaModel m;
    Error err;
    MemBudget b = { .limit = 4e9, .limit_name = "--max-memory" };
    ck_assert_int_eq(model_load_budget(&m, dir, &a, BASE_DTYPE_AUTO, &b, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, REAL_IS_DOUBLE ? "needs about 14.52 GB" : "needs about 14.50 GB") && strstr(err.message, "bf16") &&
                  strstr(err.message, "--max-memory 4.00 GB"), "%s", err.message);
    ck_assert_int_eq(model_load_budget(&m, dir, &a, 0, &b, &err), STATUS_INVALID);
    ck_assert_msg(REAL_IS_DOUBLE ? strstr(err.message, "needs about 57.97 GB") && strstr(err.message, "in f64")
                                 : strstr(err.message, "needs about 28.98 GB") && strstr(err.message, "in f32"), "%s", err.message);
    ck_assert_msg(strstr(err.hint, "--base-dtype bf16"), "%s", err.hint);
    /* training adds AdamW moments and activations: a LoRA run of batch 8 x 512 needs more */
    a = (AdapterConfig){ .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16 };
    b.batch = 8;
    b.seq = 512;
    ck_assert_int_eq(model_load_budget(&m, dir, &a, BASE_DTYPE_AUTO, &b, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "activations") && strstr(err.hint, "--batch"), "%s", err.message);
    tmp_dir_remove(dir);
}
END_TEST

/* a config that does not match the weights fails on the first tensor, before any allocation
   (7B of f32 would be 29 GB) */
START_TEST(test_config_mismatch_before_allocation)
{
    char *dir = tmp_dir_new();
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    Error err;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    tiny_model(&m, &c, &none, 1, 0);
    ck_assert_int_eq(hf_write(&m, dir, SAFE_F32, &err), STATUS_OK);
    llama_free(&m);
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(MISTRAL_CONFIG, f);
    fclose(f);
    MemBudget b = { .limit = -1 };   /* no memory check: the tensor check alone must stop it */
    ck_assert_int_eq(model_load_budget(&m, dir, &none, 0, &b, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "model.safetensors: tensor ") && strstr(err.message, "expected [") , "%s", err.message);
    tmp_dir_remove(dir);
}
END_TEST

START_TEST(test_allocation_failure_is_a_status)
{
    ParamStore ps;
    param_store_init(&ps);
    param_declare(&ps, "huge", PARAM_FROZEN, 2, (int[]){ 1 << 30, 1 << 30 });   /* 4 EB */
    Error err;
    ck_assert_int_eq(param_store_try_allocate(&ps, &err), STATUS_RUNTIME);
    ck_assert_msg(strstr(err.message, "out of memory") && strstr(err.message, REAL_IS_DOUBLE ? "9223372036.85 GB" : "4611686018.43 GB"), "%s", err.message);
    param_store_free(&ps);
}
END_TEST

/* BASE_DTYPE_AUTO: a BF16 checkpoint is stored as bf16, an F32 one as real; 0 forces real */
START_TEST(test_bf16_checkpoint_stays_bf16)
{
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    SafeDtype dt[2] = { SAFE_BF16, SAFE_F32 };
    for (int k = 0; k < 2; k++) {
        char *dir = tmp_dir_new();
        LlamaModel m;
        Error err;
        tiny_model(&m, &c, &none, 1, 0);
        ck_assert_int_eq(hf_write(&m, dir, dt[k], &err), STATUS_OK);
        llama_free(&m);
        ck_assert_int_eq(model_load(&m, dir, &none, BASE_DTYPE_AUTO, &err), STATUS_OK);
        ck_assert_int_eq(m.ps.frozen_bf16, k == 0);
        ck_assert_uint_eq(m.ps.frozen16_numel + m.ps.mapped_numel > 0, k == 0);   /* bf16: mapped from the file */
        llama_free(&m);
        ck_assert_int_eq(model_load(&m, dir, &none, 0, &err), STATUS_OK);
        ck_assert_int_eq(m.ps.frozen_bf16, 0);
        llama_free(&m);
        tmp_dir_remove(dir);
    }
}
END_TEST

Suite *model_memory_suite(void) {
    Suite *s = suite_create("model_memory");
    TCase *tc = tcase_create("fit");
    tcase_add_test(tc, test_mistral_7b_refused_with_estimate);
    tcase_add_test(tc, test_config_mismatch_before_allocation);
    tcase_add_test(tc, test_allocation_failure_is_a_status);
    tcase_add_test(tc, test_bf16_checkpoint_stays_bf16);
    suite_add_tcase(s, tc);
    return s;
}
