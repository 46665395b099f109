/* autograd/ops/activation.c — silu, swiglu (the Llama MLP gate) and softmax over the last dim.

   silu: y = a·σ(a), σ(a) = 1 / (1 + e^-a); any shape. Saved: nothing (σ is recomputed).
   swiglu: y = silu(a)·b (Shazeer 2020, "GLU Variants Improve Transformer"); a, b, y same shape.
     op_swiglu_shared_grad (its speed twin) gives y b's gradient buffer (y's values are still
     fresh): the backward reads dy there and overwrites it with db (b's only reader is this op),
     so the MLP keeps two [N, F] gradients instead of three.
   softmax: x [..., C] → y [..., C], per row y_j = e^{x_j − m} / Σ_k e^{x_k − m}, m = max_k x_k
     (subtracting the max changes nothing mathematically and keeps e^· ≤ 1, so large inputs
     cannot overflow). Saved: y itself (the output tensor).
   The derivatives (silu', the softmax Jacobian) are derived above the backward kernels.
   σ is evaluated in the form that never exponentiates a positive number (vecmath.h vm_sigmoid,
   a vectorisable exp). Sums over a row are accumulated in double. silu/swiglu run over element
   ranges and softmax over rows on the thread pool when the tensor is large (each element / row
   is one task's private output, so results do not depend on the thread count). */
#include "autograd/ops/activation.h"
#include "autograd/ops/elementwise.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"

/* elements; below this a serial loop is faster. Low enough that a router's [N, E] softmax (1024
   rows x 8..16 experts) runs on the pool: serial, it is a cost that does not shrink with threads
   and grows with E, i.e. with AdaMoE's null experts */
#define SOFTMAX_PARALLEL_MIN ((size_t)1 << 13)

/* ---- kernels on raw pointers ---- */


/* silu'(a) with s = σ(a). From σ'(a) = σ(a)(1 − σ(a)) and the product rule on a·σ(a):
     silu'(a) = σ(a) + a·σ(a)(1 − σ(a)) = σ(a)·(1 + a·(1 − σ(a))) */
static real silu_grad(real a, real s) { return s * ((real)1 + a * ((real)1 - s)); }

/* Elementwise jobs over [i0, i1): every element is its own output, so ranges run on the pool. */
typedef struct {
    real *y, *da, *db;
    const real *a, *b, *dy;
} EwJob;

#define EW_GRAIN 8192   /* elements per pool chunk; below this one thread does it all */

VEC_CLONES static void silu_forward(void *vj, long i0, long i1) {
    const EwJob *j = vj;
    for (long i = i0; i < i1; i++) j->y[i] = j->a[i] * vm_sigmoid(j->a[i]);
}

/* y_i = silu(a_i) elementwise, so  da_i += dy_i · silu'(a_i)  (σ recomputed, not saved) */
VEC_CLONES static void silu_backward(void *vj, long i0, long i1) {
    const EwJob *j = vj;
    for (long i = i0; i < i1; i++) j->da[i] += j->dy[i] * silu_grad(j->a[i], vm_sigmoid(j->a[i]));
}

VEC_CLONES static void swiglu_forward(void *vj, long i0, long i1) {
    const EwJob *j = vj;
    for (long i = i0; i < i1; i++) j->y[i] = j->a[i] * vm_sigmoid(j->a[i]) * j->b[i];
}

/* y_i = silu(a_i)·b_i, a product of two factors, each depending on one input:
     ∂y_i/∂a_i = b_i · silu'(a_i)   ⇒  da_i += dy_i · b_i · silu'(a_i)
     ∂y_i/∂b_i = silu(a_i) = a_i σ(a_i)  ⇒  db_i += dy_i · a_i · σ(a_i)
   Both grads, or one of them (the loops stay branch-free so they vectorise). */
VEC_CLONES static void swiglu_backward(void *vj, long i0, long i1) {
    const EwJob *j = vj;
    const real *a = j->a, *b = j->b, *dy = j->dy;
    if (j->da && j->db)
        for (long i = i0; i < i1; i++) {
            real s = vm_sigmoid(a[i]);
            j->da[i] += dy[i] * b[i] * silu_grad(a[i], s);
            j->db[i] += dy[i] * a[i] * s;
        }
    else if (j->da)
        for (long i = i0; i < i1; i++) j->da[i] += dy[i] * b[i] * silu_grad(a[i], vm_sigmoid(a[i]));
    else if (j->db)
        for (long i = i0; i < i1; i++) j->db[i] += dy[i] * a[i] * vm_sigmoid(a[i]);
}

