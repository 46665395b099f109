/* tensor/rowvec_rank.c — the rank-R row kernels of rowvec_rank.h (used by op_routed_lora).
   Sizes are small (R = LoRA rank, n = in or out of one linear), the matrices sit in L1/L2, so a
   plain vectorised loop beats packing a GEMM for each few-row expert batch.
   rowvec_dots: R dot products sharing the vector v, eight rows per pass on 16-float vectors, their
   lanes summed by one fixed tree (vm_lane_sums8: 7 shuffled vector adds where summing each row's
   16 lanes one by one took 120 dependent scalar adds, half of the call at rank 8); the rest four
   or one at a time. Every result is the same whatever thread computes it. The double build
   (gradcheck) is plain.
   rowvec_axpy_rows: y += Σ_k c_k M[k,:], four rows per sum, eight per pass over y (auto-vectorised).
   rowvec_outer_add_rows: eight rows of M in registers over all the terms, the gathered rows of V
   prefetched a few terms ahead. */
#include "tensor/rowvec_rank.h"
#include "tensor/vecmath.h"

static inline float lane_sum(VmF16 v) {
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += v[l];
    return s;
}

VEC_CLONES static void dots_f32(const float *M, int R, int n, const float *v, float *out) {
    int full = n / 16 * 16, k = 0;
    for (; k + 8 <= R; k += 8) {   /* eight rows per pass over v, summed by one lane tree */
        const float *m = M + (size_t)k * n;
        VmF16 acc[8];
        for (int r = 0; r < 8; r++) acc[r] = (VmF16){ 0 };
        for (int i = 0; i < full; i += 16) {
            VmF16 vv = vm_load(v + i);
            for (int r = 0; r < 8; r++) acc[r] += vm_load(m + (size_t)r * n + i) * vv;
        }
        vm_lane_sums8(acc, out + k);
        for (int r = 0; r < 8; r++)
            for (int i = full; i < n; i++) out[k + r] += m[(size_t)r * n + i] * v[i];
    }
    for (; k + 4 <= R; k += 4) {
        const float *m0 = M + (size_t)k * n, *m1 = m0 + n, *m2 = m1 + n, *m3 = m2 + n;
        VmF16 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
        for (int i = 0; i < full; i += 16) {
            VmF16 vv = vm_load(v + i);
            a0 += vm_load(m0 + i) * vv;
            a1 += vm_load(m1 + i) * vv;
            a2 += vm_load(m2 + i) * vv;
            a3 += vm_load(m3 + i) * vv;
        }
        float s0 = lane_sum(a0), s1 = lane_sum(a1), s2 = lane_sum(a2), s3 = lane_sum(a3);
        for (int i = full; i < n; i++) {
            s0 += m0[i] * v[i];
            s1 += m1[i] * v[i];
            s2 += m2[i] * v[i];
            s3 += m3[i] * v[i];
        }
        out[k] = s0;
        out[k + 1] = s1;
        out[k + 2] = s2;
        out[k + 3] = s3;
    }
    for (; k < R; k++) {
        const float *m0 = M + (size_t)k * n;
        VmF16 a0 = { 0 };
        for (int i = 0; i < full; i += 16) a0 += vm_load(m0 + i) * vm_load(v + i);
        float s0 = lane_sum(a0);
        for (int i = full; i < n; i++) s0 += m0[i] * v[i];
        out[k] = s0;
    }
}
void rowvec_dots(const real *M, int R, int n, const real *v, real *out) {
    if (sizeof(real) == sizeof(float)) {
        dots_f32((const float *)M, R, n, (const float *)v, (float *)out);
        return;
    }
    for (int k = 0; k < R; k++) {
        real s = 0;
        for (int i = 0; i < n; i++) s += M[(size_t)k * n + i] * v[i];
        out[k] = s;
    }
}

