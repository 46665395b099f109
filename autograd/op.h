/* autograd/op.h — the registration record of an op, for the test harness.
   defines: OpExample, OpCase, OpInfo, OP_CASES, ALL_OPS, ALL_OPS_COUNT, op_case_count, op_case_at
   An op is ONE differentiable function, op_<name>() in autograd/ops/<family>.h. Its OpInfo gives
   the name, a one-line summary and the op's gradient-check cases; each case is one tiny instance:
   `example` builds the inputs (those to be checked get grad buffers, frozen ones do not; values
   away from kinks and ties), `apply` runs the op on them, the optional `cleanup` frees what
   example() malloc'd (modules). Cases of one op differ in what they exercise (matmul's transpose
   flags, a frozen or bf16 weight, a masked routing, ...); a failure is reported as "op/case".
   The gradient check (tests/support/gradcheck.c) perturbs every element of every input with a
   grad, with a random-probe loss, once plainly and once with the case applied twice to the same
   inputs (fan-out), which exposes a backward that assigns (=) instead of accumulating (+=).
   A speed twin (twin_of != NULL) is its own op_<name>() computing exactly what the op it names
   computes, in the same order, but with less memory (it writes into its input's storage or
   gradient buffer); op_registry.c's header says which ops are twins and why they are ops. */
#ifndef OP_H
#define OP_H
#include "autograd/tape.h"
#include "tensor/rng.h"

#define OP_MAX_IN 4

typedef struct {
    Tensor *in[OP_MAX_IN];   /* tensor inputs; those with grad != NULL are checked */
    int n_in;
    void *aux;               /* op-specific constants (ids, targets, flags), arena-allocated */
} OpExample;

/* one gradient-check case of an op */
typedef struct {
    const char *name;                    /* "nt", "frozen_w", ...: unique within its op */
    void    (*example)(Arena *a, Rng *rng, OpExample *ex);
    Tensor *(*apply)(Tape *t, const OpExample *ex);
    void    (*cleanup)(OpExample *ex);   /* optional: frees what example() malloc'd (modules) */
} OpCase;

typedef struct {
    const char *name;        /* "matmul" for op_matmul() */
    const char *summary;     /* one line: what it computes */
    const char *twin_of;     /* NULL, or the name of the op this one is a speed twin of */
    const OpCase *cases;     /* at least one */
    int n_cases;
} OpInfo;

/* `OP_CASES(MATMUL_CASES)` fills cases and n_cases from a static array */
#define OP_CASES(arr) (arr), (int)(sizeof(arr) / sizeof((arr)[0]))

extern const OpInfo *const ALL_OPS[];
extern const int ALL_OPS_COUNT;

/* Every case of every op, flattened in registry order (the gradient-check loop). */
int op_case_count(void);
const OpCase *op_case_at(int i, const OpInfo **op);   /* 0 <= i < op_case_count() */

#endif
