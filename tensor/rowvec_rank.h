/* tensor/rowvec_rank.h — rank-R row kernels: R dot products against one vector, a sum of R scaled
   rows, and a rank-R outer-product update (the routed LoRA experts' arithmetic; R is a LoRA rank).
   defines: rowvec_dots, rowvec_axpy_rows, rowvec_outer_add, rowvec_outer_add_rows
   Results are summed in a fixed order, so they do not depend on which thread computes them. */
#ifndef TENSOR_ROWVEC_RANK_H
#define TENSOR_ROWVEC_RANK_H
#include "tensor/real.h"

/* out[k] = M[k,:]·v for k < R (M [R, n] row-major) */
void rowvec_dots(const real *M, int R, int n, const real *v, real *out);
/* y[:] += Σ_k c[k] · M[k,:] */
void rowvec_axpy_rows(real *y, const real *M, int R, int n, const real *c);
/* M[k, lo:hi] += c[k] · v[lo:hi] for k < R, M with row stride ld */
void rowvec_outer_add(real *M, int R, int ld, int lo, int hi, const real *c, const real *v);
/* n rank-R updates at once: for j = 0 .. n-1 in order, M[k, lo:hi] += C[j·ldc + k] · V[rows[j]·ldv + lo:hi]
   (k < R), bit for bit the n calls of rowvec_outer_add; eight rows of M at a time stay in
   registers over all n terms (one load and store of M instead of n) */
void rowvec_outer_add_rows(real *M, int R, int ld, int lo, int hi, const real *C, int ldc, int n, const real *V,
                           int ldv, const int *rows);

#endif