VEC_CLONES void rowvec_axpy_rows(real *y, const real *M, int R, int n, const real *c) {
    int k = 0;
    for (; k + 8 <= R; k += 8) {   /* two passes of four in one: the same sums, y read once */
        const real *m0 = M + (size_t)k * n, *m1 = m0 + n, *m2 = m1 + n, *m3 = m2 + n;
        const real *m4 = m3 + n, *m5 = m4 + n, *m6 = m5 + n, *m7 = m6 + n;
        real c0 = c[k], c1 = c[k + 1], c2 = c[k + 2], c3 = c[k + 3];
        real c4 = c[k + 4], c5 = c[k + 5], c6 = c[k + 6], c7 = c[k + 7];
        for (int i = 0; i < n; i++) {
            real t = y[i] + ((c0 * m0[i] + c1 * m1[i]) + (c2 * m2[i] + c3 * m3[i]));
            y[i] = t + ((c4 * m4[i] + c5 * m5[i]) + (c6 * m6[i] + c7 * m7[i]));
        }
    }
    for (; k + 4 <= R; k += 4) {
        const real *m0 = M + (size_t)k * n, *m1 = m0 + n, *m2 = m1 + n, *m3 = m2 + n;
        real c0 = c[k], c1 = c[k + 1], c2 = c[k + 2], c3 = c[k + 3];
        for (int i = 0; i < n; i++) y[i] += (c0 * m0[i] + c1 * m1[i]) + (c2 * m2[i] + c3 * m3[i]);
    }
    for (; k < R; k++) {
        const real *m0 = M + (size_t)k * n;
        real c0 = c[k];
        for (int i = 0; i < n; i++) y[i] += c0 * m0[i];
    }
}

/* M[k, lo:hi] += c[k] · v[lo:hi] for k < R (M has row stride ld) */
VEC_CLONES void rowvec_outer_add(real *M, int R, int ld, int lo, int hi, const real *c, const real *v) {
    for (int k = 0; k < R; k++) {
        real ck = c[k], *m = M + (size_t)k * ld;
        for (int i = lo; i < hi; i++) m[i] += ck * v[i];
    }
}

/* 8 rows of M (row stride ld), columns [i, i + 16·NV): held in registers while the n terms are
   added in ascending j, each as m += c·v (mul, then add: the rounding of rowvec_outer_add) */
#define OUTER8_BLOCK(NV)                                                                          \
    do {                                                                                          \
        VmF16 acc[8][NV];                                                                         \
        for (int k = 0; k < 8; k++)                                                               \
            for (int u = 0; u < NV; u++) acc[k][u] = vm_load(M + (size_t)k * ld + i + 16 * u);    \
        for (int j = 0; j < n; j++) {                                                             \
            if (j + OUTER_PF < n)                                                                 \
                for (int u = 0; u < NV; u++)                                                      \
                    __builtin_prefetch(V + (size_t)rows[j + OUTER_PF] * ldv + i + 16 * u, 0, 3);  \
            const float *v = V + (size_t)rows[j] * ldv + i, *cj = C + (size_t)j * ldc;           \
            VmF16 vv[NV];                                                                         \
            for (int u = 0; u < NV; u++) vv[u] = vm_load(v + 16 * u);                             \
            for (int k = 0; k < 8; k++) {                                                         \
                VmF16 ck = vm_splat(cj[k]);                                                       \
                for (int u = 0; u < NV; u++) acc[k][u] += ck * vv[u];                             \
            }                                                                                     \
        }                                                                                         \
        for (int k = 0; k < 8; k++)                                                               \
            for (int u = 0; u < NV; u++) vm_store(M + (size_t)k * ld + i + 16 * u, &acc[k][u]);   \
    } while (0)

/* rows k0 .. k0+7 of rowvec_outer_add_rows, columns [lo, hi) */
/* the rows of V are gathered (an expert's routed rows), so the kernel asks for the columns of
   the row OUTER_PF terms ahead itself */
#define OUTER_PF 6
VEC_CLONES static void outer8_f32(float *M, int ld, int lo, int hi, const float *C, int ldc, int n,
                                  const float *V, int ldv, const int *rows) {
    int i = lo;
    for (; i + 32 <= hi; i += 32) OUTER8_BLOCK(2);
    for (; i + 16 <= hi; i += 16) OUTER8_BLOCK(1);
    for (int j = 0; j < n && i < hi; j++)
        for (int k = 0; k < 8; k++) {
            float ck = C[(size_t)j * ldc + k], *m = M + (size_t)k * ld;
            const float *v = V + (size_t)rows[j] * ldv;
            for (int c = i; c < hi; c++) m[c] += ck * v[c];
        }
}

void rowvec_outer_add_rows(real *M, int R, int ld, int lo, int hi, const real *C, int ldc, int n, const real *V,
                           int ldv, const int *rows) {
    int k0 = 0;
    if (sizeof(real) == sizeof(float))
        for (; k0 + 8 <= R; k0 += 8)
            outer8_f32((float *)M + (size_t)k0 * ld, ld, lo, hi, (const float *)C + k0, ldc, n, (const float *)V,
                       ldv, rows);
    if (k0 == R) return;
    for (int j = 0; j < n; j++)   /* the rest (and the double build): the plain update, term by term */
        rowvec_outer_add(M + (size_t)k0 * ld, R - k0, ld, lo, hi, C + (size_t)j * ldc + k0, V + (size_t)rows[j] * ldv);
}
