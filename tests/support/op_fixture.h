/* tests/support/op_fixture.h — the arena + tape + RNG trio that op tests set up.
   defines: Fx, fx_init, fx_free */
#ifndef OP_FIXTURE_H
#define OP_FIXTURE_H
#include "autograd/tape.h"
#include "tensor/rng.h"

typedef struct {
    Arena a;
    Tape t;
    Rng rng;
} Fx;

static inline void fx_init(Fx *f, uint64_t seed) {
    arena_init(&f->a, 1 << 20);
    tape_init(&f->t, &f->a);
    rng_seed(&f->rng, seed);
}

static inline void fx_free(Fx *f) {
    tape_free(&f->t);
    arena_free(&f->a);
}

#endif
