/* cli/make_tiny.c — tiny random models and adapters (see make_tiny.h). */
#include "cli/make_tiny.h"
#include "cli/errors.h"
#include "nn/moe_ffn.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "nn/checkpoint.h"
#include "nn/base_init.h"
#include "cli/flags.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "usage: ./train make-tiny --out PATH [--format llama2c|hf] [--version 0|1] [--dtype f32|bf16]\n" \
              "       [--seed S] [--dim 64 --layers 2 --heads 4 --kv-heads 2 --hidden 160 --vocab 300 --seq-len 256 --tied]\n" \
              "       [--arch llama|mixtral|qwen2] [--head-dim D --rope-theta T --norm-eps E --attention-bias]\n" \
              "       [--rope-scaling llama3 --rope-factor 8 --rope-low 1 --rope-high 4 --rope-orig 8192] [--like HF_DIR]\n" \
              "       [--adapter-out DIR --rank 8 --alpha 16 --targets q,k,v,o,gate,up,down --nonzero-b]\n" \
              "       [--adapter molora|adamoe|moe-ffn --experts 4 --null 4 --top-k 4 --routing topk ...]\n" \
              "       (the adapter options are train's: --experts 2,4 --top-k 1,2 give one value per layer)"

void make_tiny_defaults(MakeTinySpec *s) {
    memset(s, 0, sizeof *s);
    s->format = "hf";
    s->dtype = "f32";
    s->dim = 64; s->layers = 2; s->heads = 4; s->kv_heads = 2; s->hidden = 160; s->vocab = 300;
    s->seq_len = 256;
    adapter_options_default(&s->ad);
    s->arch = "llama"; s->model_experts = 4; s->model_top_k = 2;
    s->rope_scaling = "none";
}

#define MAKE_TINY_MAX_FLAGS (32 + ADAPTER_OPTIONS_N_FLAGS)

static int make_flags(Flag *f, MakeTinySpec *s) {
    Flag t[] = {
        { "out", FLAG_STRING, &s->out, "model path: a .bin file (llama2c) or a directory (hf)", 0 },
        { "format", FLAG_STRING, &s->format, "llama2c | hf", 0 },
        { "version", FLAG_INT, &s->version, "llama2.c file version 0 (legacy) | 1", 0 },
        { "dtype", FLAG_STRING, &s->dtype, "hf weights: f32 | bf16 | f16", 0 },
        { "seed", FLAG_INT, &s->seed, "random seed (model and adapter)", 0 },
        { "dim", FLAG_INT, &s->dim, "model width", 0 },
        { "layers", FLAG_INT, &s->layers, "decoder layers", 0 },
        { "heads", FLAG_INT, &s->heads, "attention heads", 0 },
        { "kv-heads", FLAG_INT, &s->kv_heads, "key/value heads (GQA)", 0 },
        { "hidden", FLAG_INT, &s->hidden, "FFN hidden size", 0 },
        { "vocab", FLAG_INT, &s->vocab, "vocabulary size", 0 },
        { "seq-len", FLAG_INT, &s->seq_len, "maximum sequence length", 0 },
        { "tied", FLAG_BOOL, &s->tied, "LM head shares the embedding table", 0 },
        { "arch", FLAG_STRING, &s->arch, "llama | mixtral (MoE FFN) | qwen2 (q/k/v biases); --format hf beyond llama", 0 },
        { "head-dim", FLAG_INT, &s->head_dim, "head size (0 = dim / heads)", 0 },
        { "rope-theta", FLAG_DOUBLE, &s->rope_theta, "RoPE base (0 = 10000)", 0 },
        { "norm-eps", FLAG_DOUBLE, &s->norm_eps, "RMSNorm epsilon (0 = 1e-5; qwen2 1e-6)", 0 },
        { "attention-bias", FLAG_BOOL, &s->attention_bias, "llama: q/k/v/o biases (attention_bias true)", 0 },
        { "rope-scaling", FLAG_STRING, &s->rope_scaling, "none | llama3 (Llama 3.1/3.2 frequency rescaling)", 0 },
        { "rope-factor", FLAG_DOUBLE, &s->rope_factor, "llama3 factor (0 = 8)", 0 },
        { "rope-low", FLAG_DOUBLE, &s->rope_low, "llama3 low_freq_factor (0 = 1)", 0 },
        { "rope-high", FLAG_DOUBLE, &s->rope_high, "llama3 high_freq_factor (0 = 4)", 0 },
        { "rope-orig", FLAG_INT, &s->rope_orig, "llama3 original_max_position_embeddings (0 = 8192)", 0 },
        { "like", FLAG_STRING, &s->like, "HF directory whose config.json (copied as is) gives the shape", 0 },
        { "model-experts", FLAG_INT, &s->model_experts, "mixtral: FFN experts per layer (num_local_experts)", 0 },
        { "model-top-k", FLAG_INT, &s->model_top_k, "mixtral: the base router's top-k (num_experts_per_tok)", 0 },
        { "adapter-out", FLAG_STRING, &s->adapter_out, "also write a random adapter directory (--adapter, ...)", 0 },
        { "nonzero-b", FLAG_BOOL, &s->nonzero_b, "B ~ N(0, 0.02) instead of zeros", 0 },
        { "config", FLAG_STRING, &s->config, "JSON file with these options", 0 },
    };
    int n = (int)(sizeof t / sizeof t[0]);
    memcpy(f, t, sizeof t);
    n += adapter_options_flags(&s->ad, f + n);   /* the adapter options of train / eval / forward-backward */
    CHECK(n <= MAKE_TINY_MAX_FLAGS, "%d make-tiny options exceed MAKE_TINY_MAX_FLAGS", n);
    return n;
}

