/* cli/export.c — `./train export`: merge what was trained into the base and write a checkpoint
   other tools load (PEFT's merge_and_unload, as a command).
     export --model M --adapter-dir D --out DIR [--format hf|llama2c] [--dtype f32|bf16|f16]
            [--tokenizer T] [--adapter full] [--base-dtype f32|bf16|nf4|nf4-nodq|int8] [--threads N]
   LoRA (D holds adapter_config.json + adapter_model.safetensors): W' = W + s·B·A per adapted
   linear (s = α/r, rsLoRA α/√r: the adapter's own setting; nn/lora_merge.h), in f32.
   --adapter full: D is the run directory of a full fine-tuning run (D/checkpoint/state.safetensors,
   checked against the model) and its trained weights are written.
   Mo-LoRA / AdaMoE / moe-ffn adapters are refused (their mixture depends on the input), with a
   pointer to generate / eval, which use them as they are.
   --base-dtype bf16|nf4|nf4-nodq|int8: the base is stored as in a (Q)LoRA run with that
   --base-dtype (the quantised layer weights, and the bf16 embedding / LM head) and widened /
   dequantised before the merge, so the exported model is the one the adapter was trained against
   (a note says so); the file holds dequantised --dtype values, never 4/8-bit codes.
   Output: hf = DIR/config.json + DIR/model.safetensors (q/k rows in HF layout); llama2c =
   DIR/model.bin (v0, f32, Meta rows: what llama2.c's run.c reads; only plain Llama shapes with
   run.c's fixed eps 1e-5 and theta 10000). --tokenizer T is copied to DIR (with
   tokenizer_config.json / special_tokens_map.json when they sit beside a tokenizer.json). Every
   file is written atomically (temp file, fsync, rename). */
#include "cli/export.h"
#include "cli/errors.h"
#include "cli/flags.h"
#include "cli/model_flags.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/lora_merge.h"
#include "optim/trainer.h"
#include "data/atomic_file.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE "usage: ./train export --model M --adapter-dir D --out DIR [--format hf|llama2c] [--dtype f32|bf16|f16]\n" \
              "       [--tokenizer T] [--adapter full] [--base-dtype f32|bf16|nf4|nf4-nodq|int8] [--threads N]"

typedef struct {
    const char *model, *tokenizer, *adapter_dir, *out, *format, *dtype, *adapter, *base_dtype;
    int threads;
} ExportOptions;

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* src -> dst byte for byte, atomically */
static Status copy_file(const char *src, const char *dst, Error *err) {
    FILE *in = fopen(src, "rb");
    if (!in) return error_set(err, STATUS_IO, NULL, "cannot open %s", src);
    AtomicFile af;
    Status s = atomic_write_begin(&af, dst, err);
    if (s) { fclose(in); return s; }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, af.f);
    int bad = ferror(in);
    fclose(in);
    if (bad) { atomic_write_abort(&af); return error_set(err, STATUS_IO, NULL, "cannot read %s", src); }
    return atomic_write_commit(&af, err);
}

/* T under its own name (a llama2.c tokenizer as tokenizer.bin, the name run.c looks for), and
   the HF tokenizer's companions found beside it */
static Status copy_tokenizer(const char *tok, const char *out, Error *err) {
    static const char *const companions[] = { "tokenizer_config.json", "special_tokens_map.json" };
    const char *slash = strrchr(tok, '/'), *base = slash ? slash + 1 : tok;
    size_t len = strlen(base);
    char dst[1024], src[1024];
    snprintf(dst, sizeof dst, "%s/%s", out, len > 4 && !strcmp(base + len - 4, ".bin") ? "tokenizer.bin" : base);
    Status s = copy_file(tok, dst, err);
    if (s || strcmp(base, "tokenizer.json")) return s;
    for (int i = 0; !s && i < 2; i++) {
        snprintf(src, sizeof src, "%.*s%s", (int)(base - tok), tok, companions[i]);
        snprintf(dst, sizeof dst, "%s/%s", out, companions[i]);
        if (file_exists(src)) s = copy_file(src, dst, err);
    }
    return s;
}

