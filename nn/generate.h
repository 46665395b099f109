/* nn/generate.h — text generation with a KV cache: the no-tape inference path of LlamaModel.
   defines: DecodeState, decode_state_init, decode_step, decode_state_free,
            Sampler, sampler_init, sampler_next, sampler_free, argmax_first,
            GenerateConfig, GenerateTokenFn, generate_config_default, llama_generate,
            GENERATE_RNG_STREAM
   decode_step runs ONE token at position pos through the same math as llama_hidden +
   llama_logits (nn/llama.c) on a [1, C] row, reading positions 0..pos-1 from the per-layer
   k/v caches [cap, KV, D] and appending its own k (rotated) and v:
     x = emb[id];  per layer: h = rmsnorm(x)·w_in;  q,k,v = lora(h);  rope(q, k at pos)
       a = attention_decode_step(q, k_cache, v_cache);  x = x + o(a)
       h = rmsnorm(x)·w_post;  x = x + down(silu(gate(h)) * up(h))
     logits = lm_head · rmsnorm(x)·w_final
   MoE FFN blocks (Mixtral, upcycled: layer.ffn) replace the SwiGLU line by the block's routing
   and each selected true expert's SwiGLU (weighted, in ascending expert order, + identity nulls);
   Mo-LoRA / AdaMoE linears add their experts to W x. Both run on plain row kernels, no tape
   (nn/generate_routed.c): router logits as GEMVs, op_softmax's row kernel, the training code's
   selection (route_select / route_select_rule with moe_route_spec's rule) and weights
   (route_weights_rows), then each selected LoRA expert as A x and Bᵀ rows, as op_routed_lora
   computes them. Router statistics are not accumulated while decoding (unless count_routes) and
   the router log is empty after each step. Expert-choice routing (non-causal) cannot decode.
   Linears: y = W x (a row-parallel GEMV over real or bf16 storage) (+ b where the model has a
   bias: Qwen2 q/k/v, Llama attention_bias) + s·B(A x) with a LoRA adapter. RoPE reads the model's
   table, so Llama 3 rope_scaling applies here as in training.
   Every buffer is allocated once by decode_state_init: no allocation per token (routed models:
   the routing records go to an arena whose blocks are kept and reused). Routed models keep a
   transposed copy of every LoRA expert's B, so the adapter must not change while a DecodeState
   is alive.
   Sampling (sampler_next): temperature 0 = greedy argmax (ties -> lowest id); else
   p = softmax(logits / temperature) in double, restricted to the nucleus when top_p < 1 (the
   smallest set of most probable tokens whose mass reaches top_p; Holtzman et al. 2020,
   "The Curious Case of Neural Text Degeneration"), renormalised, and drawn with one uniform. */
#ifndef GENERATE_H
#define GENERATE_H
#include "nn/llama.h"
#include "tensor/rng.h"
#include "tensor/status.h"

#define GENERATE_RNG_STREAM 5   /* rng_derive(seed, 5) drives sampling */

typedef struct DecodeRouted DecodeRouted;   /* nn/generate_routed.c */

typedef struct {
    const LlamaModel *m;
    int cap;                    /* positions the caches hold */
    real *k_cache, *v_cache;    /* [L, cap, KV*D] */
    real *x, *xb, *q, *att, *out, *ff_gate, *ff_up, *lora_h, *lora_d, *logits, *scores;
    int routed;                 /* the model has routers (m->moe): MoE FFN blocks or MoE linears */
    int count_routes;           /* 1: every routed row is counted into m->moe->stats as a forward
                                   counts it (Load while decoding); default 0 */
    DecodeRouted *rt;           /* routed only: the routed modules' scratch */
} DecodeState;

/* Allocates the caches for positions 0..cap-1 (cap <= max_seq_len) and the scratch. */
void decode_state_init(DecodeState *s, const LlamaModel *m, int cap);
/* Token `id` at position `pos` (0 <= pos < cap; positions < pos already decoded). Returns the
   logits [V] (owned by s, valid until the next call) or, if want_logits == 0, NULL (the LM head
   is skipped: prompt tokens). */
const real *decode_step(DecodeState *s, int id, int pos, int want_logits);
void decode_state_free(DecodeState *s);

typedef struct { double p; int id; } ProbIndex;

typedef struct {
    int V;
    double *prob;               /* [V] */
    ProbIndex *cand;            /* [V] nucleus candidates */
} Sampler;

void sampler_init(Sampler *s, int V);
/* The next id from logits [V] (see the header comment). rng is used only if temperature > 0. */
int sampler_next(Sampler *s, const real *logits, double temperature, double top_p, Rng *rng);
void sampler_free(Sampler *s);
/* index of the largest value, the first one on ties */
int argmax_first(const real *x, int n);

typedef struct {
    int steps;                  /* new tokens to generate */
    double temperature;         /* 0 = greedy */
    double top_p;               /* nucleus mass in (0, 1]; 1 = off */
    uint64_t seed;              /* sampling: rng_derive(seed, GENERATE_RNG_STREAM) */
    int stop_at_eos;            /* stop after producing an EOS id of the model (model_is_eos; kept in the output) */
    int count_routes;           /* routed models: count every decoded row into m->moe->stats
                                   (DecodeState.count_routes), e.g. for the Load of a generation */
} GenerateConfig;

GenerateConfig generate_config_default(void);   /* 64 steps, greedy, top_p 1, seed 42 */

/* Called after each generated token with the token before it (the last prompt token for the
   first); returns non-zero to stop early. */
typedef int (*GenerateTokenFn)(void *ctx, int prev_id, int id);

/* Runs the prompt (n_prompt >= 1 ids, < vocab) through the cache position by position, then
   generates up to gc->steps ids into out_ids (room for gc->steps) and sets *n_out. on_token may
   be NULL. STATUS_INVALID if the prompt is empty, an id is out of range, n_prompt + steps
   exceeds max_seq_len, temperature / top_p are out of range, or an adapter routes by expert
   choice. */
Status llama_generate(const LlamaModel *m, const int *prompt, int n_prompt, const GenerateConfig *gc,
                      GenerateTokenFn on_token, void *ctx, int *out_ids, int *n_out, Error *err);

#endif
