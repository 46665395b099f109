/* nn/llama.h — a Llama-style decoder (Touvron et al. 2023) assembled from modules.
   defines: LlamaLayer, LlamaModel, LossParts, llama_declare, llama_declare_params, llama_allocate,
            llama_init_adapter, llama_hidden, llama_hidden_padded, llama_logits, llama_loss,
            llama_loss_padded, llama_free, llama_init_base_random, llama_init_base_fan_in,
            llama_layer_forward
   Per layer, with x [N = B*T, C]:
     h = rmsnorm(x)·w_in;  q,k,v = lora(h);  q,k = rope(q,k);  a = causal_gqa_attention(q,k,v)
     x = x + o(a);  h = rmsnorm(x)·w_post;  x = x + down(silu(gate(h)) * up(h))
   then the final rmsnorm and the LM head (tied to the embedding table or not).
   q/k rows stay in the layout of the file they came from: llama2.c (Meta rows) uses interleaved
   RoPE, HF uses half-split RoPE; the two give identical logits (REFERENCE.md §4.4).
   With a molora / adamoe adapter every targeted linear is a mixture of LoRA experts (nn/moe.h);
   `moe` then holds the router log of the current forward, the aux loss and the statistics.
   Mixtral models (cfg.n_experts > 0) and dense models upcycled by a moe-ffn adapter
   (acfg.upcycle > 0) replace the FFN by a routed MoE block (nn/moe_ffn.h); its router also
   reports to `moe`. */
#ifndef LLAMA_H
#define LLAMA_H
#include "nn/lora.h"
#include "nn/moe_ffn.h"
#include "nn/model_config.h"
#include "nn/param_store.h"
#include "autograd/ops/rope.h"

typedef struct {
    Tensor *attn_norm, *ffn_norm;           /* [C] */
    LoraLinear q, k, v, o;                  /* [H*D, C], [KV*D, C], [KV*D, C], [C, H*D] */
    LoraLinear gate, up, down;              /* [F, C], [F, C], [C, F] (dense FFN; upcycled: shared) */
    MoeFfn *ffn;                            /* Mixtral / upcycled MoE FFN (nn/moe_ffn.h), else NULL */
} LlamaLayer;

typedef struct {
    ModelConfig cfg;
    AdapterConfig acfg;
    ParamStore ps;
    Tensor *tok_emb;                        /* [V, C] */
    Tensor *final_norm;                     /* [C] */
    Tensor *lm_head;                        /* [V, C]; == tok_emb when tied */
    LlamaLayer *layers;                     /* [L] */
    RopeTable rope;
    MoeState *moe;                          /* molora / adamoe only, else NULL */
    int loss_rows;                          /* data-parallel shards (optim/trainer.c): > 0 = the
                                               target rows of the GLOBAL batch, of which this
                                               process holds some; the CE is then Σ_shard/loss_rows
                                               (its shard's share of the global mean). 0: the mean */
    int recompute;                          /* 1: a recording forward keeps only each decoder layer's
                                               input and re-runs the layer in the backward
                                               (nn/recompute.h); 0 (default): every activation kept */
} LlamaModel;

typedef struct {
    double ce;                              /* mean cross-entropy */
    double aux;                             /* Σ_layers aux loss (unscaled; 0 without routers) */
    int n_counted;                          /* target rows */
} LossParts;

/* Declares every parameter (base weights frozen unless acfg->kind == ADAPTER_FULL) and
   allocates the ParamStore (zero-filled). frozen_bf16 stores frozen matrices as bf16. */
void llama_declare(LlamaModel *m, const ModelConfig *cfg, const AdapterConfig *acfg, int frozen_bf16);
/* llama_declare in two halves: declare every parameter (nothing allocated yet, so a loader can
   check the file's tensors and the memory estimate first), then allocate (a failure is a Status
   with the sizes, never an abort). After a failure llama_free still works. */
void llama_declare_params(LlamaModel *m, const ModelConfig *cfg, const AdapterConfig *acfg, int frozen_bf16);
Status llama_allocate(LlamaModel *m, Error *err);
/* Fresh adapter: A kaiming-uniform, B zero, from rng_derive(seed, 1). */
void llama_init_adapter(LlamaModel *m, uint64_t seed);
/* Random base weights (matrices N(0, std²), norms 1 + N(0, 0.01)) from rng_derive(seed, 2):
   for tests, benchmarks and the demo. */
void llama_init_base_random(LlamaModel *m, uint64_t seed, double std);
/* The same draws (std 1) with every matrix except the embedding table scaled by 1/sqrt(in) in
   float before it is stored, so linears are N(0, 1/in): make-tiny's models, in f32 or bf16
   storage alike. Biases (".bias") are 0.5·N(0, 1). */
void llama_init_base_fan_in(LlamaModel *m, uint64_t seed);
/* ids [B*T] -> final hidden states [B*T, C] (after the final norm). */
Tensor *llama_hidden(Tape *t, const LlamaModel *m, const int *ids, int B, int T, Rng *drop_rng);
/* The same with right padding made explicit: lengths [B] (or NULL = no padding); positions
   t >= lengths[b] are pads, which routers send to no expert and which count neither in the
   router statistics nor in the aux loss (moe.h). Without routers lengths change nothing. */
Tensor *llama_hidden_padded(Tape *t, const LlamaModel *m, const int *ids, const int *lengths, int B, int T,
                            Rng *drop_rng);
/* Decoder layer i alone: x [B*T, C] (the residual stream) -> the next stream [B*T, C]. */
Tensor *llama_layer_forward(Tape *t, const LlamaModel *m, int i, Tensor *x, int B, int T, Rng *drop_rng);
/* hidden [N, C] -> logits [N, V] */
Tensor *llama_logits(Tape *t, const LlamaModel *m, Tensor *hidden);
/* Mean cross-entropy over targets != -100 ([B*T]); the LM head runs only on those rows.
   *n_counted (may be NULL) receives their number. */
Tensor *llama_loss(Tape *t, const LlamaModel *m, const int *ids, const int *targets, int B, int T,
                   Rng *drop_rng, int *n_counted);
/* The trainer's loss over a right-padded batch (lengths as in llama_hidden_padded):
   CE (a shard's share when m->loss_rows > 0) + aux_coef · Σ_layers aux (aux per the adapter's kind; none for plain LoRA). llama_loss = llama_loss_padded(lengths NULL, aux_coef = acfg.aux_coef).
   parts (may be NULL) receives CE and aux separately. */
Tensor *llama_loss_padded(Tape *t, const LlamaModel *m, const int *ids, const int *targets, const int *lengths,
                          int B, int T, double aux_coef, Rng *drop_rng, LossParts *parts);
void llama_free(LlamaModel *m);

#endif