Status make_tiny_parse(MakeTinySpec *s, int argc, char **argv, int first, int *want_help, Error *err) {
    Flag f[MAKE_TINY_MAX_FLAGS];
    int n = make_flags(f, s);
    Status st = flags_parse(f, n, argc, argv, first, want_help, err);
    if (!st && s->config && !*want_help) st = flags_load_config(f, n, s->config, err);
    if (st || !*want_help) return st;
    flags_print_help(stdout, USAGE, f, n);
    return STATUS_OK;
}

/* --arch, biases, RoPE (theta, llama3 scaling), eps and head size (torch_ref.py's defaults) */
static Status family_config(const MakeTinySpec *s, int hf, ModelConfig *c, Error *err) {
    int qwen2 = !strcmp(s->arch, "qwen2"), mix = !strcmp(s->arch, "mixtral"), l3 = !strcmp(s->rope_scaling, "llama3");
    if (!qwen2 && !mix && strcmp(s->arch, "llama"))
        return error_set(err, STATUS_INVALID, NULL, "--arch must be llama, mixtral or qwen2, got '%s'", s->arch);
    if (!l3 && strcmp(s->rope_scaling, "none"))
        return error_set(err, STATUS_INVALID, NULL, "--rope-scaling must be none or llama3, got '%s'", s->rope_scaling);
    if (!l3 && (s->rope_factor != 0 || s->rope_low != 0 || s->rope_high != 0 || s->rope_orig != 0))
        return error_set(err, STATUS_INVALID, NULL, "--rope-factor/--rope-low/--rope-high/--rope-orig need --rope-scaling llama3");
    if (s->attention_bias && (qwen2 || mix))
        return error_set(err, STATUS_INVALID, NULL, "--attention-bias is for --arch llama (qwen2 always has q/k/v biases)");
    if (!hf && (qwen2 || mix || s->attention_bias || l3 || s->rope_theta != 0 || s->norm_eps != 0))
        return error_set(err, STATUS_INVALID, "llama2.c files fix theta 10000, eps 1e-5 and have no biases",
                         "--arch %s / --attention-bias / --rope-* / --norm-eps need --format hf", s->arch);
    if (s->head_dim == 0 && (s->heads <= 0 || s->dim % s->heads))
        return error_set(err, STATUS_INVALID, NULL, "--dim %d must be a multiple of --heads %d", s->dim, s->heads);
    if (!hf && s->head_dim != 0 && s->head_dim * s->heads != s->dim)
        return error_set(err, STATUS_INVALID, NULL, "llama2.c files have head_dim = dim / heads; --head-dim needs --format hf");
    c->head_dim = s->head_dim ? s->head_dim : s->dim / s->heads;
    c->rope_theta = s->rope_theta != 0 ? s->rope_theta : 10000.0;
    c->norm_eps = s->norm_eps != 0 ? s->norm_eps : qwen2 ? 1e-6 : 1e-5;
    c->qwen2 = qwen2;
    c->bias_targets = qwen2 ? LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V
                    : s->attention_bias ? LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V | LORA_TARGET_O : 0;
    if (l3) {
        c->rope_scaling = ROPE_SCALING_LLAMA3;
        c->rope_factor = s->rope_factor != 0 ? s->rope_factor : 8.0;   /* Llama 3.1's values */
        c->rope_low_freq = s->rope_low != 0 ? s->rope_low : 1.0;
        c->rope_high_freq = s->rope_high != 0 ? s->rope_high : 4.0;
        c->rope_orig_max_pos = s->rope_orig != 0 ? s->rope_orig : 8192;
    }
    if (!mix) return STATUS_OK;
    if (s->model_experts < 1 || s->model_experts > MOE_MAX_EXPERTS || s->model_top_k < 1 || s->model_top_k > s->model_experts)
        return error_set(err, STATUS_INVALID, NULL, "--model-top-k %d must be in 1..--model-experts %d (<= %d)",
                         s->model_top_k, s->model_experts, MOE_MAX_EXPERTS);
    c->n_experts = s->model_experts;
    c->experts_per_tok = s->model_top_k;
    return STATUS_OK;
}

