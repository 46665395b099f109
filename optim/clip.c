/* optim/clip.c — see clip.h. */
#include "optim/clip.h"
#include <math.h>

double grad_global_norm(const real *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return sqrt(s);
}

double clip_grad_norm(real *g, size_t n, double max_norm) {
    double norm = grad_global_norm(g, n);
    if (max_norm > 0 && norm > max_norm) {
        real f = (real)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++) g[i] *= f;
    }
    return norm;
}
