/* autograd/ops/rope.c — rotary embeddings (see rope.h for the two pairings).
   Shapes: x, y [B, T, H, D] (D even). Saved: the table pointer, pos0 and the mode.
   Forward, for each pair (a, b) of a head at position p with c = cos, s = sin of p·inv_freq_j:
     y_a = x_a c - x_b s,   y_b = x_a s + x_b c        (torch_ref: x0*c - x1*s, x0*s + x1*c)
   Backward: dx = R(p)^T dy, a rotation by −p (derivation above rope_backward).
   op_rope_inplace (the speed twin) rotates x itself (y is x: same values, same gradient buffer; the backward
   needs no input values) and its backward turns dy into dx = R(p)^T dy in that buffer: no
   [B, T, H, D] output and output gradient, for an x nothing else reads (the q / k projection).
   Rows (b, t) run in parallel; each row writes only its own H·D outputs. */
#include "autograd/ops/rope.h"
#include "autograd/ops/elementwise.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>

void rope_table_init_freq(RopeTable *tab, Arena *a, int max_pos, int D, double theta, const double *inv_freq) {
    CHECK(max_pos > 0 && D > 0 && D % 2 == 0 && theta > 0,
          "rope_table_init: need max_pos > 0, even D > 0, theta > 0 (got %d, %d, %g)", max_pos, D, theta);
    size_t n = (size_t)max_pos * (size_t)(D / 2);
    tab->max_pos = max_pos;
    tab->D = D;
    tab->theta = theta;
    tab->owned = a == NULL;
    tab->cos = a ? arena_alloc(a, n * sizeof(real)) : xmalloc(n * sizeof(real));
    tab->sin = a ? arena_alloc(a, n * sizeof(real)) : xmalloc(n * sizeof(real));
    for (int j = 0; j < D / 2; j++)
        for (int p = 0; p < max_pos; p++) {
            double ang = (double)p * inv_freq[j];
            tab->cos[(size_t)p * (D / 2) + j] = (real)cos(ang);
            tab->sin[(size_t)p * (D / 2) + j] = (real)sin(ang);
        }
}

void rope_table_init(RopeTable *tab, Arena *a, int max_pos, int D, double theta) {
    CHECK(D > 0 && D % 2 == 0 && theta > 0, "rope_table_init: need even D > 0, theta > 0 (got %d, %g)", D, theta);
    double *inv_freq = xmalloc((size_t)(D / 2) * sizeof *inv_freq);
    for (int j = 0; j < D / 2; j++) inv_freq[j] = 1.0 / pow(theta, (double)(2 * j) / (double)D);
    rope_table_init_freq(tab, a, max_pos, D, theta, inv_freq);
    free(inv_freq);
}

void rope_table_free(RopeTable *tab) {
    if (tab->owned) {
        free(tab->cos);
        free(tab->sin);
    }
    tab->cos = tab->sin = NULL;
    tab->owned = 0;
}

/* ---- kernels on raw pointers ---- */

/* what rope_rows computes into out: R in (forward), out += R^T in, or R^T in */
enum { ROPE_FWD = 0, ROPE_BWD_ADD = 1, ROPE_BWD_SET = 2 };

typedef struct {
    real *out;
    const real *in;
    int T, H, D, pos0, backward;   /* backward: one of the enum above */
    RopeMode mode;
    const RopeTable *tab;
} RopeCtx;

/* Rows [r0, r1) of a [rows, H, D] array; row r is at position pos0 + r % T.
   ROPE_FWD and ROPE_BWD_SET assign (in == out is allowed: each pair is read before it is
   written); ROPE_BWD_ADD accumulates R^T in into out. */
