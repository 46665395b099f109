/* optim/adamw.h — AdamW over one flat block of trainable values.
   defines: AdamWConfig, AdamW, adamw_init, adamw_step, adamw_free
   Loshchilov & Hutter 2019 (decoupled weight decay), in PyTorch's formulation:
     t += 1;  m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²
     p -= lr·wd·p                           (decoupled decay, only where decay[i] != 0)
     p -= (lr / (1−b1^t)) · m / (sqrt(v) / sqrt(1−b2^t) + eps)
   m and v have the ParamStore's trainable layout, so the update is a single loop. */
#ifndef ADAMW_H
#define ADAMW_H
#include <stddef.h>
#include <stdint.h>
#include "tensor/real.h"

typedef struct {
    double beta1, beta2, eps, weight_decay;
} AdamWConfig;

typedef struct {
    AdamWConfig cfg;
    size_t n;
    real *m, *v;
    uint8_t *decay;     /* [n]: 1 where weight decay applies (set by the caller; default all 1) */
    long step;          /* number of updates done */
} AdamW;

void adamw_init(AdamW *opt, const AdamWConfig *cfg, size_t n);
void adamw_step(AdamW *opt, real *params, const real *grads, double lr);
void adamw_free(AdamW *opt);

#endif
