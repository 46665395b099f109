/* tensor/quant.c — NF4 / int8 encoding and decoding (see quant.h for the formats). */
#include "tensor/quant.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The NormalFloat-4 data type, QLoRA (Dettmers et al. 2023) Appendix E: the 16 values in order. */
const float QUANT_NF4_CODE[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }
static size_t n_groups(size_t n_blocks) { return (n_blocks + QUANT_DQ_GROUP - 1) / QUANT_DQ_GROUP; }

size_t quant_bytes(QuantKind kind, int double_quant, int rows, int cols) {
    size_t numel = (size_t)rows * (size_t)cols, nb = (numel + QUANT_NF4_BLOCK - 1) / QUANT_NF4_BLOCK;
    if (kind == QUANT_INT8) return align64(numel) + align64((size_t)rows * sizeof(float));
    CHECK(kind == QUANT_NF4, "quant_bytes: kind %d", (int)kind);
    if (!double_quant) return align64((numel + 1) / 2) + align64(nb * sizeof(float));
    return align64((numel + 1) / 2) + align64(nb) + align64(n_groups(nb) * sizeof(float));
}

void quant_bind(QuantMat *q, QuantKind kind, int double_quant, int rows, int cols, void *mem) {
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->rows = rows;
    q->cols = cols;
    q->double_quant = kind == QUANT_NF4 && double_quant;
    q->numel = (size_t)rows * (size_t)cols;
    q->n_blocks = (q->numel + QUANT_NF4_BLOCK - 1) / QUANT_NF4_BLOCK;
    uint8_t *p = mem;
    q->codes = p;
    if (kind == QUANT_INT8) {
        q->scales = (float *)(p + align64(q->numel));
        return;
    }
    p += align64((q->numel + 1) / 2);
    if (!q->double_quant) {
        q->scales = (float *)p;
        return;
    }
    q->scale_q = (int8_t *)p;
    q->group_step = (float *)(p + align64(q->n_blocks));
}

/* The NF4 values once more as a macro, so the midpoints below are constant expressions (float
   arithmetic, folded exactly as it would run: IEEE single precision, FLT_EVAL_METHOD 0). */
#define NF4(k) (k == 0 ? -1.0f : k == 1 ? -0.6961928009986877f : k == 2 ? -0.5250730514526367f \
    : k == 3 ? -0.39491748809814453f : k == 4 ? -0.28444138169288635f : k == 5 ? -0.18477343022823334f \
    : k == 6 ? -0.09105003625154495f : k == 7 ? 0.0f : k == 8 ? 0.07958029955625534f \
    : k == 9 ? 0.16093020141124725f : k == 10 ? 0.24611230194568634f : k == 11 ? 0.33791524171829224f \
    : k == 12 ? 0.44070982933044434f : k == 13 ? 0.5626170039176941f : k == 14 ? 0.7229568362236023f : 1.0f)
#define MID(k) ((NF4(k) + NF4(k + 1)) * 0.5f)
static const float NF4_MID[15] = { MID(0), MID(1), MID(2), MID(3), MID(4), MID(5), MID(6), MID(7),
                                   MID(8), MID(9), MID(10), MID(11), MID(12), MID(13), MID(14) };

/* the index of the nearest NF4 code: how many midpoints lie strictly below v (binary search for
   the first midpoint >= v) */
static int nf4_index(float v) {
    int lo = 0, hi = 15;
    while (lo < hi) {
        int m = (lo + hi) / 2;
        if (NF4_MID[m] < v) lo = m + 1;
        else hi = m;
    }
    return lo;
}

