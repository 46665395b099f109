/* tensor/gemm_kernels_x86.c — the x86-64 SIMD micro-kernels of the tiled GEMM (contract in
   gemm_kernels.h) and a transposing pack helper.
   defines: gemm_kernel_avx512 (8 x 48 tile: 24 zmm accumulators, 3 B vectors, 1 broadcast),
            gemm_kernel_avx512_seg (its twin reading A through strides),
            gemm_kernel_avx2 (6 x 16 tile: 12 ymm accumulators), gemm_pack_t8_avx2
   Each function carries its own target attribute, so the file builds without -mavx flags and
   gemm.c calls a kernel only after __builtin_cpu_supports says the CPU has it. The edge of a
   tile (mv < MR rows, nv < NR columns) is handled by skipping rows and masking columns, with
   the very same arithmetic as the interior. */
#include "tensor/gemm_kernels.h"
#include "tensor/gemm.h"

#if defined(__x86_64__) && GEMM_F32
#include <immintrin.h>
#include <stdint.h>

#define TGT512 __attribute__((target("avx512f")))
#define TGT256 __attribute__((target("avx2,fma")))
#define REP6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define REP8(X) REP6(X) X(6) X(7)
_Static_assert(GEMM_AVX512_MR == 8 && GEMM_AVX512_NR == 48, "the AVX-512 kernel is written out for 8 x 48");
_Static_assert(GEMM_AVX2_MR == 6 && GEMM_AVX2_NR == 16, "the AVX2 kernel is written out for 6 x 16");

TGT512 static inline __mmask16 mask16(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* c = alpha*ab (beta == 0, c not read) or fma(alpha, ab, beta*c), lanes outside m untouched;
   returns the value stored. */
TGT512 static inline __m512 store16(float *c, __m512 ab, __m512 va, __m512 vb, float beta, __mmask16 m) {
    __m512 r;
    if (beta == 0.0f) r = _mm512_mul_ps(va, ab);
    else r = _mm512_fmadd_ps(va, ab, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, c)));
    _mm512_mask_storeu_ps(c, m, r);
    return r;
}

/* acc's lanes in m: max(acc, r), NaN sticky (max_ps(r, acc) keeps a NaN acc and drops a NaN r,
   which is then put back) */
TGT512 static inline __m512 fold_max16(__m512 acc, __m512 r, __mmask16 m) {
    __m512 t = _mm512_mask_mov_ps(_mm512_max_ps(r, acc), _mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q), r);
    return _mm512_mask_mov_ps(acc, m, t);
}

TGT512 void gemm_kernel_avx512(int kc, const float *a, const float *b, float *c, size_t ldc,
                               float alpha, float beta, int mv, int nv) {
    enum { MR = GEMM_AVX512_MR, NR = GEMM_AVX512_NR };
    __m512 acc[MR][3];
#define ZERO_ROW(i) acc[i][0] = acc[i][1] = acc[i][2] = _mm512_setzero_ps();
    REP8(ZERO_ROW)
#undef ZERO_ROW
    /* the C tile is needed only after kc steps: fetch it now so the epilogue does not stall */
#define PREFETCH_ROW(i)                                                           \
    if (i < mv) {                                                                 \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc), _MM_HINT_T0);         \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc + 16), _MM_HINT_T0);    \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc + 32), _MM_HINT_T0);    \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc + 47), _MM_HINT_T0);    \
    }
    REP8(PREFETCH_ROW)
#undef PREFETCH_ROW
    for (int p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32);
#define FMA_ROW(i)                                                                \
        {                                                                         \
            __m512 ai = _mm512_set1_ps(a[i]);                                     \
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                       \
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                       \
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);                       \
        }
        REP8(FMA_ROW)
#undef FMA_ROW
        a += MR;
        b += NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 m0 = mask16(nv), m1 = mask16(nv - 16), m2 = mask16(nv - 32);
    /* written out row by row (constant indices) so the accumulators never leave registers */
#define STORE_ROW(i)                                                              \
    if (i < mv) {                                                                 \
        float *row = c + (size_t)(i) * ldc;                                       \
        store16(row, acc[i][0], va, vb, beta, m0);                                \
        store16(row + 16, acc[i][1], va, vb, beta, m1);                           \
        store16(row + 32, acc[i][2], va, vb, beta, m2);                           \
    }
    REP8(STORE_ROW)
#undef STORE_ROW
}

/* gemm_kernel_avx512 with A (and B) read through GemmSeg strides: the same FMAs in the same
   order, so the result equals the packed kernel's bit for bit (gemm.c reads full MR-row panels
   of A in place instead of packing them). A streamed tile's C lines are prefetched too: leaving
   them out measured slower (lora step, interleaved medians of 7: 304.1 against 295.6 ms), and so
   did the epilogue as an inline function over the row (~2 %): it stays written out, 62 lines. */
_Static_assert(GEMM_ROWMAX_LANES == 16, "the lane maxima are one zmm of floats per row");
TGT512 void gemm_kernel_avx512_seg(const GemmSeg *seg, int nseg, float *c, size_t ldc, float alpha,
                                   float beta, int mv, int nv, const GemmEpi *epi) {
    enum { MR = GEMM_AVX512_MR };
    __m512 acc[MR][3];
#define ZERO_ROW(i) acc[i][0] = acc[i][1] = acc[i][2] = _mm512_setzero_ps();
    REP8(ZERO_ROW)
#undef ZERO_ROW
#define PREFETCH_ROW(i)                                                           \
    if (i < mv) {                                                                 \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc), _MM_HINT_T0);         \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc + 16), _MM_HINT_T0);    \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc + 32), _MM_HINT_T0);    \
        _mm_prefetch((const char *)(c + (size_t)(i) * ldc + 47), _MM_HINT_T0);    \
    }
    REP8(PREFETCH_ROW)
