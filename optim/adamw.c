/* optim/adamw.c — see adamw.h. */
#include "optim/adamw.h"
#include "tensor/check.h"
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

void adamw_step(AdamW *opt, real *params, const real *grads, double lr) {
    const AdamWConfig *c = &opt->cfg;
    opt->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)opt->step);
    double bc2 = 1.0 - pow(c->beta2, (double)opt->step);
    real b1 = (real)c->beta1, b2 = (real)c->beta2, eps = (real)c->eps;
    real step_size = (real)(lr / bc1), inv_sqrt_bc2 = (real)(1.0 / sqrt(bc2));
    real decay = (real)(1.0 - lr * c->weight_decay);
    for (size_t i = 0; i < opt->n; i++) {
        real g = grads[i];
        opt->m[i] = b1 * opt->m[i] + (1 - b1) * g;
        opt->v[i] = b2 * opt->v[i] + (1 - b2) * g * g;
        if (opt->decay[i]) params[i] *= decay;
        params[i] -= step_size * opt->m[i] / (real_sqrt(opt->v[i]) * inv_sqrt_bc2 + eps);
    }
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    free(opt->v);
    free(opt->decay);
    memset(opt, 0, sizeof *opt);
}
