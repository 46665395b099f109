/* cli/make_tiny.h — tiny random Llama models (+ a random LoRA adapter) on disk, deterministic in
   the seed: `./train make-tiny`, the golden parity fixtures (tests/golden) and a handy tool.
   defines: MakeTinySpec, make_tiny_defaults, make_tiny_parse, make_tiny_build, make_tiny_write,
            make_tiny_nonzero_b, make_tiny_cli
   The adapter options are the ones train / eval / forward-backward take (cli/adapter_options.h):
   routing variants, per-layer lists, aux settings and moe-ffn options all go to the adapter's
   adapter_config.json.
   Initialisation (same spirit as torch_ref.py make-tiny, with the C RNG tensor/rng.h):
     llama_init_base_random(seed, std 1) then every matrix except the embedding table is scaled
     by 1/sqrt(in) (in float), so linears are N(0, 1/in), embeddings N(0, 1), norms 1 + 0.1 N(0,1);
     adapter: A kaiming-uniform U(±1/sqrt(in)) from llama_init_adapter(seed), B = 0 or, with
     nonzero_b, N(0, 0.02²) from rng_derive(seed, 3) over the lora_B tensors in declaration order.
     molora / adamoe adapters: per expert A_e, B_e (as above) and a router U(±1/sqrt(in)).
   The in-memory model uses the layout of the output format (llama2.c: Meta rows, HF: HF rows),
   so the adapter's q/k lora_B rows belong to the written file's layout.
   Families (flag names as torch_ref.py make-tiny): --arch qwen2 (q/k/v biases ~ 0.5 N(0,1)),
   --attention-bias (llama q/k/v/o biases), --rope-scaling llama3 --rope-factor F --rope-low L
   --rope-high H --rope-orig O, --rope-theta, --norm-eps, --head-dim. --like DIR makes a random
   model of DIR/config.json's exact shape and keys (the file is copied as is): e.g. a real
   Llama-3.2-1B config. Without --adapter-out, an HF model is never held in memory: it is written
   tensor by tensor in the file's dtype (nn/base_init.h hf_write_random), the same bytes as the
   in-memory path, so a Llama-3-8B shape needs a few MB (and about 3 minutes on 2 cores); with
   --adapter-out (or llama2c) it is built in memory, bf16 storage for --dtype bf16. */
#ifndef MAKE_TINY_H
#define MAKE_TINY_H
#include "cli/adapter_options.h"
#include "nn/llama.h"
#include "tensor/status.h"

typedef struct {
    const char *out;            /* model path: .bin file (llama2c) or directory (hf) */
    const char *format;         /* "llama2c" | "hf" */
    int version;                /* llama2.c 0 | 1 */
    const char *dtype;          /* hf: "f32" | "bf16" | "f16" (llama2c: f32 only) */
    int seed;
    int dim, layers, heads, kv_heads, hidden, vocab, seq_len, tied;
    const char *adapter_out;    /* NULL: no adapter */
    int nonzero_b;
    AdapterOptions ad;          /* --adapter lora (default) | molora | adamoe | moe-ffn, --rank, ... */
    const char *config;         /* --config JSON with the same keys */
    const char *arch;           /* "llama" (default) | "mixtral" (--model-experts, --model-top-k) |
                                   "qwen2" (q/k/v biases); hf only beyond llama */
    int model_experts, model_top_k;   /* Mixtral FFN experts per layer and the base router's top-k */
    int head_dim;               /* 0 = dim / heads */
    double rope_theta, norm_eps;   /* 0 = 10000 and 1e-5 (qwen2: 1e-6), as torch_ref.py */
    int attention_bias;         /* llama: q/k/v/o biases */
    const char *rope_scaling;   /* "none" | "llama3" (--rope-factor/-low/-high/-orig; 0 = 8, 1, 4, 8192) */
    double rope_factor, rope_low, rope_high;
    int rope_orig;
    const char *like;           /* an HF directory: its config.json is copied and its shape used */
} MakeTinySpec;

void make_tiny_defaults(MakeTinySpec *s);
/* Parses options argv[first..argc) over the values already in *s (and --config if given). */
Status make_tiny_parse(MakeTinySpec *s, int argc, char **argv, int first, int *want_help, Error *err);
/* Declares and fills the model (and the adapter when adapter_out is set; the
   adapter options are checked either way). */
Status make_tiny_build(LlamaModel *m, const MakeTinySpec *s, Error *err);
/* B of every LoRA expert ~ N(0, 0.02²) from rng_derive(seed, 3), in declaration order (what
   --nonzero-b does after llama_init_adapter; forward-backward uses it for an adapter without a
   directory). */
void make_tiny_nonzero_b(LlamaModel *m, uint64_t seed);
/* Builds, then writes s->out and, if s->adapter_out, the PEFT adapter directory. */
Status make_tiny_write(const MakeTinySpec *s, Error *err);
int make_tiny_cli(int argc, char **argv);

#endif