/* the model's shape: --like DIR's config.json, or the geometry and family options */
static Status model_shape(const MakeTinySpec *s, int hf, ModelConfig *c, Error *err) {
    if (s->like) {
        if (!hf) return error_set(err, STATUS_INVALID, NULL, "--like needs --format hf");
        return hf_read_config(s->like, c, err);
    }
    memset(c, 0, sizeof *c);
    c->dim = s->dim; c->hidden_dim = s->hidden; c->n_layers = s->layers; c->n_heads = s->heads;
    c->n_kv_heads = s->kv_heads; c->vocab_size = s->vocab; c->max_seq_len = s->seq_len;
    c->tied = s->tied; c->rope_half = hf;
    c->bos_id = 1; c->eos_id = 2;
    Status st = family_config(s, hf, c, err);
    return st ? st : model_config_validate(c, "make-tiny", err);
}

static Status spec_to_config(const MakeTinySpec *s, ModelConfig *c, AdapterConfig *a, Error *err) {
    int hf = !strcmp(s->format, "hf");
    if (!hf && strcmp(s->format, "llama2c"))
        return error_set(err, STATUS_INVALID, NULL, "--format must be llama2c or hf, got '%s'", s->format);
    if (!hf && (s->version < 0 || s->version > 1))
        return error_set(err, STATUS_INVALID, NULL, "--version must be 0 or 1, got %d", s->version);
    if (strcmp(s->dtype, "f32") && (!hf || (strcmp(s->dtype, "bf16") && strcmp(s->dtype, "f16"))))
        return error_set(err, STATUS_INVALID, "llama2.c files are f32; hf takes f32, bf16 or f16",
                         "--dtype '%s' is not available for format %s", s->dtype, s->format);
    Status st = model_shape(s, hf, c, err);
    if (!st) st = adapter_options_config(&s->ad, c, a, err);   /* checked even without --adapter-out */
    if (st) return st;
    if (!s->adapter_out) {
        memset(a, 0, sizeof *a);
        a->kind = ADAPTER_NONE;
    } else if (a->kind != ADAPTER_LORA && !adapter_is_routed(a)) {
        st = error_set(err, STATUS_INVALID, NULL, "--adapter must be lora, molora, adamoe or moe-ffn, got '%s'",
                       s->ad.adapter);
    }
    if (!st && s->adapter_out) st = moe_ffn_check_model(c, a, "make-tiny", err);   /* e.g. router on a dense model */
    return st;
}

/* declares (frozen base in bf16 storage when bf16) and fills the model; an allocation that fails
   is an error with the sizes, not an abort */
