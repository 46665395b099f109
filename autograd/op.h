/* autograd/op.h — the registration record every op family provides, for the test harness.
   defines: OpExample, OpInfo, ALL_OPS, ALL_OPS_COUNT
   `example` builds tiny inputs (inputs that must be gradient-checked get grad buffers; frozen
   ones do not), chosen away from kinks and ties; `apply` runs the op on them. The gradient
   check (tests/support/gradcheck.c) perturbs every element of every input with a grad, with a
   random-probe loss, once plainly and once with the op applied twice to the same inputs
   (fan-out), which exposes a backward that assigns (=) instead of accumulating (+=). */
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

typedef struct {
    const char *name;
    void    (*example)(Arena *a, Rng *rng, OpExample *ex);
    Tensor *(*apply)(Tape *t, const OpExample *ex);
    void    (*cleanup)(OpExample *ex);   /* optional: frees what example() malloc'd (modules) */
} OpInfo;

extern const OpInfo *const ALL_OPS[];
extern const int ALL_OPS_COUNT;

#endif