static void encode_nf4(QuantMat *q, const float *src, size_t i0, size_t n) {
    CHECK(i0 % QUANT_NF4_BLOCK == 0 && (n % QUANT_NF4_BLOCK == 0 || i0 + n == q->numel),
          "quant_encode: NF4 range %zu+%zu is not whole blocks", i0, n);
    if (q->double_quant && !q->pending) q->pending = xmalloc(q->n_blocks * sizeof(float));
    float *scales = q->double_quant ? q->pending : q->scales;
    for (size_t s = 0; s < n; s += QUANT_NF4_BLOCK) {
        size_t len = n - s < QUANT_NF4_BLOCK ? n - s : QUANT_NF4_BLOCK, b = (i0 + s) / QUANT_NF4_BLOCK;
        const float *x = src + s;
        float a = 0;
        for (size_t j = 0; j < len; j++) a = fmaxf(a, fabsf(x[j]));
        scales[b] = a;
        uint8_t *c = q->codes + (i0 + s) / 2;
        if (len == QUANT_NF4_BLOCK && a > 0) {   /* the same division and comparisons, in loops the compiler vectorises */
            float v[QUANT_NF4_BLOCK];
            int k[QUANT_NF4_BLOCK] = { 0 };
            for (int j = 0; j < QUANT_NF4_BLOCK; j++) v[j] = x[j] / a;
            for (int m = 0; m < 15; m++)
                for (int j = 0; j < QUANT_NF4_BLOCK; j++) k[j] += NF4_MID[m] < v[j];
            for (int j = 0; j < QUANT_NF4_BLOCK / 2; j++) c[j] = (uint8_t)(k[2 * j] | k[2 * j + 1] << 4);
            continue;
        }
        for (size_t j = 0; j < len; j++) {
            int k = nf4_index(a > 0 ? x[j] / a : 0.0f);
            if (j % 2 == 0) c[j / 2] = (uint8_t)k;
            else c[j / 2] |= (uint8_t)(k << 4);
        }
    }
}

static void encode_int8(QuantMat *q, const float *src, size_t i0, size_t n) {
    size_t C = (size_t)q->cols;
    CHECK(i0 % C == 0 && n % C == 0, "quant_encode: int8 range %zu+%zu is not whole rows of %zu", i0, n, C);
    for (size_t r = 0; r < n / C; r++) {
        const float *x = src + r * C;
        float a = 0;
        for (size_t j = 0; j < C; j++) a = fmaxf(a, fabsf(x[j]));
        float s = a / 127.0f;
        q->scales[i0 / C + r] = s;
        int8_t *c = (int8_t *)q->codes + i0 + r * C;
        for (size_t j = 0; j < C; j++) {
            float v = s > 0 ? rintf(x[j] / s) : 0.0f;
            c[j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
}

void quant_encode(QuantMat *q, const float *src, size_t i0, size_t n) {
    CHECK(i0 + n <= q->numel, "quant_encode: range %zu+%zu beyond %zu values", i0, n, q->numel);
    if (q->kind == QUANT_NF4) encode_nf4(q, src, i0, n);
    else encode_int8(q, src, i0, n);
}

void quant_set_f32(QuantMat *q, const float *src) {
    quant_encode(q, src, 0, q->numel);
    quant_finish(q);
}

/* μ = mean of the block scales (double sum); per group d_g = max |a_b − μ| / 127 and
   scale_q[b] = round((a_b − μ) / d_g), all in float as the dequantisation reads them back */
void quant_finish(QuantMat *q) {
    if (!q->double_quant) return;
    CHECK(q->pending != NULL, "quant_finish: nothing was encoded");
    double sum = 0;
    for (size_t b = 0; b < q->n_blocks; b++) sum += q->pending[b];
    float mu = (float)(sum / (double)q->n_blocks);
    q->scale_mean = mu;
    for (size_t g = 0; g < n_groups(q->n_blocks); g++) {
        size_t b0 = g * QUANT_DQ_GROUP, b1 = b0 + QUANT_DQ_GROUP < q->n_blocks ? b0 + QUANT_DQ_GROUP : q->n_blocks;
        float amax = 0;
        for (size_t b = b0; b < b1; b++) amax = fmaxf(amax, fabsf(q->pending[b] - mu));
        float d = amax / 127.0f;
        q->group_step[g] = d;
        for (size_t b = b0; b < b1; b++) {
            float v = d > 0 ? rintf((q->pending[b] - mu) / d) : 0.0f;
            q->scale_q[b] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
    free(q->pending);
    q->pending = NULL;
}

static float nf4_scale(const QuantMat *q, size_t b) {
    if (!q->double_quant) return q->scales[b];
    return (float)q->scale_q[b] * q->group_step[b / QUANT_DQ_GROUP] + q->scale_mean;
}

float quant_value(const QuantMat *q, size_t i) {
    if (q->kind == QUANT_INT8) return (float)((const int8_t *)q->codes)[i] * q->scales[i / (size_t)q->cols];
    uint8_t byte = q->codes[i / 2];
    int k = i % 2 ? byte >> 4 : byte & 15;
    return QUANT_NF4_CODE[k] * nf4_scale(q, i / QUANT_NF4_BLOCK);
}

#if defined(__x86_64__)
#include <immintrin.h>
static int have_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2");
    return cached;
}

/* 8 values per step from 4 bytes: each byte twice ([b0 b0 b1 b1 ...]), shifted by 0 / 4 and
   masked to its nibble, then a 16-entry table lookup as two 8-entry permutes and a blend. The
   same table entries as the scalar loop: bitwise the same values. Returns the bytes consumed. */
__attribute__((target("avx2"))) static size_t nf4_lookup_avx2(const uint8_t *c, size_t nbytes, const float *lut, float *o) {
    const __m256 lo = _mm256_loadu_ps(lut), hi = _mm256_loadu_ps(lut + 8);
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), shift = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
    const __m256i fifteen = _mm256_set1_epi32(15), seven = _mm256_set1_epi32(7);
    size_t j = 0;
    for (; j + 4 <= nbytes; j += 4, o += 8) {
        int32_t w;
        memcpy(&w, c + j, 4);
        __m256i b = _mm256_permutevar8x32_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi32_si128(w)), dup);
        __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(b, shift), fifteen);
        __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx),
                                    _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, seven)));
        _mm256_storeu_ps(o, v);
    }
    return j;
}
#endif

