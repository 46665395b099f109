/* autograd/ops/embedding.h — token embedding lookup.
   defines: op_embedding, OP_EMBEDDING */
#ifndef OPS_EMBEDDING_H
#define OPS_EMBEDDING_H
#include "autograd/op.h"

/* y [n, C] = rows ids[0..n) of table [V, C]; every id must be in [0, V). The table may be
   trainable, frozen f32, or frozen bf16 (table->bf16 != NULL, data NULL, grad NULL).
   ids are copied, so the caller's array need not outlive the call. */
Tensor *op_embedding(Tape *t, Tensor *table, const int *ids, int n);

extern const OpInfo OP_EMBEDDING;

#endif