#undef PREFETCH_ROW
    for (int s = 0; s < nseg; s++) {
        const float *a = seg[s].a, *b = seg[s].b;
        const size_t ai = seg[s].ai, ap = seg[s].ap, bp = seg[s].bp;
        for (int p = 0; p < seg[s].k; p++) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32);
#define FMA_ROW(i)                                                                \
            {                                                                     \
                __m512 av = _mm512_set1_ps(a[(i) * ai]);                          \
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);                   \
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);                   \
                acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);                   \
            }
            REP8(FMA_ROW)
#undef FMA_ROW
            a += ap;
            b += bp;
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 m0 = mask16(nv), m1 = mask16(nv - 16), m2 = mask16(nv - 32);
    float *rmax = epi ? epi->rmax : NULL;
    int stream = epi && epi->stream && beta == 0.0f && nv == GEMM_AVX512_NR;
#define STORE_ROW(i)                                                              \
    if (i < mv) {                                                                 \
        float *row = c + (size_t)(i) * ldc;                                       \
        __m512 r0, r1, r2;                                                        \
        if (stream) {                                                             \
            r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]); \
            r2 = _mm512_mul_ps(va, acc[i][2]);                                    \
            _mm512_stream_ps(row, r0), _mm512_stream_ps(row + 16, r1);            \
            _mm512_stream_ps(row + 32, r2);                                       \
        } else {                                                                  \
            r0 = store16(row, acc[i][0], va, vb, beta, m0);                       \
            r1 = store16(row + 16, acc[i][1], va, vb, beta, m1);                  \
            r2 = store16(row + 32, acc[i][2], va, vb, beta, m2);                  \
        }                                                                         \
        if (rmax) {                                                               \
            float *rm = rmax + (size_t)(i) * 16;                                  \
            __m512 mx = fold_max16(_mm512_loadu_ps(rm), r0, m0);                  \
            mx = fold_max16(fold_max16(mx, r1, m1), r2, m2);                      \
            _mm512_storeu_ps(rm, mx);                                             \
        }                                                                         \
    }
    REP8(STORE_ROW)
#undef STORE_ROW
}

TGT256 static inline __m256i mask8(int n) {
    const int32_t idx[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_loadu_si256((const __m256i *)idx));
}

/* c = alpha*ab (beta == 0, c not read) or fma(alpha, ab, beta*c), lanes outside m untouched. */
TGT256 static inline void store8(float *c, __m256 ab, __m256 va, __m256 vb, float beta, __m256i m) {
    __m256 r;
    if (beta == 0.0f) r = _mm256_mul_ps(va, ab);
    else r = _mm256_fmadd_ps(va, ab, _mm256_mul_ps(vb, _mm256_maskload_ps(c, m)));
    _mm256_maskstore_ps(c, m, r);
}

TGT256 void gemm_kernel_avx2(int kc, const float *a, const float *b, float *c, size_t ldc,
                             float alpha, float beta, int mv, int nv) {
    enum { MR = GEMM_AVX2_MR, NR = GEMM_AVX2_NR };
    __m256 acc[MR][2];
#define ZERO_ROW(i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    REP6(ZERO_ROW)
#undef ZERO_ROW
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#define FMA_ROW(i)                                                                \
        {                                                                         \
            __m256 ai = _mm256_broadcast_ss(a + i);                               \
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);                       \
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);                       \
        }
        REP6(FMA_ROW)
#undef FMA_ROW
        a += MR;
        b += NR;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256i m0 = mask8(nv), m1 = mask8(nv - 8);
#define STORE_ROW(i)                                                              \
    if (i < mv) {                                                                 \
        store8(c + (size_t)(i) * ldc, acc[i][0], va, vb, beta, m0);               \
        store8(c + (size_t)(i) * ldc + 8, acc[i][1], va, vb, beta, m1);           \
    }
    REP6(STORE_ROW)
#undef STORE_ROW
}

/* 8x8 transpose of rows s[0..7] (stride ld) at column p into dst + p*R (8 rows of R). */
TGT256 static inline void transpose8(float *dst, int R, const float *s, size_t ld) {
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ld);
    __m256 r2 = _mm256_loadu_ps(s + 2 * ld), r3 = _mm256_loadu_ps(s + 3 * ld);
    __m256 r4 = _mm256_loadu_ps(s + 4 * ld), r5 = _mm256_loadu_ps(s + 5 * ld);
    __m256 r6 = _mm256_loadu_ps(s + 6 * ld), r7 = _mm256_loadu_ps(s + 7 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst + 0 * R, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + 1 * R, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * R, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * R, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * R, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * R, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * R, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * R, _mm256_permute2f128_ps(u3, u7, 0x31));
}

TGT256 void gemm_pack_t8_avx2(float *dst, int R, const float *src, size_t ld, int rows, int kc) {
    for (int r = 0; r < rows; r += 8) {
        const float *s = src + (size_t)r * ld;
        int p = 0;
        for (; p + 8 <= kc; p += 8) transpose8(dst + (size_t)p * R + r, R, s + p, ld);
        for (; p < kc; p++)
            for (int i = 0; i < 8; i++) dst[(size_t)p * R + r + i] = s[(size_t)i * ld + p];
    }
}
#endif
