/* autograd/ops/linear_ce.h — the LM head and the cross-entropy in one op, without keeping logits.
   defines: op_linear_cross_entropy, op_linear_cross_entropy_chunked, OP_LINEAR_CROSS_ENTROPY,
            LINEAR_CE_CHUNK_ELEMS, linear_ce_chunk_elems,
            LINEAR_CE_PACK_ONCE_BYTES, linear_ce_packs_once
   x [n, C], w [V, C] (f32, or bf16 when frozen), targets [n] in [0, V) or CE_IGNORE_INDEX.
   y [1] = mean over counted rows of lse(z_i) − z_i[t_i], z = x·wᵀ: the same value as
   op_cross_entropy(op_linear(x, w)), 0 when no row counts. The [n, V] logits exist only one chunk
   of rows at a time, so the op needs O(rows_per_chunk · V) scratch instead of two n x V arrays. */
#ifndef OPS_LINEAR_CE_H
#define OPS_LINEAR_CE_H
#include "autograd/op.h"

/* logits held at once: rows per chunk = max(1, LINEAR_CE_CHUNK_ELEMS / V) (32 M reals = 128 MB in
   float: 1048 rows of a 32000 vocabulary, a whole 8 x 128 batch). The chunk sits on top of every
   saved activation at the end of the forward, so it is part of the step's peak memory; smaller
   chunks cost time:
   - every chunk streams w from memory twice (its panels for L = X·wᵀ and for Z = G·w, 37 MB each
     at V 32000, C 288): 8 M reals (4 chunks of 256 rows) streamed them 8 times a step. Stories15M
     shape, medians of 4 interleaved runs, % of the FMA peak, 8 M / 16 M / 32 M reals: `bench
     --mode lora` 78.9 / 80.0 / 81.2 % at 1 thread, 77.2 / 78.0 / 80.1 % at 2 threads; peak RSS
     419 / 451 / 512 MB (PyTorch's 906). Earlier, 16 M / 8 M / 4 M: 349 / 358 / 374 ms a step.
   - when w is trained, every chunk also adds its Gᵀ·X into the whole [V, C] gradient sum S, a
     pass over S per chunk (`bench --mode full`, 1 chunk instead of 4: 73.7 -> 76 % at 2 threads).
   A 7B / 8B model at batch 1 x 256 takes one chunk of 256 rows either way (128 MB at V 128256). */
#define LINEAR_CE_CHUNK_ELEMS ((size_t)32 << 20)
size_t linear_ce_chunk_elems(void);
/* wᵀ is packed once for all chunks only when there are several chunks to share it and its packed
   [V, C] reals take at most this much (64 MB: a 7B/8B model's LM head would take 0.5-2 GB, and at
   batch 1 x 256 it runs one chunk anyway); otherwise the GEMM packs per cache block as usual */
#define LINEAR_CE_PACK_ONCE_BYTES ((size_t)64 << 20)
int linear_ce_packs_once(int n, int rows_per_chunk, int V, int C);

Tensor *op_linear_cross_entropy(Tape *t, Tensor *x, Tensor *w, const int *targets, int n);
/* the same with an explicit chunk height (tests; the gradient-check cases of
   linear_cross_entropy use chunks of 2 rows, so the chunk bookkeeping is checked too) */
Tensor *op_linear_cross_entropy_chunked(Tape *t, Tensor *x, Tensor *w, const int *targets, int n,
                                        int rows_per_chunk);

extern const OpInfo OP_LINEAR_CROSS_ENTROPY;   /* cases: plain, frozen_w */

#endif
