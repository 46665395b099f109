/* autograd/ops/reduce.c — y = Σ x, y = mean x (scalars, shape [1]) and y = a + s·b.
   sum:  x any shape → y [1], y = Σ_i x_i (accumulated in double).
   mean: y = (1/n) Σ_i x_i, n = numel > 0.
   add_scaled: a, b, y same shape, y = a + s·b (residual and LoRA paths: one op instead of
     scale + add).
   Saved: the scale (mean: 1/n, add_scaled: s). Derivations above the backward functions. */
#include "autograd/ops/reduce.h"
#include "tensor/check.h"

typedef struct { real s; } ScaleSaved;

/* ---- kernels on raw pointers ---- */

static double sum_forward(const real *x, size_t n) {
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += (double)x[i];
    return acc;
}

/* dx_i += g for every i: the backward of y = s·Σ_i x_i, whose ∂y/∂x_i = s is the same for
   every element, so the scalar g = s·dy is broadcast over the n elements */
static void broadcast_backward(real *dx, real g, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += g;
}

static void add_scaled_forward(real *y, const real *a, const real *b, real s, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + s * b[i];
}

static void axpy(real *y, real s, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += s * x[i];
}

static void attach_scale(Tape *t, TapeEntry *e, real s) {
    if (!e) return;
    ScaleSaved *sv = arena_alloc(t->arena, sizeof *sv);
    sv->s = s;
    e->saved = sv;
}

/* ---- sum and mean (one op: y = s · Σ x with s = 1 or 1/n) ---- */

/* y = s · Σ_i x_i (sum: s = 1; mean: s = 1/n), so ∂y/∂x_i = s and  dx_i += s · dy
   for every element: the one scalar gradient, scaled, spread evenly over x */
static void scaled_sum_backward(const TapeEntry *e) {
    const ScaleSaved *sv = e->saved;
    const Tensor *x = e->in[0];
    if (x->grad) broadcast_backward(x->grad, sv->s * e->out->grad[0], x->numel);
}

static Tensor *scaled_sum(Tape *t, Tensor *x, real s, const char *name) {
    Tensor *y = tape_output(t, 1, (int[]){ 1 }, tape_wants_grad(t, 1, &x), name);
    y->data[0] = (real)((double)s * sum_forward(x->data, x->numel));
    attach_scale(t, tape_record(t, name, scaled_sum_backward, y, 1, &x), s);
    return y;
}

Tensor *op_sum(Tape *t, Tensor *x) {
    CHECK(x->data != NULL, "sum: input must hold real data");
    return scaled_sum(t, x, (real)1, "sum");
}

Tensor *op_mean(Tape *t, Tensor *x) {
    char sx[64];
    CHECK(x->data != NULL, "mean: input must hold real data");
    CHECK(x->numel > 0, "mean: x %s is empty", tensor_shape_str(x, sx, sizeof sx));
    return scaled_sum(t, x, (real)(1.0 / (double)x->numel), "mean");
}

/* ---- add_scaled ---- */

/* y = a + s·b, elementwise with s a constant: ∂y_i/∂a_i = 1, ∂y_i/∂b_i = s, so
     da += dy,   db += s·dy */
static void add_scaled_backward(const TapeEntry *e) {
    const ScaleSaved *sv = e->saved;
    const Tensor *y = e->out, *a = e->in[0], *b = e->in[1];
    if (a->grad) axpy(a->grad, (real)1, y->grad, y->numel);
    if (b->grad) axpy(b->grad, sv->s, y->grad, y->numel);
}

Tensor *op_add_scaled(Tape *t, Tensor *a, Tensor *b, real s) {
    char sa[64], sb[64];
    CHECK(tensor_same_shape(a, b), "add_scaled: shapes differ: a %s vs b %s",
          tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
    CHECK(a->data && b->data, "add_scaled: inputs must hold real data");
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 2, in), "add_scaled");
    add_scaled_forward(y->data, a->data, b->data, s, y->numel);
    attach_scale(t, tape_record(t, "add_scaled", add_scaled_backward, y, 2, in), s);
    return y;
}

/* ---- examples for the gradient check ---- */

static void one_input_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = tensor_3d(a, 2, 3, 4, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
}

static void two_inputs_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 2;
    for (int k = 0; k < 2; k++) {
        ex->in[k] = tensor_2d(a, 3, 5, 1);
        rng_fill_uniform(rng, ex->in[k]->data, ex->in[k]->numel, -1.0, 1.0);
    }
}

static Tensor *sum_apply(Tape *t, const OpExample *ex) { return op_sum(t, ex->in[0]); }
static Tensor *mean_apply(Tape *t, const OpExample *ex) { return op_mean(t, ex->in[0]); }
static Tensor *add_scaled_apply(Tape *t, const OpExample *ex) {
    return op_add_scaled(t, ex->in[0], ex->in[1], (real)0.625);
}

static const OpCase SUM_CASES[] = { { "plain", one_input_example, sum_apply, NULL } };
static const OpCase MEAN_CASES[] = { { "plain", one_input_example, mean_apply, NULL } };
static const OpCase ADD_SCALED_CASES[] = { { "plain", two_inputs_example, add_scaled_apply, NULL } };

const OpInfo OP_SUM = { "sum", "y = Σ x, a scalar", NULL, OP_CASES(SUM_CASES) };
const OpInfo OP_MEAN = { "mean", "y = Σ x / numel, a scalar", NULL, OP_CASES(MEAN_CASES) };
const OpInfo OP_ADD_SCALED = { "add_scaled", "y = a + s·b, same shapes", NULL, OP_CASES(ADD_SCALED_CASES) };