/* The shared buffer g holds dy (see swiglu_backward_shared). */
typedef struct {
    real *da, *g;
    const real *a, *b;
    int write_db, da_unset;   /* da_unset: da holds garbage standing for zeros (claimed, tape.h) */
} SharedJob;

/* The swiglu derivatives (swiglu_backward), with dy read from the shared buffer g:
     da_i += dy_i · b_i · silu'(a_i),   then   g_i = db_i = dy_i · a_i σ(a_i)
   when b has a gradient. g is b's own buffer, and b's only reader is this op, so before this
   entry runs db is zero and "+=" is "=": dy is overwritten by db element by element, each dy_i
   read before it is replaced. When b is frozen, g is y's own buffer and stays as it is. */
VEC_CLONES static void swiglu_backward_shared(void *vj, long i0, long i1) {
    const SharedJob *j = vj;
    const real *a = j->a, *b = j->b;
    real *g = j->g;
    if (j->da && j->write_db)
        for (long i = i0; i < i1; i++) {
            real s = vm_sigmoid(a[i]), dy = g[i];
            j->da[i] = (j->da_unset ? 0 : j->da[i]) + dy * b[i] * silu_grad(a[i], s);
            g[i] = dy * a[i] * s;
        }
    else if (j->da)
        for (long i = i0; i < i1; i++)
            j->da[i] = (j->da_unset ? 0 : j->da[i]) + g[i] * b[i] * silu_grad(a[i], vm_sigmoid(a[i]));
    else if (j->write_db)
        for (long i = i0; i < i1; i++) g[i] = g[i] * a[i] * vm_sigmoid(a[i]);
}

/* softmax in three passes: y = x − max (shift_row), y = exp(y) (exp_inplace: vecmath.h's vm_exp,
   inline, in one loop the compiler vectorises, the same bits as its scalar form; libm's exp in
   the double build), then y / Σ y with the sum in double (normalise_row). A router's rows are
   short (4-16 entries): libm's call per entry was most of their cost. */
static void shift_row(real *y, const real *x, int C) {
    real m = x[0];
    for (int j = 1; j < C; j++) m = x[j] > m ? x[j] : m;
    for (int j = 0; j < C; j++) y[j] = x[j] - m;
}

VEC_CLONES static void exp_inplace(real *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = vm_exp(y[i]);
}

static void normalise_row(real *y, int C) {
    double s = 0.0;
    for (int j = 0; j < C; j++) s += (double)y[j];
    double inv = 1.0 / s;
    for (int j = 0; j < C; j++) y[j] = (real)((double)y[j] * inv);
}

void softmax_row(real *y, const real *x, int C) {
    shift_row(y, x, C);
    exp_inplace(y, (size_t)C);
    normalise_row(y, C);
}

/* One row of y = softmax(x). With y_j = e^{x_j} / Σ_k e^{x_k} the Jacobian is
     ∂y_j/∂x_i = y_j (δ_ij − y_i)
   so  dx_i = Σ_j dy_j y_j (δ_ij − y_i) = y_i (dy_i − Σ_j y_j dy_j):
   one dot product (in double) per row, then one pass. The max subtracted in the forward is a
   constant shift that leaves y, hence the Jacobian, unchanged. */
static void softmax_row_backward(real *dx, const real *dy, const real *y, int C) {
    double dot = 0.0;
    for (int j = 0; j < C; j++) dot += (double)y[j] * (double)dy[j];
    for (int j = 0; j < C; j++) dx[j] += y[j] * (dy[j] - (real)dot);
}

/* ---- silu ---- */

/* da += dy ⊙ silu'(a) (silu_backward), over element ranges on the pool */
static void silu_backward_entry(const TapeEntry *e) {
    const Tensor *a = e->in[0];
    EwJob j = { NULL, a->grad, NULL, a->data, NULL, e->out->grad };
    if (a->grad) parallel_for_chunks((long)a->numel, EW_GRAIN, silu_backward, &j);
}

Tensor *op_silu(Tape *t, Tensor *a) {
    CHECK(a->data != NULL, "silu: input must hold real data");
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 1, &a), "silu");
    EwJob j = { y->data, NULL, NULL, a->data, NULL, NULL };
    parallel_for_chunks((long)y->numel, EW_GRAIN, silu_forward, &j);
    tape_record(t, "silu", silu_backward_entry, y, 1, &a);
    return y;
}

