/* nn/recompute.h — activation recompute per decoder layer (gradient checkpointing; Chen et al.
   2016, "Training Deep Nets with Sublinear Memory Cost").
   defines: llama_layers_recompute, llama_layers_no_grad
   Without it a training forward keeps every op's output, gradient buffer and saved data of all
   L layers until the backward: about L x (30 [N, C]-sized buffers + the attention probabilities)
   for N = B·T rows. With LlamaModel.recompute set, llama_hidden_padded runs the decoder stack
   through llama_layers_recompute on a recording tape; per layer i it
     1. runs the layer as usual (its entries recorded on the tape, its buffers in the arena),
     2. copies what the ops AFTER the layer read: the output x_{i+1} [N, C], and, for routed
        adapters, each router's probabilities p [N, E] and selection counts (the aux and entropy
        losses are formed after the whole stack, from MoeState.log),
     3. rewinds the arena and the tape to where the layer began and records ONE hook entry
        (tape_record_hook) holding the layer's input, those copies and the dropout stream's state.
   The backward reaches the hooks in reverse layer order; each re-runs its layer on the kept
   input (the same ops, rng state, routing rule and k, so the same values and selections: the
   replay is checked bit for bit against the kept output and counts), hands the gradients that
   arrived at the kept copies (dL/dx_{i+1}, dL/dp from the aux / entropy losses) to the fresh
   outputs, back-propagates the layer's entries, and rewinds again. Router statistics, the
   observe callback and the expert clock see the first forward only.
   The kept residual states share ONE gradient buffer G [N, C] (the embedding output's when it
   has one), as the whole stream does without recompute (op_lora_linear_residual): before layer
   i's backward G holds dL/dx_{i+1}; when the replayed output has a gradient buffer of its own
   (MoE FFN, dropout paths) G is copied into it and cleared, so G ends as dL/dx_i. Every value
   and gradient equals the run without recompute bit for bit (tests/nn/test_recompute.c).
   Peak activation memory: L x [N, C] (+ router p) kept, plus one layer's full set during the
   forward and during its backward (nn/model_memory.h estimates both).
   A no-grad forward (evaluation, scoring) of a model without routers needs no hooks at all: each
   layer's output is copied out and the arena rewound (llama_layers_no_grad), so evaluating a
   1.1B model at 4 x 256 tokens holds two [N, C] buffers and one layer instead of 22 layers'
   outputs (2.7 GB). With routers, each router's p [N, E] and counts are copied out as in step 2
   (the aux / entropy losses read them after the stack) and the rest of its record is rewound;
   `route`, which reads every token's selection and weights afterwards, sets MoeState.keep_log
   and runs the stack as a plain forward.
   Pre-gating (AdapterConfig.pregate) routes layer l on layer l-1's module inputs, which live
   inside layer l-1: refused (the CLI says so before loading). */
#ifndef RECOMPUTE_H
#define RECOMPUTE_H
#include "nn/llama.h"

/* x [B*T, C] the embedding output -> the last layer's output [B*T, C] (before the final norm),
   the layers recorded as hooks (header). For a recording tape only. */
Tensor *llama_layers_recompute(Tape *t, const LlamaModel *m, Tensor *x, int B, int T, Rng *drop_rng);

/* the same stack in a no-grad forward (MoeState.keep_log unset, no pre-gating): only the stream
   and the routers' p and counts survive */
Tensor *llama_layers_no_grad(Tape *t, const LlamaModel *m, Tensor *x, int B, int T, Rng *drop_rng);

#endif
