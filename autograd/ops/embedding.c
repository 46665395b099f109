/* autograd/ops/embedding.c — y = table[ids] (row lookup).
   Shapes: table [V, C], ids [n] (ints in [0, V)), y [n, C]:  y[i][c] = table[ids[i]][c].
   Saved: a copy of ids (in the tape arena). Backward: a scatter-add (embedding_backward).
   A frozen table (grad NULL, or bf16 storage) gets nothing. */
#include "autograd/ops/embedding.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include <string.h>

typedef struct { int *ids; int n; } EmbeddingSaved;

/* ---- kernels on raw pointers ---- */

static void embedding_forward(real *y, const real *table, const uint16_t *table16,
                              const int *ids, int n, int C) {
    for (int i = 0; i < n; i++) {
        real *yi = y + (size_t)i * C;
        size_t off = (size_t)ids[i] * C;
        if (table16)
            for (int c = 0; c < C; c++) yi[c] = (real)bf16_to_f32(table16[off + c]);
        else
            memcpy(yi, table + off, (size_t)C * sizeof(real));
    }
}

/* y[i][c] = table[ids[i]][c], so ∂y[i][c]/∂table[v][c] = [ids[i] = v] and
     dtable[v][c] += Σ_{i : ids[i] = v} dy[i][c]
   i.e. each row of dy is added into the table row it was read from; an id used several times
   receives the sum of its rows, an unused row nothing. The loop runs i = 0..n-1 in order, so
   repeated ids accumulate deterministically. */
static void embedding_backward(real *dtable, const real *dy, const int *ids, int n, int C) {
    for (int i = 0; i < n; i++) {
        real *dt = dtable + (size_t)ids[i] * C;
        const real *dyi = dy + (size_t)i * C;
        for (int c = 0; c < C; c++) dt[c] += dyi[c];
    }
}

/* ---- op ---- */

/* dtable[ids[i]] += dy[i] for every i (embedding_backward), when the table is trainable */
static void embedding_backward_entry(const TapeEntry *e) {
    const EmbeddingSaved *sv = e->saved;
    const Tensor *table = e->in[0];
    if (table->grad) embedding_backward(table->grad, e->out->grad, sv->ids, sv->n, table->shape[1]);
}

Tensor *op_embedding(Tape *t, Tensor *table, const int *ids, int n) {
    char st[64];
    CHECK(table->ndim == 2, "embedding: table %s must be 2-D [V, C]",
          tensor_shape_str(table, st, sizeof st));
    CHECK(n >= 0 && (n == 0 || ids != NULL), "embedding: bad id count %d", n);
    CHECK(table->data != NULL || (table->bf16 != NULL && table->grad == NULL),
          "embedding: table must hold f32 data, or bf16 data and be frozen");
    int V = table->shape[0], C = table->shape[1];
    for (int i = 0; i < n; i++)
        CHECK(ids[i] >= 0 && ids[i] < V, "embedding: ids[%d] = %d out of range [0, %d) for table %s",
              i, ids[i], V, tensor_shape_str(table, st, sizeof st));
    Tensor *y = tape_output(t, 2, (int[]){ n, C }, tape_wants_grad(t, 1, &table), "embedding");
    embedding_forward(y->data, table->data, table->data ? NULL : table->bf16, ids, n, C);
    TapeEntry *e = tape_record(t, "embedding", embedding_backward_entry, y, 1, &table);
    if (e) {
        EmbeddingSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->ids = arena_alloc(t->arena, (size_t)(n ? n : 1) * sizeof(int));
        if (n) memcpy(sv->ids, ids, (size_t)n * sizeof(int));
        sv->n = n;
        e->saved = sv;
    }
    return y;
}

/* ---- example for the gradient check: V = 6, C = 4, ids repeat and row 5 is unused ---- */

typedef struct { int ids[7]; } EmbeddingAux;

static void embedding_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = tensor_2d(a, 6, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    EmbeddingAux *aux = arena_alloc(a, sizeof *aux);
    const int ids[7] = { 3, 0, 3, 1, 4, 2, 3 };
    memcpy(aux->ids, ids, sizeof ids);
    ex->aux = aux;
}

static Tensor *embedding_apply(Tape *t, const OpExample *ex) {
    const EmbeddingAux *aux = ex->aux;
    return op_embedding(t, ex->in[0], aux->ids, 7);
}

static const OpCase EMBEDDING_CASES[] = { { "repeated_ids", embedding_example, embedding_apply, NULL } };
const OpInfo OP_EMBEDDING = { "embedding", "y = table[ids], a row lookup", NULL, OP_CASES(EMBEDDING_CASES) };
