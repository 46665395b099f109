/* tests/fuzz/targets_model.c — fuzz targets of model files: safetensors (header, dtypes, data
   ranges; every float tensor is read), a Hugging Face directory (config.json for llama, mistral,
   mixtral and qwen2 keys; the weights; a sharded index), llama2.c .bin (v0 and v1), adapter
   directories (adapter_config.json, adapter_model.safetensors; LoRA and AdaMoE), the resume
   checkpoint and forward-backward's tokens.json. Fixtures come from the tests' writers
   (hf_write, llama2c_write, adapter_save, trainer_save_state on tiny models). */
#include "tests/fuzz/fuzz.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/train_fixture.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/forward_backward.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const MemBudget BUDGET = { .limit = 2e8 };   /* a mutated config must not take the machine */

static void tiny(LlamaModel *m, int mixtral, const AdapterConfig *a) {
    ModelConfig c = mixtral ? tiny_mixtral_config() : tiny_config(0);
    c.rope_half = 1;
    tiny_model(m, &c, a, 3, 0.02);
}

static const AdapterConfig NONE = { .kind = ADAPTER_NONE };

/* ---- safetensors ---- */
static void st_setup(const char *w) {
    SafeTensorsWriter wr;
    safetensors_writer_init(&wr);
    float a[6] = { 1, -2, 3.5f, 0, 1e-3f, 7 };
    int64_t ids[3] = { 1, 2, 3 };
    safetensors_writer_add_f32(&wr, "a.f32", SAFE_F32, (int[]){ 2, 3 }, 2, a);
    safetensors_writer_add_f32(&wr, "b.bf16", SAFE_BF16, (int[]){ 6 }, 1, a);
    safetensors_writer_add_f32(&wr, "c.f16", SAFE_F16, (int[]){ 3, 2 }, 2, a);
    safetensors_writer_add_f32(&wr, "d.f64", SAFE_F64, (int[]){ 1 }, 0, a);
    safetensors_writer_add(&wr, "e.i64", SAFE_I64, (int[]){ 3 }, 1, ids);
    safetensors_writer_set_metadata(&wr, "format", "pt");
    Error err;
    if (safetensors_write(&wr, fx_path(w, "t.safetensors"), &err)) abort();
    safetensors_writer_free(&wr);
}
static int st_run(const char *w) {
    SafeTensors st;
    Error err;
    if (safetensors_open(&st, fx_path(w, "t.safetensors"), &err)) return 0;
    for (size_t i = 0; i < st.count; i++) {
        const SafeTensor *t = safetensors_at(&st, i);
        if (t->numel > (1u << 20)) continue;
        int shape[SAFE_MAX_DIMS];
        for (int k = 0; k < t->ndim; k++) shape[k] = (int)t->shape[k];
        float *buf = malloc((t->numel ? t->numel : 1) * sizeof *buf);
        safetensors_read_f32(&st, t->name, shape, t->ndim, buf, &err);
        free(buf);
    }
    safetensors_metadata(&st, "format");
    safetensors_close(&st);
    return 1;
}

/* ---- HF directories ---- */
static int hf_run_dir(const char *dir) {
    LlamaModel m;
    Error err;
    if (model_load_budget(&m, dir, &NONE, BASE_DTYPE_AUTO, &BUDGET, &err)) return 0;
    llama_free(&m);
    return 1;
}
static void hf_setup(const char *w) {
    LlamaModel m;
    Error err;
    tiny(&m, 0, &NONE);
    if (hf_write(&m, w, SAFE_BF16, &err)) abort();
    llama_free(&m);
}
static void hf_config_seeds(const char *w, Buf *s, int *n, int max) {
    fx_seed_text(s, n, max, "{\"model_type\": \"mistral\", \"hidden_size\": 24, \"intermediate_size\": 40, "
                 "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 50, "
                 "\"max_position_embeddings\": 16, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"sliding_window\": null, "
                 "\"tie_word_embeddings\": false, \"head_dim\": 6}");
    fx_seed_text(s, n, max, "{\"model_type\": \"llama\", \"hidden_size\": 24, \"intermediate_size\": 40, "
                 "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 50, "
                 "\"max_position_embeddings\": 16, \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"bos_token_id\": 1, "
                 "\"eos_token_id\": [2, 3], \"rope_scaling\": null}");
}
static int hf_config_run(const char *w) { return hf_run_dir(w); }
#define hf_config_setup hf_setup
#define hf_weights_setup hf_setup
#define hf_weights_run hf_config_run

/* Mixtral keys, and the qwen2 keys a qwen2 config adds (bias / sliding window) */
static void mixtral_setup(const char *w) {
    LlamaModel m;
    Error err;
    tiny(&m, 1, &NONE);
    if (hf_write(&m, w, SAFE_F32, &err)) abort();
    llama_free(&m);
}
static int mixtral_run(const char *w) { return hf_run_dir(w); }

