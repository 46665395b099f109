/* autograd/ops/concat_rows.c — y = [x_0; x_1; ...] along rows (see concat_rows.h).
   The inputs live in the op's saved data (there may be more than TAPE_MAX_IN of them); the
   entry records no inputs, which the tape does not need (it runs entries in reverse order). */
#include "autograd/ops/concat_rows.h"
#include "tensor/check.h"
#include <string.h>

typedef struct { Tensor **xs; int n; } ConcatSaved;

/* y = [x_0; x_1; ...]: row off_i + j of y is a copy of row j of x_i (off_i = rows before x_i),
   so ∂y/∂x_i is the identity on that block and zero elsewhere:
     dx_i[j] += dy[off_i + j]
   dy is cut back into the inputs' blocks, in input order. */
static void concat_rows_backward(const TapeEntry *e) {
    const ConcatSaved *sv = e->saved;
    size_t off = 0;
    int C = e->out->shape[1];
    for (int i = 0; i < sv->n; i++) {
        Tensor *x = sv->xs[i];
        size_t len = (size_t)x->shape[0] * C;
        if (x->grad) {   /* not an entry input, so the replay does not make it real: done here */
            real *dx = tensor_grad_ready(x);
            for (size_t j = 0; j < len; j++) dx[j] += e->out->grad[off + j];
        }
        off += len;
    }
}

Tensor *op_concat_rows(Tape *t, Tensor *const *xs, int n) {
    char s0[64], si[64];
    CHECK(n >= 1 && xs[0]->ndim == 2 && xs[0]->data, "concat_rows: need >= 1 2-D inputs");
    int C = xs[0]->shape[1], rows = 0, wants = 0;
    for (int i = 0; i < n; i++) {
        CHECK(xs[i]->ndim == 2 && xs[i]->data && xs[i]->shape[1] == C, "concat_rows: input %d %s does not match %s", i,
              tensor_shape_str(xs[i], si, sizeof si), tensor_shape_str(xs[0], s0, sizeof s0));
        rows += xs[i]->shape[0];
        wants |= tape_wants_grad(t, 1, (Tensor *const *)&xs[i]);
    }
    Tensor *y = tape_output(t, 2, (int[]){ rows, C }, wants, "concat_rows");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)xs[i]->shape[0] * C;
        memcpy(y->data + off, xs[i]->data, len * sizeof(real));
        off += len;
    }
    TapeEntry *e = tape_record(t, "concat_rows", concat_rows_backward, y, 0, NULL);
    if (e) {
        ConcatSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->xs = arena_alloc(t->arena, (size_t)n * sizeof *sv->xs);
        memcpy(sv->xs, xs, (size_t)n * sizeof *sv->xs);
        sv->n = n;
        e->saved = sv;
    }
    return y;
}

static void concat_example(Arena *a, Rng *rng, OpExample *ex) {
    const int rows[3] = { 2, 3, 1 };
    for (int i = 0; i < 3; i++) {
        ex->in[i] = tensor_2d(a, rows[i], 4, 1);
        rng_fill_uniform(rng, ex->in[i]->data, ex->in[i]->numel, -1.0, 1.0);
    }
    ex->n_in = 3;
}

static Tensor *concat_apply(Tape *t, const OpExample *ex) { return op_concat_rows(t, ex->in, 3); }

static const OpCase CONCAT_ROWS_CASES[] = { { "three_inputs", concat_example, concat_apply, NULL } };
const OpInfo OP_CONCAT_ROWS = { "concat_rows", "y = [x_0; x_1; ...] along rows, any number of inputs", NULL,
                                OP_CASES(CONCAT_ROWS_CASES) };
