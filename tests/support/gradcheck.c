/* tests/support/gradcheck.c — see gradcheck.h. */
#include "tests/support/gradcheck.h"
#include <check.h>
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const OpCase *c;         /* the case under test */
    const OpExample *ex;
    Tape *tape;
    real *w[2];              /* probe weights */
    int fan_out;
} Probe;

/* Runs the op (once, or twice for fan-out) and returns the probe loss. With grads on, the
   outputs' grads are seeded with the probe weights so tape_backward_seeded gives dLoss/dx. */
static double probe_loss(Probe *p, int with_grad) {
    double loss = 0.0;
    for (int k = 0; k <= p->fan_out; k++) {
        Tensor *y = p->c->apply(p->tape, p->ex);
        for (size_t i = 0; i < y->numel; i++) loss += (double)p->w[k][i] * (double)y->data[i];
        if (with_grad) {
            CHECK(y->grad != NULL, "case %s: output has no grad although inputs do", p->c->name);
            tensor_grad_ready(y);   /* a caller seeding an output makes its gradient real first (tape.h) */
            for (size_t i = 0; i < y->numel; i++) y->grad[i] += p->w[k][i];
        }
    }
    return loss;
}

static double rel_err(double a, double n) {
    double d = fabs(a) > fabs(n) ? fabs(a) : fabs(n);
    if (d < 1e-3) d = 1e-3;
    return fabs(a - n) / d;
}

/* Central differences for every element of every input with a grad, compared with the
   analytic grads already in x->grad. */
static void numeric_check(Probe *p, const OpExample *ex, Arena *a, GradcheckResult *r) {
    const double h = sizeof(real) == sizeof(double) ? 1e-5 : 1e-2;
    tape_set_no_grad(p->tape, 1);
    for (int i = 0; i < ex->n_in; i++) {
        Tensor *x = ex->in[i];
        if (!x->grad) continue;
        /* the double build checks every element; the float build (a loose sanity check that
           also runs under the sanitizers and qemu) samples at most 64 per input */
        size_t stride = REAL_IS_DOUBLE || x->numel <= 64 ? 1 : (x->numel + 63) / 64;
        for (size_t j = 0; j < x->numel; j += stride) {
            real orig = x->data[j];
            ArenaMark m = arena_mark(a);
            x->data[j] = (real)(orig + h);
            double lp = probe_loss(p, 0);
            arena_rewind(a, m);
            x->data[j] = (real)(orig - h);
            double lm = probe_loss(p, 0);
            arena_rewind(a, m);
            x->data[j] = orig;
            double num = (lp - lm) / (2 * h), ana = (double)x->grad[j];
            double e = rel_err(ana, num);
            r->checked++;
            if (e > r->worst_rel_err || isnan(e)) {
                r->worst_rel_err = isnan(e) ? INFINITY : e;
                r->worst_input = i;
                r->worst_index = j;
                r->worst_analytic = ana;
                r->worst_numeric = num;
            }
        }
    }
}

GradcheckResult gradcheck_op(const OpCase *c, uint64_t seed, int fan_out) {
    GradcheckResult r = { 0 };
    Arena a;
    arena_init(&a, 1 << 20);
    Rng rng;
    rng_seed(&rng, seed);
    OpExample ex;
    memset(&ex, 0, sizeof ex);
    c->example(&a, &rng, &ex);
    Tape tape;
    tape_init(&tape, &a);

    /* output size, then probe weights */
    tape_set_no_grad(&tape, 1);
    ArenaMark m0 = arena_mark(&a);
    size_t n_out = c->apply(&tape, &ex)->numel;
    arena_rewind(&a, m0);
    Probe p = { c, &ex, &tape, { NULL, NULL }, fan_out };
    for (int k = 0; k < 2; k++) {
        p.w[k] = arena_alloc(&a, n_out * sizeof(real));
        rng_fill_uniform(&rng, p.w[k], n_out, -1.0, 1.0);
    }

    /* analytic */
    for (int i = 0; i < ex.n_in; i++) tensor_zero_grad(ex.in[i]);
    tape_set_no_grad(&tape, 0);
    ArenaMark m1 = arena_mark(&a);
    probe_loss(&p, 1);
    tape_backward_seeded(&tape);
    tape_reset(&tape);
    arena_rewind(&a, m1);

    numeric_check(&p, &ex, &a, &r);
    tape_free(&tape);
    if (c->cleanup) c->cleanup(&ex);
    arena_free(&a);
    return r;
}

static int expect_labelled(const char *label, const OpCase *c, uint64_t seed, double float_tol) {
    double tol = REAL_IS_DOUBLE ? GRADCHECK_TOL : float_tol;
    int checked = 0;
    for (int fan_out = 0; fan_out <= 1; fan_out++) {
        GradcheckResult r = gradcheck_op(c, seed, fan_out);
        checked = r.checked;
        if (tol < 0 || r.checked == 0) continue;
        ck_assert_msg(r.worst_rel_err < tol,
                      "%s (fan_out=%d): worst relative error %.3e at input %d element %zu "
                      "(analytic %.10g, numeric %.10g) over %d elements",
                      label, fan_out, r.worst_rel_err, r.worst_input, r.worst_index, r.worst_analytic,
                      r.worst_numeric, r.checked);
    }
    return checked;
}

int gradcheck_expect(const OpCase *c, uint64_t seed, double float_tol) {
    return expect_labelled(c->name, c, seed, float_tol);
}

int gradcheck_expect_op(const OpInfo *op, const OpCase *c, uint64_t seed, double float_tol) {
    char label[128];
    snprintf(label, sizeof label, "%s/%s", op->name, c->name);
    return expect_labelled(label, c, seed, float_tol);
}

uint64_t gradcheck_seed(const char *op_name, const char *case_name) {
    uint64_t h = 1469598103934665603ULL;                     /* FNV-1a, 64 bit */
    for (const char *s = op_name; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ (unsigned char)'/') * 1099511628211ULL;
    for (const char *s = case_name; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}
