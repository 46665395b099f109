/* tensor/gemm_pack.c — packing of GEMM operand panels and the portable scalar micro-kernel.
   defines: gemm_pack, gemm_kernel_scalar
   A block of n "rows" (the M side of op(A) or the N side of op(B)) by kc is stored as
   ceil(n/R) panels of kc x R values, k-major (dst[p*R + r]), the tail panel zero-padded, so the
   micro-kernel streams both operands contiguously (BLIS's packed layout). Panels start ps reals
   apart (ps >= kc*R): gemm_plus packs a second product's K rows right after the first's. Element (r, p) of the
   source is src[r*sr + p*sk]: sk == 1 is a transposing pack (rows contiguous along k, done
   with 8x8 AVX2 transposes when available), sr == 1 a plain copy. bf16 sources (src16) are
   widened to f32 here, so every micro-kernel sees plain floats. */
#include "tensor/gemm_kernels.h"
#include "tensor/half.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && GEMM_F32
static int have_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
}
#endif

/* One panel of rv <= R rows from a real source. */
static void pack_panel(real *dst, int R, const real *src, size_t sr, size_t sk, int rv, int kc) {
    if (sr == 1) {
        for (int p = 0; p < kc; p++) {
            memcpy(dst + (size_t)p * R, src + (size_t)p * sk, (size_t)rv * sizeof(real));
            for (int r = rv; r < R; r++) dst[(size_t)p * R + r] = 0;
        }
        return;
    }
    int r0 = 0;
#if defined(__x86_64__) && GEMM_F32
    if (sk == 1 && have_avx2() && rv >= 8) {
        r0 = rv & ~7;
        gemm_pack_t8_avx2(dst, R, src, sr, r0, kc);
    }
#endif
    for (int p = 0; p < kc; p++) {
        real *d = dst + (size_t)p * R;
        for (int r = r0; r < rv; r++) d[r] = src[(size_t)r * sr + (size_t)p * sk];
        for (int r = rv; r < R; r++) d[r] = 0;
    }
}

/* One panel of rv <= R rows from a bf16 source. */
static void pack_panel16(real *dst, int R, const uint16_t *src, size_t sr, size_t sk, int rv, int kc) {
    if (sk == 1) {
        for (int r = 0; r < rv; r++) {
            const uint16_t *s = src + (size_t)r * sr;
            for (int p = 0; p < kc; p++) dst[(size_t)p * R + r] = bf16_to_f32(s[p]);
        }
        for (int p = 0; p < kc; p++)
            for (int r = rv; r < R; r++) dst[(size_t)p * R + r] = 0;
        return;
    }
    for (int p = 0; p < kc; p++) {
        real *d = dst + (size_t)p * R;
        const uint16_t *s = src + (size_t)p * sk;
        for (int r = 0; r < rv; r++) d[r] = bf16_to_f32(s[(size_t)r * sr]);
        for (int r = rv; r < R; r++) d[r] = 0;
    }
}

#define PREFETCH_ROWS 8

/* Copy mode (sr == 1): walk k outermost so each source row is read once, contiguously. */
static void pack_copy(real *dst, int R, const real *src, int n, size_t sk, int kc, size_t ps) {
    int full = n / R * R, tail = n - full;
    for (int p = 0; p < kc; p++) {
        const real *s = src + (size_t)p * sk;
        real *d = dst + (size_t)p * R;
        if (p + PREFETCH_ROWS < kc)     /* rows are far apart: the hardware prefetcher misses them */
            for (int r = 0; r < n; r += 64 / (int)sizeof(real))
                __builtin_prefetch(s + (size_t)PREFETCH_ROWS * sk + r);
        for (int r0 = 0; r0 < full; r0 += R) {
            real *dd = d + (size_t)(r0 / R) * ps;
            const real *ss = s + r0;
            for (int r = 0; r < R; r++) dd[r] = ss[r];     /* R is 4..48: a call to memcpy costs more */
        }
        if (tail) {
            real *dt = d + (size_t)(full / R) * ps;
            for (int r = 0; r < tail; r++) dt[r] = s[full + r];
            for (int r = tail; r < R; r++) dt[r] = 0;
        }
    }
}

void gemm_pack(real *dst, int R, const real *src, const uint16_t *src16, size_t sr, size_t sk,
               int n, int kc, size_t ps) {
    if (!src16 && sr == 1) { pack_copy(dst, R, src, n, sk, kc, ps); return; }
    for (int r0 = 0; r0 < n; r0 += R) {
        int rv = n - r0 < R ? n - r0 : R;
        real *d = dst + (size_t)(r0 / R) * ps;
        if (src16) pack_panel16(d, R, src16 + (size_t)r0 * sr, sr, sk, rv, kc);
        else pack_panel(d, R, src + (size_t)r0 * sr, sr, sk, rv, kc);
    }
}

void gemm_kernel_scalar(int kc, const real *a, const real *b, real *c, size_t ldc,
                        real alpha, real beta, int mv, int nv) {
    enum { MR = GEMM_SCALAR_MR, NR = GEMM_SCALAR_NR };
    real acc[MR][NR] = { { 0 } };
    for (int p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
        a += MR;
        b += NR;
    }
    for (int i = 0; i < mv; i++) {
        real *row = c + (size_t)i * ldc;
        if (beta == 0)
            for (int j = 0; j < nv; j++) row[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < nv; j++) row[j] = alpha * acc[i][j] + beta * row[j];
    }
}