/* sharded: the weights split over the index's two files */
static void hf_index_setup(const char *w) {
    hf_setup(w);
    char from[1100], to[1100];
    snprintf(from, sizeof from, "%s/model.safetensors", w);
    snprintf(to, sizeof to, "%s/model-00001-of-00001.safetensors", w);
    if (rename(from, to)) abort();
    SafeTensors st;
    Error err;
    if (safetensors_open(&st, to, &err)) abort();
    char *idx = malloc(1 << 16);
    size_t o = (size_t)snprintf(idx, 1 << 16, "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
    for (size_t i = 0; i < st.count; i++)
        o += (size_t)snprintf(idx + o, (1 << 16) - o, "%s\"%s\": \"model-00001-of-00001.safetensors\"", i ? ", " : "",
                              safetensors_at(&st, i)->name);
    snprintf(idx + o, (1 << 16) - o, "}}");
    safetensors_close(&st);
    fx_text(w, "model.safetensors.index.json", idx);
    free(idx);
}
static int hf_index_run(const char *w) { return hf_run_dir(w); }

/* ---- llama2.c ---- */
static void llama2c_setup(const char *w) {
    LlamaModel m;
    Error err;
    ModelConfig c = tiny_config(0);
    tiny_model(&m, &c, &NONE, 3, 0);
    if (llama2c_write(&m, fx_path(w, "model.bin"), 1, &err)) abort();
    llama_free(&m);
}
static void llama2c_seeds(const char *w, Buf *s, int *n, int max) {
    LlamaModel m;
    Error err;
    ModelConfig c = tiny_config(1);
    tiny_model(&m, &c, &NONE, 3, 0);
    if (llama2c_write(&m, fx_path(w, "v0.bin"), 0, &err)) abort();
    llama_free(&m);
    if (*n < max && buf_read(&s[*n], fx_path(w, "v0.bin"))) (*n)++;
}
static int llama2c_run(const char *w) {
    LlamaModel m;
    Error err;
    if (model_load_budget(&m, fx_path(w, "model.bin"), &NONE, BASE_DTYPE_AUTO, &BUDGET, &err)) return 0;
    llama_free(&m);
    return 1;
}

/* ---- adapter directories: base model.bin + adapter/ ---- */
static void adapter_setup(const char *w) {
    LlamaModel m;
    Error err;
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4, .n_true = 2,
                        .n_null = 2, .top_k = 2, .aux_coef = 0.01, .pregate = 1 };   /* writes the field keys too */
    tiny_model(&m, &c, &a, 3, 0.05);
    if (llama2c_write(&m, fx_path(w, "model.bin"), 1, &err)) abort();
    mkdir(fx_path(w, "adapter"), 0755);
    if (adapter_save(&m, fx_path(w, "adapter"), "model.bin", &err)) abort();
    llama_free(&m);
}
static int adapter_run(const char *w) {
    LlamaModel m;
    Error err;
    char base[1100];
    snprintf(base, sizeof base, "%s", fx_path(w, "model.bin"));
    if (model_load_with_adapter(&m, base, fx_path(w, "adapter"), 0, &err)) return 0;
    llama_free(&m);
    return 1;
}
#define adapter_config_setup adapter_setup
#define adapter_config_run adapter_run
#define adapter_weights_setup adapter_setup
#define adapter_weights_run adapter_run

/* ---- the resume checkpoint of a tiny run ---- */
static TinyRun ck_run;
static void checkpoint_setup(const char *w) {
    if (!ck_run.dir) tiny_run_init(&ck_run);
    TrainConfig tc;
    tiny_run_config(&tc, w);
    tc.max_steps = 1;
    tc.eval_every = 0;
    Error err;
    if (tiny_run(&ck_run, &tc, 0, NULL, NULL, NULL, &err)) abort();
}
static int checkpoint_run(const char *w) {
    LlamaModel m;
    tiny_run_model(&m);
    TrainConfig tc;
    tiny_run_config(&tc, w);
    Trainer tr;
    Error err;
    if (trainer_init(&tr, &m, &ck_run.ts, &ck_run.ts, &tc, &err)) abort();
    Status s = trainer_load_state(&tr, w, &err);
    trainer_free(&tr);
    llama_free(&m);
    return s == STATUS_OK;
}

/* ---- tokens.json (forward-backward) ---- */
static void tokens_setup(const char *w) {
    fx_text(w, "tokens.json", "{\"inputs\": [[28, 46, 43, 18, 0, 49], [1, 2, 3, 4, 5, 6]], "
                              "\"targets\": [[-100, 43, 18, -100, 49, 7], [2, 3, -100, -100, 6, 1]]}");
}
static int tokens_run(const char *w) {
    ModelConfig c = tiny_config(0);
    TokenBatch tb;
    Error err;
    if (token_batch_load(fx_path(w, "tokens.json"), &c, &tb, &err)) return 0;
    token_batch_free(&tb);
    return 1;
}

#define T(NAME, FILE, EXTRA) { #NAME, FILE, NAME##_setup, EXTRA, NAME##_run }
const FuzzTarget FUZZ_MODEL_TARGETS[] = {
    { "safetensors", "t.safetensors", st_setup, NULL, st_run },
    T(hf_config, "config.json", hf_config_seeds), T(hf_weights, "model.safetensors", NULL),
    { "mixtral", "config.json", mixtral_setup, NULL, mixtral_run },
    T(hf_index, "model.safetensors.index.json", NULL),
    T(llama2c, "model.bin", llama2c_seeds),
    T(adapter_config, "adapter/adapter_config.json", NULL),
    T(adapter_weights, "adapter/adapter_model.safetensors", NULL),
    { "checkpoint", "checkpoint/state.safetensors", checkpoint_setup, NULL, checkpoint_run },
    { "tokens_json", "tokens.json", tokens_setup, NULL, tokens_run },
};
const int FUZZ_N_MODEL_TARGETS = (int)(sizeof FUZZ_MODEL_TARGETS / sizeof FUZZ_MODEL_TARGETS[0]);
