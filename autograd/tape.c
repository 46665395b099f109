/* autograd/tape.c — record and replay (see tape.h). */
#include "autograd/tape.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

void tape_init(Tape *t, Arena *arena) {
    memset(t, 0, sizeof *t);
    t->arena = arena;
}

void tape_free(Tape *t) {
    free(t->entries);
    t->entries = NULL;
    t->n = t->cap = 0;
}

void tape_reset(Tape *t) { t->n = 0; }

void tape_set_no_grad(Tape *t, int no_grad) { t->no_grad = no_grad; }

int tape_wants_grad(const Tape *t, int n, Tensor *const *in) {
    if (t->no_grad) return 0;
    for (int i = 0; i < n; i++)
        if (in[i] && in[i]->grad) return 1;
    return 0;
}

/* an unset gradient buffer (tape.h, tensor.h): NaN-filled in the checking builds */
static void make_unset(Tape *t, Tensor *out) {
    out->grad = arena_alloc(t->arena, out->numel * sizeof(real));
    out->grad_unset = arena_alloc(t->arena, 1);
    *out->grad_unset = 1;
    if (TAPE_GRAD_POISON)
        for (size_t i = 0; i < out->numel; i++) out->grad[i] = (real)NAN;
}

Tensor *tape_output(Tape *t, int ndim, const int *shape, int with_grad, const char *name) {
    int has_grad = with_grad && !t->no_grad;
    Tensor *out = tensor_new(t->arena, ndim, shape, 0);
    if (has_grad && (TAPE_GRAD_POISON || out->numel >= TAPE_UNSET_MIN)) make_unset(t, out);
    else if (has_grad) out->grad = arena_alloc_zero(t->arena, out->numel * sizeof(real));
    out->name = name;
    return out;
}

Tensor *tape_output_inplace(Tape *t, Tensor *base, int with_grad, const char *name) {
    Tensor *out = tensor_view(t->arena, base, base->ndim, base->shape);
    out->name = name;
    if (!out->grad && with_grad && !t->no_grad) {
        out->grad = arena_alloc_zero(t->arena, out->numel * sizeof(real));
        out->grad_unset = NULL;
    }
    return out;
}

static TapeEntry *push(Tape *t, const char *op, BackwardFn bw, Tensor *out) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->entries = xrealloc(t->entries, (size_t)t->cap * sizeof *t->entries);
    }
    TapeEntry *e = &t->entries[t->n++];
    memset(e, 0, sizeof *e);
    e->op = op;
    e->backward = bw;
    e->out = out;
    return e;
}

TapeEntry *tape_record_hook(Tape *t, const char *op, BackwardFn bw, Tensor *out, void *saved) {
    if (t->no_grad) return NULL;
    TapeEntry *e = push(t, op, bw, out);
    e->saved = saved;
    return e;
}

TapeEntry *tape_record(Tape *t, const char *op, BackwardFn bw, Tensor *out, int n_in, Tensor *const *in) {
    if (t->no_grad || out->grad == NULL) return NULL;
    CHECK(n_in >= 0 && n_in <= TAPE_MAX_IN, "op %s has %d inputs (max %d)", op, n_in, TAPE_MAX_IN);
    TapeEntry *e = push(t, op, bw, out);
    e->n_in = n_in;
    for (int i = 0; i < n_in; i++) e->in[i] = in[i];
    return e;
}

void tape_backward_entry(const TapeEntry *e) {
    if (e->out) tensor_grad_ready(e->out);
    for (int k = 0; k < e->n_in; k++)
        if (e->in[k] && !(e->claims >> k & 1u)) tensor_grad_ready(e->in[k]);
    e->backward(e);
}

/* &t->entries[i] is taken afresh each time: a hook (tape_record_hook) may move the array */
void tape_backward_range(Tape *t, int begin, int end) {
    for (int i = end - 1; i >= begin; i--) tape_backward_entry(&t->entries[i]);
}

void tape_backward_seeded(Tape *t) { tape_backward_range(t, 0, t->n); }

void tape_backward(Tape *t, Tensor *loss) {
    CHECK(loss->numel == 1, "loss must be a scalar, got %zu elements", loss->numel);
    CHECK(loss->grad != NULL, "loss has no grad: nothing trainable reached it (or no-grad mode)");
    tensor_grad_ready(loss)[0] += (real)1;
    tape_backward_seeded(t);
}
