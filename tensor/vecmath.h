/* tensor/vecmath.h — an exp the compiler can vectorise, and a multi-versioning attribute.
   defines: VEC_CLONES, VM_EXP_HORNER, vm_expf, vm_exp, vm_sigmoid, VmF16, VmI16, VmD16, vm_load, vm_store,
            vm_splat, vm_select, vm_max16, vm_expf16, vm_row_max, vm_row_exp_sum, vm_row_sum_exp,
            vm_row_lse, vm_row_dot, vm_lane_sums16, vm_lane_sums8
   vm_expf(x) for float x: exp(x) = 2^k · e^r with k = round(x / ln 2) and r = x − k·ln 2
   (ln 2 split in two parts so k·ln2_hi is exact, Cody & Waite 1980), |r| <= ln2/2, and e^r by its
   Taylor series to degree 7 (truncation error r^8/8! < 5.3e-9, below float rounding), evaluated
   by Horner; 2^k is built from the exponent bits. Rounding to the nearest integer uses the
   1.5·2^23 trick, so there is no call and the loop vectorises. Max error: a few ulp.
   Range: x > 88 returns exp(88) (only used on arguments <= 0 here: softmax, sigmoid, CE),
   x < -87 returns 0 (no subnormal results), NaN returns NaN.
   vm_exp(x) for real x: vm_expf in the float build, libm exp in the double (gradcheck) build.
   Everything is plain C with no fused multiply-add (ISO C mode contracts nothing), so a vector
   and a scalar evaluation give the same bits and results do not depend on how a loop is split.
   Reductions (a max, a sum) do not auto-vectorise without -ffast-math, so the few loops that
   need them use GCC/Clang vector extensions on 16 floats (VmF16: one zmm, two ymm or four xmm,
   whatever the clone targets): vm_expf16 is vm_expf lane by lane with the very same operations,
   so the vector and scalar forms agree bit for bit.
   VEC_CLONES on a hot loop function asks GCC for AVX-512, AVX2 and baseline clones picked at load
   time (ifunc); empty elsewhere. */
#ifndef VECMATH_H
#define VECMATH_H
#include <stdint.h>
#include <string.h>
#include "tensor/real.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VEC_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define VEC_CLONES
#endif

/* The helpers are static inline and inlined into each clone; GCC still warns (-Wpsabi, at every
   use in the including file) that passing 64-byte vectors by value has a target-dependent ABI.
   No such call survives inlining, so the warning is switched off for files including this. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#if defined(__GNUC__)
#define VM_INLINE static inline __attribute__((always_inline))
#else
#define VM_INLINE static inline
#endif

typedef float VmF16 __attribute__((vector_size(64)));
typedef int32_t VmI16 __attribute__((vector_size(64)));
typedef double VmD16 __attribute__((vector_size(128)));

VM_INLINE VmF16 vm_load(const float *p) { VmF16 v; memcpy(&v, p, sizeof v); return v; }
VM_INLINE void vm_store(float *p, const VmF16 *v) { memcpy(p, v, sizeof *v); }
VM_INLINE VmF16 vm_splat(float x) { return (VmF16){ 0 } + x; }
/* m ? a : b lane by lane (m lanes are all ones or all zeros, as comparisons give). Macros, as
   no helper takes a vector by value: GCC notes an ABI change for such parameters. */
#define vm_select(m, a, b) ((VmF16)(((VmI16)(a) & (m)) | ((VmI16)(b) & ~(m))))
#define vm_max16(a, b) vm_select((a) > (b), (a), (b))

/* e^r = 1 + r + r^2/2! + ... + r^7/7! by Horner, p holding 1/7! on entry: one text for the
   float of vm_expf and the VmF16 of vm_expf16, so the two run the very same operations */
#define VM_EXP_HORNER(p, r)                                                                    \
    do {                                                                                       \
        p = p * r + 1.0f / 720.0f;                                                             \
        p = p * r + 1.0f / 120.0f;                                                             \
        p = p * r + 1.0f / 24.0f;                                                              \
        p = p * r + 1.0f / 6.0f;                                                               \
        p = p * r + 0.5f;                                                                      \
        p = p * r + 1.0f;                                                                      \
        p = p * r + 1.0f;                                                                      \
    } while (0)

