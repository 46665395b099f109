/* nn/lowrank.c — rank-r truncation of a factored product (see lowrank.h). */
#include "nn/lowrank.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Thin QR of X [n, K] (row-major): Q [n, K] orthonormal columns (a column that is numerically
   dependent on the previous ones becomes 0, with R's diagonal 0), R [K, K] upper triangular,
   X = Q·R. Modified Gram-Schmidt, each column projected twice ("twice is enough"). */
static void thin_qr(int n, int K, const double *X, double *Q, double *R) {
    double scale = 0;
    for (size_t i = 0; i < (size_t)n * K; i++) scale = fmax(scale, fabs(X[i]));
    memcpy(Q, X, (size_t)n * K * sizeof *Q);
    memset(R, 0, (size_t)K * K * sizeof *R);
    for (int j = 0; j < K; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < j; i++) {
                double d = 0;
                for (int t = 0; t < n; t++) d += Q[(size_t)t * K + i] * Q[(size_t)t * K + j];
                R[i * K + j] += d;
                for (int t = 0; t < n; t++) Q[(size_t)t * K + j] -= d * Q[(size_t)t * K + i];
            }
        double norm = 0;
        for (int t = 0; t < n; t++) norm += Q[(size_t)t * K + j] * Q[(size_t)t * K + j];
        norm = sqrt(norm);
        int dependent = !(norm > 1e-12 * scale * sqrt((double)n));
        R[j * K + j] = dependent ? 0 : norm;
        for (int t = 0; t < n; t++) Q[(size_t)t * K + j] = dependent ? 0 : Q[(size_t)t * K + j] / norm;
    }
}

/* One-sided Jacobi: W [K, K] (in: C, out: U·Σ, columns), V [K, K] (out: V), C = U Σ Vᵀ. Each
   rotation makes two columns of W orthogonal; sweeps until no pair is off by 1e-15 relative. */
static void jacobi_svd(int K, double *W, double *V) {
    for (int i = 0; i < K * K; i++) V[i] = i % (K + 1) == 0;
    for (int sweep = 0; sweep < 60; sweep++) {
        int rotated = 0;
        for (int p = 0; p < K; p++)
            for (int q = p + 1; q < K; q++) {
                double a = 0, b = 0, g = 0;
                for (int i = 0; i < K; i++) {
                    a += W[i * K + p] * W[i * K + p];
                    b += W[i * K + q] * W[i * K + q];
                    g += W[i * K + p] * W[i * K + q];
                }
                if (!(fabs(g) > 1e-15 * sqrt(a * b))) continue;
                rotated = 1;
                double zeta = (b - a) / (2 * g);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                double c = 1 / sqrt(1 + t * t), s = c * t;
                for (int i = 0; i < K; i++) {
                    double wp = W[i * K + p], wq = W[i * K + q], vp = V[i * K + p], vq = V[i * K + q];
                    W[i * K + p] = c * wp - s * wq;
                    W[i * K + q] = s * wp + c * wq;
                    V[i * K + p] = c * vp - s * vq;
                    V[i * K + q] = s * vp + c * vq;
                }
            }
        if (!rotated) break;
    }
}

void lowrank_truncate(int out, int in, int K, const double *Bc, const double *Ac, int r, double *B, double *A,
                      double *sv) {
    CHECK(out >= 1 && in >= 1 && K >= 1 && r >= 1, "lowrank_truncate: out %d in %d K %d r %d", out, in, K, r);
    double *Qb = malloc((size_t)out * K * sizeof *Qb), *Qa = malloc((size_t)in * K * sizeof *Qa);
    double *At = malloc((size_t)in * K * sizeof *At), *Rb = malloc((size_t)K * K * 4 * sizeof *Rb);
    double *Ra = Rb + K * K, *W = Ra + K * K, *V = W + K * K, s[64 * 8];
    int order[64 * 8];
    CHECK(Qb && Qa && At && Rb && K <= 64 * 8, "lowrank_truncate: out of memory or K %d too large", K);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < in; i++) At[(size_t)i * K + k] = Ac[(size_t)k * in + i];
    thin_qr(out, K, Bc, Qb, Rb);
    thin_qr(in, K, At, Qa, Ra);
    for (int i = 0; i < K; i++)   /* W = C = R_b · R_aᵀ */
        for (int j = 0; j < K; j++) {
            double acc = 0;
            for (int t = 0; t < K; t++) acc += Rb[i * K + t] * Ra[j * K + t];
            W[i * K + j] = acc;
        }
    jacobi_svd(K, W, V);
    for (int j = 0; j < K; j++) {   /* σ_j = |W column j|; order: descending (stable) */
        double n2 = 0;
        for (int i = 0; i < K; i++) n2 += W[i * K + j] * W[i * K + j];
        s[j] = sqrt(n2);
        int pos = j;
        while (pos > 0 && s[order[pos - 1]] < s[j]) { order[pos] = order[pos - 1]; pos--; }
        order[pos] = j;
    }
    memset(B, 0, (size_t)out * r * sizeof *B);
    memset(A, 0, (size_t)r * in * sizeof *A);
    for (int k = 0; k < r && k < K; k++) {
        int j = order[k];
        if (!(s[j] > 0)) continue;
        double h = sqrt(s[j]);
        for (int t = 0; t < out; t++) {   /* B[:, k] = Q_b · (W[:, j] / σ) · √σ */
            double acc = 0;
            for (int i = 0; i < K; i++) acc += Qb[(size_t)t * K + i] * W[i * K + j];
            B[(size_t)t * r + k] = acc / s[j] * h;
        }
        for (int t = 0; t < in; t++) {    /* A[k, :] = √σ · (Q_a · V[:, j])ᵀ */
            double acc = 0;
            for (int i = 0; i < K; i++) acc += Qa[(size_t)t * K + i] * V[i * K + j];
            A[(size_t)k * in + t] = acc * h;
        }
    }
    for (int k = 0; sv && k < K; k++) sv[k] = s[order[k]];
    free(Qb); free(Qa); free(At); free(Rb);
}
