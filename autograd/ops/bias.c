/* autograd/ops/bias.c — y[r, j] += b[j] in place (see bias.h).
   Shapes: y [rows, n] (any leading dims), b [n]. Nothing saved.
   Forward: y_rj = y_rj + b_j.
   Backward: the output is y itself (tape_output_inplace), so dy_in = dy_out is already in place;
   only db_j += Σ_r dy_rj remains, summed over rows in order (deterministic). */
#include "autograd/ops/bias.h"
#include "autograd/ops/elementwise.h"
#include "tensor/check.h"

/* y_rj = y_rj + b_j, so ∂y_rj/∂b_j = 1 and the incoming y passes through with factor 1:
     db_j += Σ_r dy_rj     (rows in order: deterministic)
     dy_in = dy_out        (the same buffer, tape_output_inplace: nothing to add) */
static void bias_backward(const TapeEntry *e) {
    const Tensor *y = e->out, *b = e->in[0];
    if (!b->grad) return;
    size_t n = b->numel, rows = y->numel / n;
    for (size_t r = 0; r < rows; r++) {
        const real *dy = y->grad + r * n;
        for (size_t j = 0; j < n; j++) b->grad[j] += dy[j];
    }
}

Tensor *op_add_bias_inplace(Tape *t, Tensor *y, Tensor *b) {
    CHECK(b->ndim == 1 && y->ndim >= 1 && y->shape[y->ndim - 1] == b->shape[0],
          "add_bias: b (%d dims, %d first) must be [n] and y [..., n] (last dim %d)", b->ndim, b->shape[0],
          y->ndim ? y->shape[y->ndim - 1] : 0);
    CHECK(y->data && b->data, "add_bias: inputs must hold real data");
    Tensor *in[2] = { y, b };
    Tensor *out = tape_output_inplace(t, y, tape_wants_grad(t, 2, in), "add_bias");
    size_t n = b->numel, rows = out->numel / n;
    for (size_t r = 0; r < rows; r++) {
        real *row = out->data + r * n;
        for (size_t j = 0; j < n; j++) row[j] = row[j] + b->data[j];
    }
    tape_record(t, "add_bias", bias_backward, out, 1, &b);
    return out;
}

/* ---- examples for the gradient check: y [2, 3, 5] and b [5] ---- */

static void bias_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 2;
    ex->in[0] = tensor_new(a, 3, (int[]){ 2, 3, 5 }, 1);
    ex->in[1] = tensor_new(a, 1, (int[]){ 5 }, 1);
    for (int k = 0; k < 2; k++) rng_fill_uniform(rng, ex->in[k]->data, ex->in[k]->numel, -1.0, 1.0);
}

/* y without a gradient (a frozen projection's output): b still gets one */
static void bias_example_frozen_y(Arena *a, Rng *rng, OpExample *ex) {
    bias_example(a, rng, ex);
    ex->in[0]->grad = NULL;
}

/* the in-place op on a fresh copy of y (it overwrites y, and fan-out applies it twice) */
static Tensor *bias_apply(Tape *t, const OpExample *ex) {
    const Tensor *x = ex->in[0];
    Tensor *y = tensor_new(t->arena, x->ndim, x->shape, 0);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = x->data[i];
    if (x->grad) y = op_scale(t, ex->in[0], (real)1);
    return op_add_bias_inplace(t, y, ex->in[1]);
}

static const OpCase ADD_BIAS_INPLACE_CASES[] = {
    { "plain", bias_example, bias_apply, NULL },
    { "frozen_y", bias_example_frozen_y, bias_apply, NULL },
};
const OpInfo OP_ADD_BIAS_INPLACE = { "add_bias_inplace", "y[r, :] += b in place (q/k/v/o biases of Qwen2, attention_bias)",
                                     NULL, OP_CASES(ADD_BIAS_INPLACE_CASES) };