/* ---- swiglu ---- */

/* da += dy ⊙ b ⊙ silu'(a),  db += dy ⊙ silu(a)  (swiglu_backward) */
static void swiglu_backward_entry(const TapeEntry *e) {
    const Tensor *a = e->in[0], *b = e->in[1];
    EwJob j = { NULL, a->grad, b->grad, a->data, b->data, e->out->grad };
    parallel_for_chunks((long)a->numel, EW_GRAIN, swiglu_backward, &j);
}

/* y = silu(a)·b */
static void swiglu_fill(Tensor *y, const Tensor *a, const Tensor *b) {
    EwJob j = { y->data, NULL, NULL, a->data, b->data, NULL };
    parallel_for_chunks((long)y->numel, EW_GRAIN, swiglu_forward, &j);
}

static void swiglu_check(const char *op, const Tensor *a, const Tensor *b) {
    char sa[64], sb[64];
    CHECK(tensor_same_shape(a, b), "%s: shapes differ: a %s vs b %s", op,
          tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
    CHECK(a->data && b->data, "%s: inputs must hold real data", op);
}

Tensor *op_swiglu(Tape *t, Tensor *a, Tensor *b) {
    swiglu_check("swiglu", a, b);
    Tensor *in[2] = { a, b };
    Tensor *y = tape_output(t, a->ndim, a->shape, tape_wants_grad(t, 2, in), "swiglu");
    swiglu_fill(y, a, b);
    tape_record(t, "swiglu", swiglu_backward_entry, y, 2, in);
    return y;
}

/* the swiglu gradients, db written over dy in the shared buffer (swiglu_backward_shared);
   y->grad is b->grad when b has one, else y's own buffer. The entry claims a's gradient. */
static void swiglu_shared_backward_entry(const TapeEntry *e) {
    const Tensor *a = e->in[0], *b = e->in[1], *y = e->out;
    SharedJob j = { a->grad, y->grad, a->data, b->data, b->grad != NULL, tensor_grad_claim(a) };
    parallel_for_chunks((long)a->numel, EW_GRAIN, swiglu_backward_shared, &j);
}

Tensor *op_swiglu_shared_grad(Tape *t, Tensor *a, Tensor *b) {
    swiglu_check("swiglu_shared_grad", a, b);
    CHECK(!b->grad || a->grad != b->grad, "swiglu_shared_grad: a and b share a gradient buffer");
    Tensor *in[2] = { a, b };
    int wants = tape_wants_grad(t, 2, in);
    Tensor *y = tape_output(t, a->ndim, a->shape, wants && !b->grad, "swiglu_shared_grad");
    if (wants && b->grad) tensor_share_grad(y, b);
    swiglu_fill(y, a, b);
    TapeEntry *e = tape_record(t, "swiglu_shared_grad", swiglu_shared_backward_entry, y, 2, in);
    if (e) e->claims = 1u;   /* a's gradient: swiglu_shared_backward_entry */
    return y;
}

/* ---- softmax ---- */

typedef struct { real *out; const real *dy, *y; const real *x; int C; } SoftmaxJob;

/* softmax_row on each row, bit for bit; short rows (a router's 4-16 experts) pass by pass over
   the whole range, the exponentials in one call instead of one a row */
static void softmax_forward_rows(void *ctx, long begin, long end) {
    const SoftmaxJob *j = ctx;
    int C = j->C;
    if (C > 32) {
        for (long r = begin; r < end; r++) softmax_row(j->out + (size_t)r * C, j->x + (size_t)r * C, C);
        return;
    }
    for (long r = begin; r < end; r++) shift_row(j->out + (size_t)r * C, j->x + (size_t)r * C, C);
    exp_inplace(j->out + (size_t)begin * C, (size_t)(end - begin) * C);
    for (long r = begin; r < end; r++) normalise_row(j->out + (size_t)r * C, C);
}

/* dx_i += y_i (dy_i − Σ_j y_j dy_j) for each row in [begin, end) (softmax_row_backward) */
static void softmax_backward_rows(void *ctx, long begin, long end) {
    const SoftmaxJob *j = ctx;
    for (long r = begin; r < end; r++) {
        size_t off = (size_t)r * j->C;
        softmax_row_backward(j->out + off, j->dy + off, j->y + off, j->C);
    }
}

static void run_rows(ParallelFn fn, SoftmaxJob *job, size_t rows) {
    if (rows * (size_t)job->C >= SOFTMAX_PARALLEL_MIN) parallel_for((long)rows, fn, job);
    else fn(job, 0, (long)rows);
}

/* softmax over the last dim, row by row: dx = y ⊙ (dy − rowsum(y ⊙ dy)), from the saved y */
static void softmax_backward_entry(const TapeEntry *e) {
    const Tensor *x = e->in[0], *y = e->out;
    if (!x->grad) return;
    SoftmaxJob job = { x->grad, y->grad, y->data, NULL, tensor_cols(y) };
    run_rows(softmax_backward_rows, &job, tensor_rows(y));
}

Tensor *op_softmax(Tape *t, Tensor *x) {
    char sx[64];
    CHECK(x->data != NULL, "softmax: input must hold real data");
    CHECK(tensor_cols(x) > 0, "softmax: x %s has an empty last dim", tensor_shape_str(x, sx, sizeof sx));
    Tensor *y = tape_output(t, x->ndim, x->shape, tape_wants_grad(t, 1, &x), "softmax");
    SoftmaxJob job = { y->data, NULL, NULL, x->data, tensor_cols(x) };
    run_rows(softmax_forward_rows, &job, tensor_rows(x));
    tape_record(t, "softmax", softmax_backward_entry, y, 1, &x);
    return y;
}

/* ---- examples for the gradient check (all three are smooth everywhere) ---- */

static void one_input_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = tensor_2d(a, 3, 5, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -3.0, 3.0);
}