/* llama2.c's run.c knows plain Llama shapes with fixed constants only */
static Status llama2c_representable(const ModelConfig *c, Error *err) {
    const char *why = c->n_experts > 0 ? "Mixtral experts" : c->qwen2 ? "the qwen2 family (q/k/v biases)"
                    : c->bias_targets ? "attention biases" : c->rope_scaling != ROPE_SCALING_NONE ? "rope_scaling"
                    : c->head_dim * c->n_heads != c->dim ? "head_dim != hidden/heads"
                    : c->rope_theta != 10000.0 ? "rope_theta != 10000" : c->norm_eps != 1e-5 ? "rms_norm_eps != 1e-5" : NULL;
    if (!why) return STATUS_OK;
    return error_set(err, STATUS_INVALID, "use --format hf", "a llama2.c .bin cannot hold this model: it has %s "
                     "(run.c fixes the architecture, eps 1e-5 and theta 10000)", why);
}

/* HF rows -> Meta rows for q / k, in place (llama2c_write wants the interleaved layout) */
static void to_meta_layout(LlamaModel *m) {
    if (!m->cfg.rope_half) return;
    for (int i = 0; i < m->cfg.n_layers; i++)
        for (int k = 0; k < 2; k++) {
            Tensor *w = k ? m->layers[i].k.weight : m->layers[i].q.weight;
            float *buf = xmalloc(w->numel * sizeof *buf);
            param_get_f32(w, buf);
            rope_permute_rows(buf, k ? m->cfg.n_kv_heads : m->cfg.n_heads, m->cfg.head_dim, w->shape[1], 0);
            param_set_f32(w, buf);
            free(buf);
        }
    m->cfg.rope_half = 0;
}

static Status write_model(LlamaModel *m, const ExportOptions *o, Error *err) {
    int l2c = !strcmp(o->format, "llama2c");
    Status s = l2c ? llama2c_representable(&m->cfg, err) : STATUS_OK;
    if (!s) s = dirs_make(o->out, err);
    if (s) return s;
    char path[1024];
    if (l2c) {
        to_meta_layout(m);
        snprintf(path, sizeof path, "%s/model.bin", o->out);
        s = llama2c_write(m, path, 0, err);
    } else {
        SafeDtype dt = !strcmp(o->dtype, "bf16") ? SAFE_BF16 : !strcmp(o->dtype, "f16") ? SAFE_F16 : SAFE_F32;
        s = hf_write(m, o->out, dt, err);
    }
    if (!s && o->tokenizer) s = copy_tokenizer(o->tokenizer, o->out, err);
    return s;
}

/* --adapter full: D/checkpoint/state.safetensors (or D/state.safetensors) into the trainable block */
static Status load_full(LlamaModel *m, const ExportOptions *o, Error *err) {
    AdapterConfig a = { .kind = ADAPTER_FULL };
    Status s = model_load(m, o->model, &a, 0, err);
    if (s) return s;
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", o->adapter_dir);
    if (!file_exists(path)) snprintf(path, sizeof path, "%s/state.safetensors", o->adapter_dir);
    s = train_state_load_params(m, path, err);
    if (s) llama_free(m);
    return s;
}

/* The base as a run with --base-dtype held it: every frozen matrix stored as bf16 or NF4 / int8
   there is replaced by its widened / dequantised values. Returns the matrices replaced. */
static int as_trained(LlamaModel *m, const ExportOptions *o, int code, Error *err, Status *s) {
    LlamaModel q;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    if ((*s = model_load(&q, o->model, &none, code, err))) return 0;
    int n = 0;
    float *buf = NULL;
    for (int i = 0; i < q.ps.n; i++) {
        const Tensor *t = q.ps.params[i];
        if (!t->quant && !t->bf16) continue;
        Tensor *d = param_find(&m->ps, t->name);
        CHECK(d && d->numel == t->numel, "export: %s differs between the two loads", t->name);
        buf = xrealloc(buf, t->numel * sizeof *buf);
        param_get_f32(t, buf);
        param_set_f32(d, buf);
        n++;
    }
    free(buf);
    llama_free(&q);
    return n;
}

/* a LoRA adapter: refuse the kinds that cannot merge before loading anything */
static Status load_lora(LlamaModel *m, const ExportOptions *o, int *merged, Error *err) {
    AdapterConfig a;
    Status s = adapter_read_config(o->adapter_dir, &a, err);
    if (!s) s = lora_merge_check(&a, o->adapter_dir, err);
    if (!s) s = model_load(m, o->model, &a, 0, err);   /* f32 storage: the merge is exact in float */
    if (s) return s;
    int code = 0;
    if (strcmp(o->base_dtype, "f32") && !(s = base_dtype_code(o->base_dtype, NULL, 0, &code, err))) {
        int n = as_trained(m, o, code, err, &s);
        if (!s)
            fprintf(stderr, "note: the base is stored as %s as in training and %s for export (%d matrices); the "
                    "files hold %s values\n", o->base_dtype, code >= BASE_DTYPE_NF4 ? "dequantised" : "widened", n, o->dtype);
    }
    if (s) { llama_free(m); return s; }
    if ((s = adapter_load(m, o->adapter_dir, err))) { llama_free(m); return s; }
    *merged = lora_merge(m);
    return STATUS_OK;
}

