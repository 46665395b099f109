/* optim/adamw.c — see adamw.h. */
#include "optim/adamw.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tensor/vecmath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void adamw_init(AdamW *opt, const AdamWConfig *cfg, size_t n) {
    opt->cfg = *cfg;
    opt->n = n;
    opt->m = xcalloc(n ? n : 1, sizeof(real));
    opt->v = xcalloc(n ? n : 1, sizeof(real));
    opt->decay = xmalloc(n ? n : 1);
    memset(opt->decay, 1, n ? n : 1);
    opt->step = 0;
}

typedef struct {
    AdamW *opt;
    real *params;
    const real *grads;
    real b1, b2, eps, step_size, inv_sqrt_bc2, decay;
} AdamJob;

/* elements [i0, i1): element-wise, so any split over threads gives the same bits. The decay is
   the multiply by 1 + (decay − 1)·mask = decay or 1 exactly (decay − 1 is exact for decay >= 1/2,
   Sterbenz; below that the decay goes first in a separate pass and dm1 = 0), so the loop has no
   branch and vectorises: the Makefile builds this file with -fno-math-errno so sqrtf is one
   instruction (v >= 0); sqrt and division round correctly in every clone and -std=c11 does not
   contract, so every clone gives the bits of the scalar loop. */
VEC_CLONES static void adam_range(void *vj, long i0, long i1) {
    const AdamJob *j = vj;
    real *restrict m = j->opt->m, *restrict v = j->opt->v, *restrict p = j->params;
    const real *restrict g = j->grads;
    const uint8_t *restrict dk = j->opt->decay;
    const real b1 = j->b1, b2 = j->b2, eps = j->eps, ss = j->step_size, isb = j->inv_sqrt_bc2;
    real dm1 = j->decay - 1;
    if (1 + dm1 != j->decay) {   /* decay < 1/2: not exact, decay first */
        for (long i = i0; i < i1; i++)
            if (dk[i]) p[i] *= j->decay;
        dm1 = 0;
    }
    for (long i = i0; i < i1; i++) {
        real gi = g[i];
        real mi = b1 * m[i] + (1 - b1) * gi;
        real vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        real pi = p[i] * (1 + dm1 * (real)dk[i]);   /* decay or 1, exactly */
        p[i] = pi - ss * mi / (real_sqrt(vi) * isb + eps);
    }
}

void adamw_step(AdamW *opt, real *params, const real *grads, double lr) {
    const AdamWConfig *c = &opt->cfg;
    opt->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)opt->step);
    double bc2 = 1.0 - pow(c->beta2, (double)opt->step);
    AdamJob j = { opt, params, grads, (real)c->beta1, (real)c->beta2, (real)c->eps, (real)(lr / bc1),
                  (real)(1.0 / sqrt(bc2)), (real)(1.0 - lr * c->weight_decay) };
    parallel_for_chunks((long)opt->n, 16384, adam_range, &j);
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    free(opt->v);
    free(opt->decay);
    memset(opt, 0, sizeof *opt);
}
