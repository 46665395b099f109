/* tests/support/broken_ops.c — y = a * b with two planted backward bugs (see broken_ops.h). */
#include "tests/support/broken_ops.h"

static Tensor *mul_common(Tape *t, Tensor *a, Tensor *b, BackwardFn bw, const char *name) {
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 2, in), name);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = a->data[i] * b->data[i];
    tape_record(t, name, bw, y, 2, in);
    return y;
}

/* BUG: assigns instead of accumulating; invisible when each input is used once */
static void assign_backward(const TapeEntry *e) {
    const Tensor *y = e->out, *a = e->in[0], *b = e->in[1];
    for (size_t i = 0; i < y->numel; i++) {
        if (a->grad) a->grad[i] = y->grad[i] * b->data[i];
        if (b->grad) b->grad[i] = y->grad[i] * a->data[i];
    }
}

/* BUG: da uses a instead of b */
static void wrong_backward(const TapeEntry *e) {
    const Tensor *y = e->out, *a = e->in[0], *b = e->in[1];
    for (size_t i = 0; i < y->numel; i++) {
        if (a->grad) a->grad[i] += y->grad[i] * a->data[i];
        if (b->grad) b->grad[i] += y->grad[i] * a->data[i];
    }
}

static void example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 2;
    for (int k = 0; k < 2; k++) {
        ex->in[k] = tensor_2d(a, 2, 3, 1);
        rng_fill_uniform(rng, ex->in[k]->data, 6, 0.5, 1.5);
    }
}

static Tensor *assign_apply(Tape *t, const OpExample *ex) {
    return mul_common(t, ex->in[0], ex->in[1], assign_backward, "broken_assign");
}
static Tensor *wrong_apply(Tape *t, const OpExample *ex) {
    return mul_common(t, ex->in[0], ex->in[1], wrong_backward, "broken_wrong");
}

const OpCase BROKEN_OP_ASSIGN = { "broken_assign", example, assign_apply, NULL };
const OpCase BROKEN_OP_WRONG = { "broken_wrong", example, wrong_apply, NULL };
