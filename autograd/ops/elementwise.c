/* autograd/ops/elementwise.c — y = a + b, y = a * b, y = s * a (same shapes, no broadcasting),
   and acc += b in place (add_inplace, the speed twin of add).
   Shapes: a, b, y: any shape, equal. Saved: nothing beyond the inputs themselves (scale: s).
   Every y_i depends on the i-th inputs only, so each Jacobian is diagonal and each backward is
   one elementwise pass; the derivations sit above the backward functions. */
#include "autograd/ops/elementwise.h"
#include "tensor/check.h"
#include "tensor/threads.h"

/* ---- kernels on raw pointers ---- */

static void add_forward(real *y, const real *a, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void mul_forward(real *y, const real *a, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

/* y_i = a_i · b_i, so ∂y_i/∂a_i = b_i and dL/da_i = dL/dy_i · b_i:  da += dy ⊙ b.
   By symmetry the same kernel with a and b swapped gives db += dy ⊙ a. */
static void mul_backward(real *da, const real *dy, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++) da[i] += dy[i] * b[i];
}

typedef struct { real *y; const real *x; real s; } AxpyJob;

static void axpy_range(void *vj, long i0, long i1) {
    const AxpyJob *j = vj;
    for (long i = i0; i < i1; i++) j->y[i] += j->s * j->x[i];
}

/* y += s·x; on the pool from EW_PARALLEL_MIN elements (each element on its own: the same bits
   for any split). A residual stream's [N, C] add was a serial pass at 2 threads. */
#define EW_PARALLEL_MIN ((size_t)1 << 15)
void ew_axpy(real *y, real s, const real *x, size_t n) {
    AxpyJob j = { y, x, s };
    if (n >= EW_PARALLEL_MIN) parallel_for_chunks((long)n, 4096, axpy_range, &j);
    else axpy_range(&j, 0, (long)n);
}
#define axpy ew_axpy

/* ---- add ---- */

/* y = a + b: ∂y_i/∂a_j = ∂y_i/∂b_j = δ_ij, so both inputs receive dy unchanged:
     da += dy,   db += dy */
static void add_backward(const TapeEntry *e) {
    const Tensor *y = e->out;
    for (int k = 0; k < 2; k++)
        if (e->in[k]->grad) axpy(e->in[k]->grad, (real)1, y->grad, y->numel);
}

static void check_same(const char *op, const Tensor *a, const Tensor *b) {
    char sa[64], sb[64];
    CHECK(tensor_same_shape(a, b), "%s: shapes differ: %s vs %s", op,
          tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
    CHECK(a->data && b->data, "%s: inputs must hold real data (not bf16)", op);
}

Tensor *op_add(Tape *t, Tensor *a, Tensor *b) {
    check_same("add", a, b);
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 2, in), "add");
    add_forward(y->data, a->data, b->data, y->numel);
    tape_record(t, "add", add_backward, y, 2, in);
    return y;
}

/* ---- add_inplace ---- */

/* y = acc + b, with y sharing acc's storage and gradient buffer. As for add, dacc = dy and
   db = dy; but y->grad IS acc->grad, so dacc += dy is already done (the buffer holds dy, and
   acc's earlier readers add theirs after this entry runs). Only db += dy is left. */
static void add_inplace_backward(const TapeEntry *e) {
    const Tensor *y = e->out, *b = e->in[0];
    if (b->grad) axpy(b->grad, (real)1, y->grad, y->numel);
}

Tensor *op_add_inplace(Tape *t, Tensor *acc, Tensor *b) {
    check_same("add_inplace", acc, b);
    Tensor *in[2] = { acc, b };
    Tensor *y = tape_output_inplace(t, acc, tape_wants_grad(t, 2, in), "add_inplace");
    ew_axpy(y->data, (real)1, b->data, y->numel);   /* acc + 1·b = acc + b exactly */
    tape_record(t, "add_inplace", add_inplace_backward, y, 1, &b);
    return y;
}

/* ---- mul ---- */