/* NF4: per block, the 16 possible values q_k·a_b once, then one table lookup per nibble (8 at a
   time with AVX2) */
static void dequant_nf4(const QuantMat *q, size_t i0, size_t n, float *out) {
    size_t i = i0, end = i0 + n;
    while (i < end) {
        size_t b = i / QUANT_NF4_BLOCK, bend = (b + 1) * QUANT_NF4_BLOCK < end ? (b + 1) * QUANT_NF4_BLOCK : end;
        float a = nf4_scale(q, b), lut[16];
        for (int k = 0; k < 16; k++) lut[k] = QUANT_NF4_CODE[k] * a;
        float *o = out + (i - i0);
        if (i % 2 && i < bend) { *o++ = lut[q->codes[i / 2] >> 4]; i++; }
        const uint8_t *c = q->codes + i / 2;
#if defined(__x86_64__)
        if (have_avx2() && bend - i >= 8) {
            size_t used = nf4_lookup_avx2(c, (bend - i) / 2, lut, o);
            c += used, o += 2 * used, i += 2 * used;
        }
#endif
        for (; i + 2 <= bend; i += 2, c++, o += 2) {
            o[0] = lut[*c & 15];
            o[1] = lut[*c >> 4];
        }
        if (i < bend) { *o = lut[*c & 15]; i++; }
    }
}

static void dequant_int8(const QuantMat *q, size_t i0, size_t n, float *out) {
    const int8_t *c = (const int8_t *)q->codes;
    size_t C = (size_t)q->cols, i = i0, end = i0 + n;
    while (i < end) {
        size_t r = i / C, rend = (r + 1) * C < end ? (r + 1) * C : end;
        float s = q->scales[r];
        for (; i < rend; i++) out[i - i0] = (float)c[i] * s;
    }
}

void quant_dequant(const QuantMat *q, size_t i0, size_t n, float *out) {
    if (q->kind == QUANT_NF4) dequant_nf4(q, i0, n, out);
    else dequant_int8(q, i0, n, out);
}
