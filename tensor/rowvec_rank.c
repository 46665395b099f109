/* tensor/rowvec_rank.c — the rank-R row kernels of rowvec_rank.h (used by op_routed_lora).
   Sizes are small (R = LoRA rank, n = in or out of one linear), the matrices sit in L1/L2, so a
   plain vectorised loop beats packing a GEMM for each few-row expert batch.
   rowvec_dots: R dot products sharing the vector v, four rows at a time on 16-float vectors (the
   reduction does not auto-vectorise without -ffast-math); lanes are summed in a fixed order, so
   every result is the same whatever thread computes it. The double build (gradcheck) is plain.
   rowvec_axpy_rows: y += Σ_k c_k M[k,:], four rows per pass over y (auto-vectorised). */
#include "tensor/rowvec_rank.h"
#include "tensor/vecmath.h"

static inline float lane_sum(VmF16 v) {
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += v[l];
    return s;
}

VEC_CLONES static void dots_f32(const float *M, int R, int n, const float *v, float *out) {
    int full = n / 16 * 16, k = 0;
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