/* y = a ⊙ b:  da += dy ⊙ b,  db += dy ⊙ a  (mul_backward above, once per input) */
static void mul_backward_entry(const TapeEntry *e) {
    const Tensor *y = e->out, *a = e->in[0], *b = e->in[1];
    if (a->grad) mul_backward(a->grad, y->grad, b->data, y->numel);
    if (b->grad) mul_backward(b->grad, y->grad, a->data, y->numel);
}

Tensor *op_mul(Tape *t, Tensor *a, Tensor *b) {
    check_same("mul", a, b);
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 2, in), "mul");
    mul_forward(y->data, a->data, b->data, y->numel);
    tape_record(t, "mul", mul_backward_entry, y, 2, in);
    return y;
}

/* ---- scale ---- */

typedef struct { real s; } ScaleSaved;

/* y = s·a with s a constant: ∂y_i/∂a_i = s, so  da += s·dy  (s gets no gradient) */
static void scale_backward(const TapeEntry *e) {
    const ScaleSaved *sv = e->saved;
    if (e->in[0]->grad) axpy(e->in[0]->grad, sv->s, e->out->grad, e->out->numel);
}

Tensor *op_scale(Tape *t, Tensor *a, real s) {
    CHECK(a->data != NULL, "scale: input must hold real data");
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 1, &a), "scale");
    for (size_t i = 0; i < y->numel; i++) y->data[i] = s * a->data[i];
    TapeEntry *e = tape_record(t, "scale", scale_backward, y, 1, &a);
    if (e) {
        ScaleSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->s = s;
        e->saved = sv;
    }
    return y;
}

/* ---- examples for the gradient check ---- */

static void two_inputs_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 2;
    for (int k = 0; k < 2; k++) {
        ex->in[k] = tensor_2d(a, 3, 5, 1);
        rng_fill_uniform(rng, ex->in[k]->data, ex->in[k]->numel, -1.0, 1.0);
    }
}

static Tensor *add_apply(Tape *t, const OpExample *ex) { return op_add(t, ex->in[0], ex->in[1]); }
static Tensor *mul_apply(Tape *t, const OpExample *ex) { return op_mul(t, ex->in[0], ex->in[1]); }
static Tensor *scale_apply(Tape *t, const OpExample *ex) { return op_scale(t, ex->in[0], (real)-1.75); }

/* the in-place op on a fresh copy of acc (it overwrites acc, and fan-out applies it twice) */
static Tensor *add_inplace_apply(Tape *t, const OpExample *ex) {
    return op_add_inplace(t, op_scale(t, ex->in[0], (real)1), ex->in[1]);
}
/* acc without a gradient: the op must still give y one, for b */
static void frozen_acc_example(Arena *a, Rng *rng, OpExample *ex) {
    two_inputs_example(a, rng, ex);
    ex->in[0]->grad = NULL;
}

static const OpCase ADD_CASES[] = { { "plain", two_inputs_example, add_apply, NULL } };
static const OpCase ADD_INPLACE_CASES[] = {
    { "plain", two_inputs_example, add_inplace_apply, NULL },
    { "frozen_acc", frozen_acc_example, add_inplace_apply, NULL },
};
static const OpCase MUL_CASES[] = { { "plain", two_inputs_example, mul_apply, NULL } };
static const OpCase SCALE_CASES[] = { { "plain", two_inputs_example, scale_apply, NULL } };

const OpInfo OP_ADD = { "add", "y = a + b, same shapes", NULL, OP_CASES(ADD_CASES) };
const OpInfo OP_ADD_INPLACE = { "add_inplace", "acc += b in acc's storage and gradient buffer", "add",
                                OP_CASES(ADD_INPLACE_CASES) };
const OpInfo OP_MUL = { "mul", "y = a ⊙ b, same shapes", NULL, OP_CASES(MUL_CASES) };
const OpInfo OP_SCALE = { "scale", "y = s·a, s a constant", NULL, OP_CASES(SCALE_CASES) };
