/* tests/support/gradcheck.h — finite-difference gradient check of one op case (meant for the double build).
   defines: GradcheckResult, gradcheck_op, gradcheck_expect, gradcheck_expect_op, gradcheck_seed,
            GRADCHECK_TOL
   Loss = sum(w1 * op(x)) [+ sum(w2 * op(x)) in fan-out mode, op applied twice to the SAME
   inputs], with random probe weights w: a plain sum would hide bugs whose errors sum to zero
   (softmax). Analytic grads come from the tape; numeric ones from central differences,
   (L(x+h) - L(x-h)) / 2h, for every element of every input that has a grad.
   The float build samples at most 64 elements per input (strided); double checks all.
   Error per element: |analytic - numeric| / max(|analytic|, |numeric|, 1e-3). */
#ifndef GRADCHECK_H
#define GRADCHECK_H
#include <stdint.h>
#include "autograd/op.h"

#define GRADCHECK_TOL 1e-6

typedef struct {
    double worst_rel_err;
    int checked;              /* elements compared */
    int worst_input;          /* index of the input holding the worst element */
    size_t worst_index;
    double worst_analytic, worst_numeric;
} GradcheckResult;

GradcheckResult gradcheck_op(const OpCase *c, uint64_t seed, int fan_out);
/* Check assertions: gradcheck_op plainly and with fan-out; in the double build the worst error
   must stay under GRADCHECK_TOL, in the float build under float_tol (< 0: only "something was
   checked", for modules whose float finite differences are too noisy to mean anything).
   Failures name the case. Returns the number of elements checked per run (the caller asserts it
   is positive). */
int gradcheck_expect(const OpCase *c, uint64_t seed, double float_tol);
/* the same for a case of a registered op: failures name it "op/case" */
int gradcheck_expect_op(const OpInfo *op, const OpCase *c, uint64_t seed, double float_tol);
/* a seed from a name (FNV-1a), so a case keeps its inputs whatever the registry order */
uint64_t gradcheck_seed(const char *op_name, const char *case_name);

#endif
