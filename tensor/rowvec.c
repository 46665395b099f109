/* tensor/rowvec.c — long-row max / exp-sum, bit for bit the vecmath.h loops (see rowvec.h).
   defines: rowvec_max, rowvec_exp_sum, rowvec_sum_exp
   AVX-512 path (float build, rows of >= 64 floats, CPU with avx512f):
   - exp-sum: vm_expf16 is written out in intrinsics, operation for operation (same constants,
     same order, one rounding each, no FMA), on 8 vectors at once so that 8 independent
     dependency chains fill the out-of-order window. Two changes of form keep the bits:
     the clamps select(x > 88, 88, x) then select(xc < -87, -87, xc) become max(min(x, 88), -87)
     (vminps/vmaxps return the clamp value on equality, and the NaN lanes, where they differ,
     are overwritten with 0 by the next step in both), and the 16-lane double accumulator is
     kept as two 8-lane registers, each lane still summing its own elements in ascending order,
     the lanes then added 0..15 as before.
   - max: four accumulators with vmaxps, then the lanes. The maximum VALUE does not depend on
     the order, and a nonzero, non-NaN float value has one encoding, so the result is the bits
     vm_row_max returns unless the row holds a NaN or its maximum is ±0 (then the sign of the
     zero could depend on the order): those rows are recomputed by vm_row_max itself. NaN is
     detected by a float sum of the row in parallel accumulators (NaN is sticky; an inf - inf
     there only sends the row to the exact path too).
   Rows of fewer than 64 floats, the double build and other CPUs run the vecmath.h helpers. */
#include "tensor/rowvec.h"
#include "tensor/vecmath.h"

/* ROWVEC_F32 is 1 in the float build (where the AVX-512 path applies) */
#define ROWVEC_TOKEN_float 1
#define ROWVEC_CAT_(a, b) a##b
#define ROWVEC_XCAT_(a, b) ROWVEC_CAT_(a, b)
#if ROWVEC_XCAT_(ROWVEC_TOKEN_, REAL)
#define ROWVEC_F32 1
#else
#define ROWVEC_F32 0
#endif

VEC_CLONES static real max_ref(const real *x, int n) { return vm_row_max(x, n); }
VEC_CLONES static double exp_sum_ref(real *y, const real *x, int n, real m) {
    return vm_row_exp_sum(y, x, n, m);
}
VEC_CLONES static double sum_exp_ref(const real *x, int n, real m) { return vm_row_sum_exp(x, n, m); }

#if defined(__x86_64__) && ROWVEC_F32
#include <immintrin.h>
#define TGT512 __attribute__((target("avx512f")))
#define INFLIGHT 8          /* 16-float vectors exponentiated per iteration */

static int use_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") != 0;
    }
    return cached;
}

/* y[u] = vm_expf16(x[u]) for u < count (a constant after inlining, so the loops unroll) */
#define INLINE512 TGT512 static inline __attribute__((always_inline))
INLINE512 void exp16_n(const __m512 *x, __m512 *y, int count) {
    const __m512 hi = _mm512_set1_ps(88.0f), lo = _mm512_set1_ps(-87.0f);
    const __m512 round = _mm512_set1_ps(12582912.0f);
    __m512 xc[INFLIGHT], k[INFLIGHT], r[INFLIGHT], p[INFLIGHT];
    __mmask16 nan[INFLIGHT];
    for (int u = 0; u < count; u++) {
        nan[u] = _mm512_cmp_ps_mask(x[u], x[u], _CMP_UNORD_Q);
        xc[u] = _mm512_mask_mov_ps(_mm512_max_ps(_mm512_min_ps(x[u], hi), lo), nan[u], _mm512_setzero_ps());
        k[u] = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(xc[u], _mm512_set1_ps(1.44269504088896341f)), round), round);
        r[u] = _mm512_sub_ps(_mm512_sub_ps(xc[u], _mm512_mul_ps(k[u], _mm512_set1_ps(0.693359375f))),
                             _mm512_mul_ps(k[u], _mm512_set1_ps(-2.12194440e-4f)));
        p[u] = _mm512_set1_ps(1.0f / 5040.0f);
    }
    static const float coef[7] = { 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f };
    for (int c = 0; c < 7; c++)
        for (int u = 0; u < count; u++) p[u] = _mm512_add_ps(_mm512_mul_ps(p[u], r[u]), _mm512_set1_ps(coef[c]));
    for (int u = 0; u < count; u++) {
        __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(k[u]), _mm512_set1_epi32(127)), 23);
        __m512 v = _mm512_mul_ps(p[u], _mm512_castsi512_ps(bits));
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x[u], lo, _CMP_NLT_UQ), v);   /* x < -87: 0 */
        y[u] = _mm512_mask_mov_ps(v, nan[u], x[u]);                                /* NaN: x */
    }
}

