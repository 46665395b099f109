/* nn/lowrank.h — the best rank-r factorisation of a matrix given as a product of thin factors,
   M = Bc·Ac with Bc [out, K] and Ac [K, in] (K = a few stacked LoRA ranks), without forming M:
     Bc = Q_b R_b, Acᵀ = Q_a R_a          (thin QR, modified Gram-Schmidt, reorthogonalised)
     C  = R_b R_aᵀ = U Σ Vᵀ   [K, K]      (one-sided Jacobi SVD, Hestenes 1958)
     M  = (Q_b U) Σ (Q_a V)ᵀ              so the rank-r truncation is optimal (Eckart-Young)
   and the result is balanced: B = Q_b U_r Σ_r^{1/2} [out, r], A = Σ_r^{1/2} V_rᵀ Q_aᵀ [r, in].
   Cost O((out + in)·K² + K³) per call, for merging LoRA experts (nn/moe_merge.h).
   defines: lowrank_truncate */
#ifndef LOWRANK_H
#define LOWRANK_H

/* B·A = the best rank-r approximation of Bc·Ac (r > K: the extra rows / columns are 0). sv [K]
   (may be NULL) receives the singular values of Bc·Ac, descending. Everything in double. */
void lowrank_truncate(int out, int in, int K, const double *Bc, const double *Ac, int r, double *B, double *A,
                      double *sv);

#endif