VM_INLINE float vm_expf(float x) {
    const float hi = 88.0f, lo = -87.0f;
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    xc = x != x ? 0.0f : xc;                                /* NaN: keep the int conversion defined */
    const float round = 12582912.0f;                        /* 1.5 · 2^23 */
    float k = (xc * 1.44269504088896341f + round) - round;  /* round(x / ln 2) */
    float r = (xc - k * 0.693359375f) - k * -2.12194440e-4f; /* ln 2 = 0.693359375 − 2.1219444e-4 */
    float p = 1.0f / 5040.0f;
    VM_EXP_HORNER(p, r);
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

/* vm_expf on 16 lanes, operation for operation */
VM_INLINE VmF16 vm_expf16(const VmF16 *xp) {
    VmF16 x = *xp;
    const float hi = 88.0f, lo = -87.0f, round = 12582912.0f;
    VmF16 xc = vm_select(x > hi, vm_splat(hi), x);
    xc = vm_select(xc < lo, vm_splat(lo), xc);
    xc = vm_select(x != x, vm_splat(0.0f), xc);
    VmF16 k = (xc * 1.44269504088896341f + round) - round;
    VmF16 r = (xc - k * 0.693359375f) - k * -2.12194440e-4f;
    VmF16 p = vm_splat(1.0f / 5040.0f);
    VM_EXP_HORNER(p, r);
    VmI16 bits = (__builtin_convertvector(k, VmI16) + 127) << 23;
    VmF16 y = p * (VmF16)bits;
    y = vm_select(x < lo, vm_splat(0.0f), y);
    return vm_select(x != x, x, y);
}

VM_INLINE real vm_exp(real x) {
    if (sizeof(real) == sizeof(double)) return (real)exp((double)x);
    return (real)vm_expf((float)x);
}

/* σ(a) = 1 / (1 + e^-a), through e^-|a| <= 1 so nothing overflows. */
VM_INLINE real vm_sigmoid(real a) {
    real e = vm_exp(a < 0 ? a : -a);
    real s = (real)1 / ((real)1 + e);
    return a >= 0 ? s : e * s;
}

/* Row helpers for softmax-like loops (inline them into a VEC_CLONES function). In the float build
   they work on 16 interleaved lanes (element j in lane j % 16, the tail in lane 0) combined in
   lane order, so a row's result depends only on the row; the double build runs them serially. */

/* max_j x[j], n >= 1 */
VM_INLINE real vm_row_max(const real *x, int n) {
    int full = sizeof(real) == sizeof(float) ? n / 16 * 16 : 0;
    real m = x[0];
    if (full) {
        VmF16 mx = vm_load((const float *)x);
        for (int j = 16; j < full; j += 16) {
            VmF16 v = vm_load((const float *)x + j);
            mx = vm_max16(mx, v);
        }
        for (int l = 0; l < 16; l++) m = (real)mx[l] > m ? (real)mx[l] : m;
    }
    for (int j = full; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* y[j] = exp(x[j] − m) (y may be x); returns Σ_j y[j] summed in double */
VM_INLINE double vm_row_exp_sum(real *y, const real *x, int n, real m) {
    int full = sizeof(real) == sizeof(float) ? n / 16 * 16 : 0;
    double s = 0.0;
    if (full) {
        VmD16 s16 = (VmD16){ 0 };
        VmF16 mv = vm_splat((float)m);
        for (int j = 0; j < full; j += 16) {
            VmF16 d = vm_load((const float *)x + j) - mv, e = vm_expf16(&d);
            vm_store((float *)y + j, &e);
            s16 += __builtin_convertvector(e, VmD16);
        }
        for (int l = 0; l < 16; l++) s += s16[l];
    }
    for (int j = full; j < n; j++) {
        y[j] = vm_exp(x[j] - m);
        s += (double)y[j];
    }
    return s;
}

/* Σ_j exp(x[j] − m) in double, nothing stored */
VM_INLINE double vm_row_sum_exp(const real *x, int n, real m) {
    int full = sizeof(real) == sizeof(float) ? n / 16 * 16 : 0;
    double s = 0.0;
    if (full) {
        VmD16 s16 = (VmD16){ 0 };
        VmF16 mv = vm_splat((float)m);
        for (int j = 0; j < full; j += 16) {
            VmF16 d = vm_load((const float *)x + j) - mv;
            s16 += __builtin_convertvector(vm_expf16(&d), VmD16);
        }
        for (int l = 0; l < 16; l++) s += s16[l];
    }
    for (int j = full; j < n; j++) s += (double)vm_exp(x[j] - m);
    return s;
}

/* stable log Σ_j exp(x[j]) = m + log Σ_j exp(x[j] − m), m = max_j x[j]; n >= 1 */
VM_INLINE double vm_row_lse(const real *x, int n) {
    real m = vm_row_max(x, n);
    return (double)m + log(vm_row_sum_exp(x, n, m));
}

/* Σ_j a[j]·b[j], products in real, summed in double */
VM_INLINE double vm_row_dot(const real *a, const real *b, int n) {
    int full = sizeof(real) == sizeof(float) ? n / 16 * 16 : 0;
    double s = 0.0;
    if (full) {
        VmD16 s16 = (VmD16){ 0 };
        for (int j = 0; j < full; j += 16)
            s16 += __builtin_convertvector(vm_load((const float *)a + j) * vm_load((const float *)b + j), VmD16);
        for (int l = 0; l < 16; l++) s += s16[l];
    }
    for (int j = full; j < n; j++) s += (double)(a[j] * b[j]);
    return s;
}

/* Horizontal sums by a fixed tree. Each stage adds the two halves of every group of lanes of
   a and of b, and packs the results side by side: a group of 16 lanes becomes 8 (VM_SUM_HALVES),
   then 4, 2, 1. */
#define VM_HALVES(a, b, ...) (__builtin_shufflevector(a, b, __VA_ARGS__))
#define VM_SUM_HALVES(a, b)                                                                      \
    (VM_HALVES(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +                   \
     VM_HALVES(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
#define VM_SUM_QUARTERS(a, b)                                                                    \
    (VM_HALVES(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +                 \
     VM_HALVES(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31))
#define VM_SUM_EIGHTHS(a, b)                                                                     \
    (VM_HALVES(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +                 \
     VM_HALVES(a, b, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31))
#define VM_SUM_PAIRS(a, b)                                                                       \
    (VM_HALVES(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +                \
     VM_HALVES(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31))

/* Sixteen horizontal sums at once: lane i of the result is the sum of a[i]'s 16 lanes (15 vector
   adds in all instead of 240 scalar ones), so a result depends only on a[i]. */
VM_INLINE VmF16 vm_lane_sums16(const VmF16 *a) {
    VmF16 t[8], u[4], v[2];
    for (int p = 0; p < 8; p++) t[p] = VM_SUM_HALVES(a[2 * p], a[2 * p + 1]);     /* 8 lanes each of a[2p], a[2p+1] */
    for (int q = 0; q < 4; q++) u[q] = VM_SUM_QUARTERS(t[2 * q], t[2 * q + 1]);   /* lanes 4j..4j+3: a[4q + j] */
    for (int h = 0; h < 2; h++) v[h] = VM_SUM_EIGHTHS(u[2 * h], u[2 * h + 1]);    /* lanes 2i, 2i+1: a[8h + i] */
    return VM_SUM_PAIRS(v[0], v[1]);
}

/* Eight at once, the same tree on a[0..7]: s[i] = the sum of a[i]'s lanes for i < 8 */
VM_INLINE void vm_lane_sums8(const VmF16 *a, float *s) {
    VmF16 t[4], u[2], v, w;
    for (int p = 0; p < 4; p++) t[p] = VM_SUM_HALVES(a[2 * p], a[2 * p + 1]);
    for (int q = 0; q < 2; q++) u[q] = VM_SUM_QUARTERS(t[2 * q], t[2 * q + 1]);
    v = VM_SUM_EIGHTHS(u[0], u[1]);
    w = VM_SUM_PAIRS(v, v);   /* lanes 0-7 (and again 8-15) */
    for (int i = 0; i < 8; i++) s[i] = w[i];
}

#endif