/* count vectors at x + j: e = exp(x - m), stored to y + j when y, added to the lane sums */
INLINE512 void exp_block(real *y, const real *x, int j, __m512 mv, __m512d *lo, __m512d *hi, int count) {
    __m512 d[INFLIGHT], e[INFLIGHT];
    for (int u = 0; u < count; u++) d[u] = _mm512_sub_ps(_mm512_loadu_ps(x + j + 16 * u), mv);
    exp16_n(d, e, count);
    for (int u = 0; u < count; u++) {
        if (y) _mm512_storeu_ps(y + j + 16 * u, e[u]);
        *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e[u])));
        *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e[u]), 1))));
    }
}

TGT512 static double exp_sum_avx512(real *y, const real *x, int n, real m) {
    int full = n / 16 * 16, j = 0;
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    __m512 mv = _mm512_set1_ps(m);
    for (; j + 16 * INFLIGHT <= full; j += 16 * INFLIGHT) exp_block(y, x, j, mv, &lo, &hi, INFLIGHT);
    for (; j < full; j += 16) exp_block(y, x, j, mv, &lo, &hi, 1);
    double lanes[16], s = 0.0;
    _mm512_storeu_pd(lanes, lo);
    _mm512_storeu_pd(lanes + 8, hi);
    for (int l = 0; l < 16; l++) s += lanes[l];
    for (j = full; j < n; j++) {
        real e = vm_exp(x[j] - m);
        if (y) y[j] = e;
        s += (double)e;
    }
    return s;
}

TGT512 static real max_avx512(const real *x, int n) {
    __m512 mx[4], sum[4];
    for (int a = 0; a < 4; a++) mx[a] = sum[a] = _mm512_loadu_ps(x + 16 * a);
    int j = 64;
    for (; j + 64 <= n; j += 64)
        for (int a = 0; a < 4; a++) {
            __m512 v = _mm512_loadu_ps(x + j + 16 * a);
            mx[a] = _mm512_max_ps(mx[a], v);
            sum[a] = _mm512_add_ps(sum[a], v);
        }
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(x + j);
        mx[0] = _mm512_max_ps(mx[0], v);
        sum[0] = _mm512_add_ps(sum[0], v);
    }
    __m512 m4 = _mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3]));
    __m512 s4 = _mm512_add_ps(_mm512_add_ps(sum[0], sum[1]), _mm512_add_ps(sum[2], sum[3]));
    float lanes[16], tail = 0.0f;
    _mm512_storeu_ps(lanes, m4);
    real m = lanes[0];
    for (int l = 1; l < 16; l++) m = lanes[l] > m ? lanes[l] : m;
    for (; j < n; j++) {
        m = x[j] > m ? x[j] : m;
        tail += x[j];
    }
    int nan = _mm512_cmp_ps_mask(s4, s4, _CMP_UNORD_Q) != 0 || tail != tail;
    return nan || m == 0 ? max_ref(x, n) : m;
}
#define FAST(n) ((n) >= 64 && use_avx512())
#else
#define FAST(n) 0
#define max_avx512(x, n) max_ref(x, n)
#define exp_sum_avx512(y, x, n, m) exp_sum_ref(y, x, n, m)
#endif

real rowvec_max(const real *x, int n) { return FAST(n) ? max_avx512(x, n) : max_ref(x, n); }

double rowvec_exp_sum(real *y, const real *x, int n, real m) {
    return FAST(n) ? exp_sum_avx512(y, x, n, m) : exp_sum_ref(y, x, n, m);
}

double rowvec_sum_exp(const real *x, int n, real m) {
    return FAST(n) ? exp_sum_avx512(NULL, x, n, m) : sum_exp_ref(x, n, m);
}