static void two_inputs_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 2;
    for (int k = 0; k < 2; k++) {
        ex->in[k] = tensor_3d(a, 2, 2, 4, 1);
        rng_fill_uniform(rng, ex->in[k]->data, ex->in[k]->numel, -3.0, 3.0);
    }
}

static Tensor *silu_apply(Tape *t, const OpExample *ex) { return op_silu(t, ex->in[0]); }
static Tensor *swiglu_apply(Tape *t, const OpExample *ex) { return op_swiglu(t, ex->in[0], ex->in[1]); }
static Tensor *softmax_apply(Tape *t, const OpExample *ex) { return op_softmax(t, ex->in[0]); }

/* b is a fresh copy, as in the MLP (its gradient buffer becomes y's; fan-out applies it twice) */
static Tensor *swiglu_shared_apply(Tape *t, const OpExample *ex) {
    return op_swiglu_shared_grad(t, ex->in[0], op_scale(t, ex->in[1], (real)1));
}
/* one of a, b without a gradient (the other still gets one) */
static void frozen_a_example(Arena *a, Rng *rng, OpExample *ex) {
    two_inputs_example(a, rng, ex);
    ex->in[0]->grad = NULL;
}
static void frozen_b_example(Arena *a, Rng *rng, OpExample *ex) {
    two_inputs_example(a, rng, ex);
    ex->in[1]->grad = NULL;
}

static const OpCase SILU_CASES[] = { { "plain", one_input_example, silu_apply, NULL } };
static const OpCase SWIGLU_CASES[] = { { "plain", two_inputs_example, swiglu_apply, NULL } };
static const OpCase SWIGLU_SHARED_CASES[] = {
    { "plain", two_inputs_example, swiglu_shared_apply, NULL },
    { "frozen_a", frozen_a_example, swiglu_shared_apply, NULL },
    { "frozen_b", frozen_b_example, swiglu_shared_apply, NULL },
};
static const OpCase SOFTMAX_CASES[] = { { "plain", one_input_example, softmax_apply, NULL } };

const OpInfo OP_SILU = { "silu", "y = a·σ(a)", NULL, OP_CASES(SILU_CASES) };
const OpInfo OP_SWIGLU = { "swiglu", "y = silu(a)·b, the Llama MLP gate", NULL, OP_CASES(SWIGLU_CASES) };
const OpInfo OP_SWIGLU_SHARED_GRAD = { "swiglu_shared_grad", "y = silu(a)·b with y's gradient buffer b's",
                                       "swiglu", OP_CASES(SWIGLU_SHARED_CASES) };
const OpInfo OP_SOFTMAX = { "softmax", "y = softmax(x) over the last dim", NULL, OP_CASES(SOFTMAX_CASES) };
