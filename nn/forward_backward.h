/* nn/forward_backward.h — one forward + backward pass on a fixed batch, with the numbers that
   shared/tools/torch_ref.py `forward-backward` reports, so the two can be compared.
   defines: TokenBatch, token_batch_load, token_batch_free, ForwardBackwardResult,
            forward_backward_run, forward_backward_write_grads
   tokens.json = {"inputs": [[ids]...], "targets": [[ids or -100]...]}: B sequences of equal
   length T. The loss is the mean cross-entropy over targets != -100, plus aux_coef · Σ_layers
   aux for Mo-LoRA / AdaMoE adapters (and the router-entropy term when entropy_coef > 0, as the
   trainer's llama_loss_padded) (tokens.json has no padding: every position is routed). Unlike llama_loss (LM head only at target rows), the LM head runs on all B·T positions
   because the summary needs every logit. */
#ifndef NN_FORWARD_BACKWARD_H
#define NN_FORWARD_BACKWARD_H
#include "nn/llama.h"
#include "nn/safetensors.h"
#include "tensor/status.h"

typedef struct {
    int B, T;
    int *inputs, *targets;          /* [B*T] each */
} TokenBatch;

/* Reads and validates tokens.json against the model (ids in [0, V), targets in [0, V) or -100,
   T <= max_seq_len, at least one target); errors name the file and the offending entry. */
Status token_batch_load(const char *path, const ModelConfig *cfg, TokenBatch *tb, Error *err);
void   token_batch_free(TokenBatch *tb);

typedef struct {
    double loss, ce;                /* loss = ce + aux_coef · aux (+ entropy term) for routed adapters */
    double aux;                     /* Σ_layers aux (per layer: m->moe->aux_per_layer; router
                                       statistics of the pass: m->moe->stats) */
    double logits_pos0_first8[8];   /* logits of sequence 0, position 0, first min(8, V) */
    int n_first8;
    double logits_sum;              /* sum of all B·T·V logits (double accumulation) */
    double logits_abs_sum;          /* sum of |logits|: a scale for comparing logits_sum */
    int n_tokens, n_target_tokens;
    double grad_global_norm;        /* sqrt of the sum of squares of every adapter gradient */
} ForwardBackwardResult;

/* Zeroes the grads, runs forward + backward; the adapter gradients stay in the trainable
   tensors' grad buffers of m. */
Status forward_backward_run(LlamaModel *m, const TokenBatch *tb, ForwardBackwardResult *r, Error *err);
/* Writes every trainable tensor's gradient (F32 or F64) under its adapter file key. */
Status forward_backward_write_grads(const LlamaModel *m, const char *path, SafeDtype dtype, Error *err);

#endif
