/* nn/memory_acts.h — the activation memory of one training step, counted op by op.
   defines: MemActs, memory_activations
   The step arena (tensor/arena.h) holds, from each op's forward until the arena is reset, its
   output (and gradient buffer, zero-filled, when a gradient flows), and what its backward saves.
   memory_activations walks a declared model (nn/llama.h; nothing allocated) through the same ops
   as llama_loss_padded (nn/llama.c, lora.c, moe.c, moe_ffn.c) at N = B·T rows and adds up those
   allocations as the ops make them (64-byte rounded, tensor headers included):
     per layer   2 rmsnorms [N, C] (+ grad, + rstd [N]); q, k, v [N, H·D | KV·D] (+ grad) with
                 the LoRA saved rows [N, r] x 2 + [max(N, out), r]; RoPE in place (views); the
                 attention output [N, H·D] (+ grad) and its packed probabilities B·H·(T² + 64·T)/2
                 (op_causal_attention_saved); o and down add into the stream (their gradient IS the
                 stream's: data only); gate, up [N, F] (+ grad), SwiGLU [N, F] (grad shared with up).
                 Routed linears (Mo-LoRA / AdaMoE): the base output [N, out] (+ grad), router logits,
                 p and weights [N, E] (+ grad), the router's saved input copy [N, in] (a narrow
                 product), the routing indices and the routed LoRA rows P·r x 3 with P = N·k·n/E
                 assignments (the balance the aux loss aims at). A MoE FFN: router, then per
                 assignment the gathered row [C], w1 / w3 / SwiGLU [F] and w2 [C] (+ grads).
     head / tail the embedding output [N, C]; the final norm, the fused LM head + CE's saved
                 dL/dx [N, C] (its logits exist one chunk of linear_ce_chunk_elems at a time, next to
                 wᵀ packed once for all chunks [V, C]: the
                 transient term); the loss is taken on all N rows (an upper bound for answer-only
                 loss).
   Without recompute the peak is head + Σ layers + tail + the CE chunk (everything is alive at
   the end of the forward). With recompute (nn/recompute.h) each layer keeps its output copy
   [N, C] and its routers' p [N, E] (+ grad), the stream has one gradient buffer G [N, C], and one
   layer's full set exists at a time: head + G + Σ kept + tail + max(largest layer, CE chunk). */
#ifndef MEMORY_ACTS_H
#define MEMORY_ACTS_H
#include "nn/llama.h"

typedef struct {
    double layers;      /* Σ over layers of what each layer's forward holds until its backward */
    double layer_max;   /* the largest of them */
    double kept;        /* Σ over layers of what recompute keeps (output copy, router p, the hook) + G */
    double head;        /* embedding output, ids, pad mask */
    double tail;        /* final norm, loss: alive through the backward */
    double transient;   /* the CE's logits chunk and packed wᵀ, at the end of the forward only */
    double peak;        /* the arena's high-water mark in the chosen mode */
} MemActs;

/* bytes of the step arena for a B x T batch, with recompute or without; threads: the attention's
   backward scratch has min(threads, B·KV) slots */
void memory_activations(const LlamaModel *declared, int B, int T, int recompute, int threads, MemActs *a);

#endif