static Status build(LlamaModel *m, const MakeTinySpec *s, int bf16, Error *err) {
    ModelConfig c;
    AdapterConfig a;
    Status st = spec_to_config(s, &c, &a, err);
    if (st) return st;
    uint64_t seed = (uint64_t)(int64_t)s->seed;
    llama_declare_params(m, &c, &a, bf16);
    if ((st = llama_allocate(m, err))) {
        llama_free(m);
        return st;
    }
    llama_init_base_fan_in(m, seed);   /* linears N(0, 1/in), rounded once to the storage */
    llama_init_adapter(m, seed);
    if (s->nonzero_b) make_tiny_nonzero_b(m, seed);
    return STATUS_OK;
}

Status make_tiny_build(LlamaModel *m, const MakeTinySpec *s, Error *err) { return build(m, s, 0, err); }

void make_tiny_nonzero_b(LlamaModel *m, uint64_t seed) {
    Rng r = rng_derive(seed, 3);
    for (int i = 0; i < m->ps.n; i++)
        if (strstr(m->ps.params[i]->name, ".lora_B."))
            rng_fill_normal(&r, m->ps.params[i]->data, m->ps.params[i]->numel, 0.0, 0.02);
}

/* "make-tiny: 3.1 / 14.5 GB written (21 %)" on stderr for models over 256 MB: redrawn per
   percent on a terminal, a line per 10 % otherwise (logs) */
static void show_progress(void *ctx, double done, double total) {
    int *last = ctx, pct = total > 0 ? (int)(100.0 * done / total) : 100, tty = isatty(2);
    if (total < 256e6 || pct == *last || (!tty && pct % 10)) return;
    *last = pct;
    fprintf(stderr, "%smake-tiny: %.1f / %.1f GB written (%d %%)%s", tty ? "\r" : "", done / 1e9, total / 1e9, pct,
            !tty || pct == 100 ? "\n" : "");
}

/* --format hf without an adapter: declared, never allocated, written tensor by tensor
   (nn/base_init.h), so any size fits in a few MB; the bytes are those of the in-memory path */
static Status write_streamed(const MakeTinySpec *s, SafeDtype dt, Error *err) {
    ModelConfig c;
    AdapterConfig a;
    Status st = spec_to_config(s, &c, &a, err);
    if (st) return st;
    LlamaModel m;
    llama_declare_params(&m, &c, &a, 0);
    int last = -1;
    RandomWriteProgress p = { show_progress, &last };
    st = hf_write_random(&m, (uint64_t)(int64_t)s->seed, s->out, dt, s->like == NULL, &p, err);
    llama_free(&m);
    return st;
}

Status make_tiny_write(const MakeTinySpec *s, Error *err) {
    if (!s->out) return error_set(err, STATUS_INVALID, "give --out PATH", "make-tiny: no output path");
    int bf16 = !strcmp(s->dtype, "bf16"), hf = !strcmp(s->format, "hf");
    SafeDtype dt = bf16 ? SAFE_BF16 : !strcmp(s->dtype, "f16") ? SAFE_F16 : SAFE_F32;
    Status st;
    if (hf && !s->adapter_out) {
        st = write_streamed(s, dt, err);
        if (!st && s->like) st = hf_copy_config(s->like, s->out, err);
        return st;
    }
    LlamaModel m;
    if ((st = build(&m, s, bf16, err))) return st;
    if (!hf) st = llama2c_write(&m, s->out, s->version, err);
    else if (s->like) st = hf_write_weights(&m, s->out, dt, err);
    else st = hf_write(&m, s->out, dt, err);
    if (!st && s->like) st = hf_copy_config(s->like, s->out, err);
    if (!st && s->adapter_out) st = adapter_save(&m, s->adapter_out, s->out, err);
    llama_free(&m);
    return st;
}

int make_tiny_cli(int argc, char **argv) {
    MakeTinySpec s;
    make_tiny_defaults(&s);
    int help;
    Error err;
    Status st = make_tiny_parse(&s, argc, argv, 1, &help, &err);
    if (!st && help) return 0;
    if (!st) st = make_tiny_write(&s, &err);
    if (st) {
        error_print(&err);
        return 1;
    }
    printf("wrote %s%s%s\n", s.out, s.adapter_out ? " and " : "", s.adapter_out ? s.adapter_out : "");
    return 0;
}