static void rope_rows(void *vc, long r0, long r1) {
    const RopeCtx *c = vc;
    int half = c->D / 2;
    for (long r = r0; r < r1; r++) {
        int pos = c->pos0 + (int)(r % c->T);
        const real *cs = c->tab->cos + (size_t)pos * half, *sn = c->tab->sin + (size_t)pos * half;
        for (int h = 0; h < c->H; h++) {
            size_t base = ((size_t)r * c->H + h) * c->D;
            const real *x = c->in + base;
            real *y = c->out + base;
            for (int j = 0; j < half; j++) {
                int ia = c->mode == ROPE_INTERLEAVED ? 2 * j : j;
                int ib = c->mode == ROPE_INTERLEAVED ? 2 * j + 1 : j + half;
                real x0 = x[ia], x1 = x[ib], co = cs[j], si = sn[j];
                if (c->backward == ROPE_FWD) {
                    y[ia] = x0 * co - x1 * si;
                    y[ib] = x0 * si + x1 * co;
                } else if (c->backward == ROPE_BWD_ADD) {
                    y[ia] += x0 * co + x1 * si;
                    y[ib] += x1 * co - x0 * si;
                } else {
                    y[ia] = x0 * co + x1 * si;
                    y[ib] = x1 * co - x0 * si;
                }
            }
        }
    }
}

static void check_table(const char *op, const RopeTable *tab, int T, int D, int pos0, RopeMode mode) {
    CHECK(tab && tab->cos && tab->sin, "%s: RoPE table not initialised", op);
    CHECK(D == tab->D, "%s: head size %d but the RoPE table was built for D = %d", op, D, tab->D);
    CHECK(pos0 >= 0 && pos0 + T <= tab->max_pos,
          "%s: positions %d..%d outside the RoPE table (max_pos %d)", op, pos0, pos0 + T - 1, tab->max_pos);
    CHECK(mode == ROPE_INTERLEAVED || mode == ROPE_HALF, "%s: unknown RoPE mode %d", op, (int)mode);
}

void rope_apply_inplace(real *x, int T, int H, int D, const RopeTable *tab, int pos0, RopeMode mode) {
    check_table("rope_apply_inplace", tab, T, D, pos0, mode);
    RopeCtx c = { x, x, T, H, D, pos0, ROPE_FWD, mode, tab };
    parallel_for_chunks(T, 64, rope_rows, &c);
}

/* ---- op ---- */

typedef struct {
    const RopeTable *tab;
    int pos0;
    RopeMode mode;
} RopeSaved;

/* Per pair (a, b) at position p, with c = cos, s = sin of p·inv_freq_j, the forward is the
   2×2 rotation y = R x,  R = [c  −s; s  c]  (y_a = c x_a − s x_b,  y_b = s x_a + c x_b).
   Its Jacobian ∂y/∂x is R itself, a constant, so dx = Rᵀ dy = R(−p) dy:
     dx_a += c dy_a + s dy_b,   dx_b += c dy_b − s dy_a
   (rope_rows in ROPE_BWD_ADD mode; each pair is independent, no input values are needed) */
static void rope_backward(const TapeEntry *e) {
    const RopeSaved *sv = e->saved;
    Tensor *x = e->in[0], *y = e->out;
    if (!x->grad) return;
    RopeCtx c = { x->grad, y->grad, x->shape[1], x->shape[2], x->shape[3], sv->pos0, ROPE_BWD_ADD, sv->mode,
                  sv->tab };
    parallel_for_chunks((long)x->shape[0] * x->shape[1], 16, rope_rows, &c);
}

/* In place: y->grad IS x->grad, so dy becomes dx where it lies (x's only reader is this op,
   hence the buffer holds exactly dy): dx = Rᵀ dy as in rope_backward, written over dy pair by
   pair (ROPE_BWD_SET; both entries of a pair are read before either is written). */
static void rope_inplace_backward(const TapeEntry *e) {
    const RopeSaved *sv = e->saved;
    Tensor *y = e->out;
    RopeCtx c = { y->grad, y->grad, y->shape[1], y->shape[2], y->shape[3], sv->pos0, ROPE_BWD_SET, sv->mode,
                  sv->tab };
    parallel_for_chunks((long)y->shape[0] * y->shape[1], 16, rope_rows, &c);
}

