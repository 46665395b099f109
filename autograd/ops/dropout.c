/* autograd/ops/dropout.c — inverted dropout (Srivastava et al. 2014), as PyTorch's nn.Dropout:
   y = x · m / (1 − p), m_i ∈ {0, 1}, P(m_i = 1) = 1 − p. Shapes: x, y any, equal.
   Saved: the scaled mask s_i = m_i / (1 − p). Backward: see dropout_backward. */
#include "autograd/ops/dropout.h"
#include "tensor/check.h"

typedef struct { real *scale; } DropoutSaved;

/* y_i = x_i · s_i with the mask s fixed once drawn (a constant, like a weight that is not
   trained), so ∂y_i/∂x_i = s_i:  dx += dy ⊙ s. Dropped elements (s_i = 0) get nothing;
   kept ones get dy scaled by 1/(1 − p), the same factor as the forward. */
static void dropout_backward(const TapeEntry *e) {
    const DropoutSaved *sv = e->saved;
    Tensor *x = e->in[0];
    if (!x->grad) return;
    for (size_t i = 0; i < x->numel; i++) x->grad[i] += e->out->grad[i] * sv->scale[i];
}

Tensor *op_dropout(Tape *t, Tensor *x, real p, Rng *rng) {
    CHECK(p >= 0 && p < 1, "dropout: p = %g must be in [0, 1)", (double)p);
    CHECK(x->data != NULL, "dropout: input must hold real data");
    Tensor *y = tape_output(t, x->ndim, x->shape, tape_wants_grad(t, 1, &x), "dropout");
    real *scale = arena_alloc(t->arena, x->numel * sizeof(real));
    real keep = (real)1 / ((real)1 - p);
    for (size_t i = 0; i < x->numel; i++) {
        scale[i] = rng_uniform(rng) >= (double)p ? keep : (real)0;
        y->data[i] = x->data[i] * scale[i];
    }
    TapeEntry *e = tape_record(t, "dropout", dropout_backward, y, 1, &x);
    if (e) {
        DropoutSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->scale = scale;
        e->saved = sv;
    }
    return y;
}

/* The mask must be the same on every evaluation of the finite-difference loss, so the example
   keeps a seed and each apply draws from a fresh generator with it. */
static void dropout_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = tensor_2d(a, 4, 6, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    uint64_t *seed = arena_alloc(a, sizeof *seed);
    *seed = rng_u64(rng);
    ex->aux = seed;
}

static Tensor *dropout_apply(Tape *t, const OpExample *ex) {
    Rng r;
    rng_seed(&r, *(const uint64_t *)ex->aux);
    return op_dropout(t, ex->in[0], (real)0.3, &r);
}

static const OpCase DROPOUT_CASES[] = { { "plain", dropout_example, dropout_apply, NULL } };
const OpInfo OP_DROPOUT = { "dropout", "y = x ⊙ mask / (1 − p), inverted dropout", NULL, OP_CASES(DROPOUT_CASES) };
