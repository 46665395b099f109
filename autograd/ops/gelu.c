/* autograd/ops/gelu.c — GELU with the tanh approximation (Hendrycks & Gimpel 2016, "Gaussian
   Error Linear Units"), the activation of GPT-2 and of Gemma's GeGLU:
     y = ½·x·(1 + tanh(u)),   u = c·(x + a·x³),   c = √(2/π),   a = 0.044715
   It approximates the exact GELU x·Φ(x) to within 5e-4 everywhere.
   Shapes: x, y any shape, equal. Saved: nothing (tanh(u) is recomputed in the backward).
   Every y_i depends on x_i only, so the Jacobian is diagonal and the backward is one pass; its
   derivation sits above gelu_tanh_backward.
   This is the worked example of docs/autograd.md ("Add your own op"), which shows this file,
   gelu.h and tests/autograd/test_gelu.c in full; tests/docs/test_autograd_doc.c fails when the
   page and the files differ. */
#include "autograd/ops/gelu.h"
#include "tensor/check.h"

#define GELU_C ((real)0.7978845608028654)   /* √(2/π) */
#define GELU_A ((real)0.044715)

/* ---- kernels on raw pointers ---- */

static void gelu_tanh_forward(real *y, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        real u = GELU_C * (x[i] + GELU_A * x[i] * x[i] * x[i]);
        y[i] = (real)0.5 * x[i] * ((real)1 + real_tanh(u));
    }
}

/* y = ½x(1 + t) with t = tanh(u), u = c(x + a x³). The product rule on ½x·(1 + t), then the
   chain rule through tanh (tanh'(u) = 1 − t²) and through u (du/dx = c(1 + 3a x²)):
     dy/dx = ½(1 + t) + ½x · (1 − t²) · c(1 + 3a x²)
   Elementwise, so dx_i += dy_i · dy/dx(x_i). */
static void gelu_tanh_backward(real *dx, const real *dy, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        real x2 = x[i] * x[i];
        real t = real_tanh(GELU_C * (x[i] + GELU_A * x2 * x[i]));
        real du = GELU_C * ((real)1 + 3 * GELU_A * x2);
        dx[i] += dy[i] * ((real)0.5 * ((real)1 + t) + (real)0.5 * x[i] * ((real)1 - t * t) * du);
    }
}

/* ---- op ---- */

/* dx += dy ⊙ gelu_tanh'(x)  (gelu_tanh_backward) */
static void gelu_tanh_backward_entry(const TapeEntry *e) {
    const Tensor *x = e->in[0], *y = e->out;
    if (x->grad) gelu_tanh_backward(x->grad, y->grad, x->data, y->numel);
}

Tensor *op_gelu_tanh(Tape *t, Tensor *x) {
    CHECK(x->data != NULL, "gelu_tanh: input must hold real data (not bf16)");
    Tensor *y = tape_output(t, x->ndim, x->shape, tape_wants_grad(t, 1, &x), "gelu_tanh");
    gelu_tanh_forward(y->data, x->data, y->numel);
    tape_record(t, "gelu_tanh", gelu_tanh_backward_entry, y, 1, &x);
    return y;
}

/* ---- gradient-check cases ---- */

/* x [3, 5] with a gradient, uniform in [-3, 3] (GELU is smooth: no kinks to keep away from) */
static void gelu_tanh_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = tensor_2d(a, 3, 5, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -3.0, 3.0);
}

/* the tails, 2.5 <= |x| <= 5 with both signs: tanh saturates, 1 − t² is small, and on the
   negative side the two terms of dy/dx nearly cancel */
static void gelu_tanh_example_tails(Arena *a, Rng *rng, OpExample *ex) {
    gelu_tanh_example(a, rng, ex);
    real *x = ex->in[0]->data;
    for (size_t i = 0; i < ex->in[0]->numel; i++) x[i] = x[i] / (real)1.2 + (x[i] < 0 ? (real)-2.5 : (real)2.5);
}

static Tensor *gelu_tanh_apply(Tape *t, const OpExample *ex) { return op_gelu_tanh(t, ex->in[0]); }

static const OpCase GELU_TANH_CASES[] = {
    { "plain", gelu_tanh_example, gelu_tanh_apply, NULL },
    { "tails", gelu_tanh_example_tails, gelu_tanh_apply, NULL },
};
const OpInfo OP_GELU_TANH = { "gelu_tanh", "y = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))", NULL,
                              OP_CASES(GELU_TANH_CASES) };