static Status check_options(const ExportOptions *o, Error *err) {
    if (!o->model || !o->adapter_dir || !o->out)
        return error_set(err, STATUS_INVALID, USAGE, "export needs --model, --adapter-dir and --out");
    if (strcmp(o->format, "hf") && strcmp(o->format, "llama2c"))
        return error_set(err, STATUS_INVALID, NULL, "--format must be hf or llama2c, got '%s'", o->format);
    if (strcmp(o->dtype, "f32") && strcmp(o->dtype, "bf16") && strcmp(o->dtype, "f16"))
        return error_set(err, STATUS_INVALID, NULL, "--dtype must be f32, bf16 or f16, got '%s'", o->dtype);
    if (!strcmp(o->format, "llama2c") && strcmp(o->dtype, "f32"))
        return error_set(err, STATUS_INVALID, "use --format hf for bf16 / f16", "llama2.c .bin files are f32, got --dtype %s", o->dtype);
    if (o->adapter && strcmp(o->adapter, "full"))
        return error_set(err, STATUS_INVALID, "leave --adapter out: the kind comes from D/adapter_config.json",
                         "--adapter takes only 'full' here (a full fine-tuning run), got '%s'", o->adapter);
    if (o->adapter && strcmp(o->base_dtype, "f32"))
        return error_set(err, STATUS_INVALID, NULL, "--base-dtype %s: a full fine-tuning run trains the weights themselves "
                         "(nothing is quantised)", o->base_dtype);
    if (o->threads < 0) return error_set(err, STATUS_INVALID, NULL, "--threads must be >= 0, got %d", o->threads);
    return STATUS_OK;
}

static Status run(const ExportOptions *o, Error *err) {
    LlamaModel m;
    int merged = 0;
    Status s = o->adapter ? load_full(&m, o, err) : load_lora(&m, o, &merged, err);
    if (s) return s;
    s = write_model(&m, o, err);
    if (!s && o->adapter)
        printf("wrote %s (%s, %s): the fully fine-tuned weights of %s\n", o->out, o->format, o->dtype, o->adapter_dir);
    else if (!s)
        printf("wrote %s (%s, %s): %d LoRA pairs merged (W + %s·B·A)\n", o->out, o->format, o->dtype, merged,
               m.acfg.rslora ? "alpha/sqrt(r)" : "alpha/r");
    llama_free(&m);
    return s;
}

int export_cli(int argc, char **argv) {
    ExportOptions o = { .format = "hf", .dtype = "f32", .base_dtype = "f32" };
    Flag own[] = {
        { "out", FLAG_STRING, &o.out, "output directory (created; files written atomically)", 0 },
        { "format", FLAG_STRING, &o.format, "hf (config.json + model.safetensors) | llama2c (model.bin, f32)", 0 },
        { "dtype", FLAG_STRING, &o.dtype, "hf weights: f32 | bf16 | f16", 0 },
        { "adapter", FLAG_STRING, &o.adapter, "full: --adapter-dir is a full fine-tuning run directory", 0 },
        { "base-dtype", FLAG_STRING, &o.base_dtype, "the base the adapter was trained on: f32 | bf16 | nf4 | nf4-nodq | int8 (dequantised for export)", 0 },
        { "threads", FLAG_INT, &o.threads, "worker threads (0: $MOETRAIN_THREADS or all CPUs)", 0 },
    };
    Flag f[MODEL_FLAGS_MAX + 6];
    int n = model_flags(f, &o.model, &o.tokenizer, &o.adapter_dir, own, 6), help = 0;
    Error err;
    Status s = flags_parse(f, n, argc, argv, 1, &help, &err);
    if (!s && help) {
        flags_print_help(stdout, USAGE, f, n);
        return 0;
    }
    if (!s) s = check_options(&o, &err);
    if (!s && o.threads > 0) threads_init(o.threads);
    if (!s) s = run(&o, &err);
    if (s) error_print(&err);
    return cli_exit_code(s);
}
