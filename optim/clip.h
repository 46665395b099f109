/* optim/clip.h — global-norm gradient clipping (PyTorch's clip_grad_norm_).
   defines: grad_global_norm, clip_grad_norm
   norm = sqrt(Σ g²) over the whole trainable grad block, summed in double in index order
   (deterministic); if norm > max_norm, every g *= max_norm / (norm + 1e-6). */
#ifndef CLIP_H
#define CLIP_H
#include <stddef.h>
#include "tensor/real.h"

double grad_global_norm(const real *g, size_t n);
/* returns the norm before clipping; max_norm <= 0 disables clipping */
double clip_grad_norm(real *g, size_t n, double max_norm);

#endif