static Tensor *rope_op(Tape *t, Tensor *x, const RopeTable *tab, int pos0, RopeMode mode, int inplace) {
    char sx[64];
    const char *name = inplace ? "rope_inplace" : "rope";
    CHECK(x->data != NULL, "%s: input must hold real data (not bf16)", name);
    CHECK(x->ndim == 4 && x->shape[3] % 2 == 0, "%s: x must be [B, T, H, D] with D even, got %s", name,
          tensor_shape_str(x, sx, sizeof sx));
    check_table(name, tab, x->shape[1], x->shape[3], pos0, mode);
    int wants = tape_wants_grad(t, 1, &x);
    Tensor *y = inplace ? tape_output_inplace(t, x, wants, name) : tape_output(t, 4, x->shape, wants, name);
    RopeCtx c = { y->data, x->data, x->shape[1], x->shape[2], x->shape[3], pos0, ROPE_FWD, mode, tab };
    parallel_for_chunks((long)x->shape[0] * x->shape[1], 16, rope_rows, &c);
    TapeEntry *e = tape_record(t, name, inplace ? rope_inplace_backward : rope_backward, y, 1, &x);
    if (e) {
        RopeSaved *sv = arena_alloc(t->arena, sizeof *sv);
        sv->tab = tab;
        sv->pos0 = pos0;
        sv->mode = mode;
        e->saved = sv;
    }
    return y;
}

Tensor *op_rope(Tape *t, Tensor *x, const RopeTable *tab, int pos0, RopeMode mode) {
    return rope_op(t, x, tab, pos0, mode, 0);
}

Tensor *op_rope_inplace(Tape *t, Tensor *x, const RopeTable *tab, int pos0, RopeMode mode) {
    return rope_op(t, x, tab, pos0, mode, 1);
}

/* ---- examples for the gradient check ---- */

static void rope_example(Arena *a, Rng *rng, OpExample *ex) {
    ex->n_in = 1;
    ex->in[0] = tensor_new(a, 4, (int[]){ 2, 3, 2, 6 }, 1);
    rng_fill_uniform(rng, ex->in[0]->data, ex->in[0]->numel, -1.0, 1.0);
    RopeTable *tab = arena_alloc(a, sizeof *tab);
    rope_table_init(tab, a, 8, 6, 100.0);   /* small theta: the low frequencies still turn */
    ex->aux = tab;
}

static Tensor *rope_interleaved_apply(Tape *t, const OpExample *ex) {
    return op_rope(t, ex->in[0], ex->aux, 2, ROPE_INTERLEAVED);
}
static Tensor *rope_half_apply(Tape *t, const OpExample *ex) {
    return op_rope(t, ex->in[0], ex->aux, 3, ROPE_HALF);
}

/* the in-place op on a fresh copy of x (it overwrites its input, and fan-out applies it twice) */
static Tensor *rope_inplace_interleaved_apply(Tape *t, const OpExample *ex) {
    return op_rope_inplace(t, op_scale(t, ex->in[0], (real)1), ex->aux, 2, ROPE_INTERLEAVED);
}
static Tensor *rope_inplace_half_apply(Tape *t, const OpExample *ex) {
    return op_rope_inplace(t, op_scale(t, ex->in[0], (real)1), ex->aux, 3, ROPE_HALF);
}

static const OpCase ROPE_CASES[] = {
    { "interleaved", rope_example, rope_interleaved_apply, NULL },
    { "half", rope_example, rope_half_apply, NULL },
};
static const OpCase ROPE_INPLACE_CASES[] = {
    { "interleaved", rope_example, rope_inplace_interleaved_apply, NULL },
    { "half", rope_example, rope_inplace_half_apply, NULL },
};
const OpInfo OP_ROPE = { "rope", "rotary position embedding of x [B, T, H, D], two pairings", NULL,
                         OP_CASES(ROPE_CASES) };
const OpInfo OP_ROPE_INPLACE = { "rope_inplace", "rope rotating x in its own storage and gradient", "rope",
                                 OP_CASES(ROPE_INPLACE_CASES) };
