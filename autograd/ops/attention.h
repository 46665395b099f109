/* autograd/ops/attention.h — fused causal self-attention with grouped-query heads (GQA).
   defines: op_causal_attention, op_causal_attention_saved, attention_decode_step, ATTN_ROW_BLOCK, OP_CAUSAL_ATTENTION
   q [B, T, H, D], k and v [B, T, KV, D], H % KV == 0; query head h reads kv head h / (H/KV)
   (torch_ref: k.repeat_interleave(H // KV, dim=2)). y [B, T, H, D] (heads not merged).
   y[b,i,h] = sum_{j<=i} softmax_j(q[b,i,h]·k[b,j,g] / sqrt(D)) v[b,j,g].
   MEMORY: a recorded call saves the probabilities P in the tape's arena, the causal lower part
   in blocks of ATTN_ROW_BLOCK query rows: B·H·Σ_blocks rows·(last row + 1) reals, about
   B·H·T·(T + ATTN_ROW_BLOCK)/2 (B=1, H=9, T=2048, float: 74 MB per layer), plus a backward
   scratch of min(threads, B·KV)·ATTN_ROW_BLOCK·T reals. Unrecorded calls (no-grad) need only
   the scratch. */
#ifndef OPS_ATTENTION_H
#define OPS_ATTENTION_H
#include "autograd/op.h"

#define ATTN_ROW_BLOCK 64   /* query rows per block: the causal mask skips the blocks' upper parts */

Tensor *op_causal_attention(Tape *t, Tensor *q, Tensor *k, Tensor *v);
/* reals a recorded call keeps in the arena besides its output: the packed P of the B·H pairs and
   the backward scratch of min(threads, B·KV) slots (the memory estimate, nn/model_memory.h) */
size_t op_causal_attention_saved(int B, int T, int H, int KV, int threads);

/* No-tape attention of ONE new position `pos` against a KV cache (generation):
   q [H, D] (already rotated), k_cache / v_cache [>= pos+1, KV, D] holding positions 0..pos
   (row stride KV·D), out [H, D]; scratch: H·(pos+1) reals. Equals row `pos` of
   op_causal_attention on the same sequence. Heads run in parallel. */
void attention_decode_step(real *out, const real *q, const real *k_cache, const real *v_cache,
                           int pos, int H, int KV, int D, real *scratch);

extern const OpInfo OP_CAUSAL_ATTENTION;   /* cases: gqa, mha, long (T > ATTN_ROW_BLOCK) */

#endif
