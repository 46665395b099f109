/* tensor/half.c — bf16 and IEEE binary16 conversions (see half.h). */
#include "tensor/half.h"

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);   /* quiet NaN */
    uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);   /* round half to even */
    return (uint16_t)((u + rounding) >> 16);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    uint32_t u;
    if (exp == 0x1F) {                       /* inf / nan */
        u = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {                   /* normal: rebias 15 -> 127 */
        u = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {                   /* signed zero */
        u = sign;
    } else {                                 /* subnormal: normalise the mantissa */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400u));
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FFu) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t absu = u & 0x7FFFFFFFu;
    if (absu > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((absu >> 13) & 0x3FFu));   /* NaN */
    if (absu >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);   /* rounds to >= 65520: inf */
    if (absu < 0x38800000u) {            /* below 2^-14: subnormal or zero */
        if (absu < 0x33000000u) return sign;   /* < 2^-25 rounds to zero */
        uint32_t man = (absu & 0x7FFFFFu) | 0x800000u;
        int shift = 126 - (int)(absu >> 23);   /* 14..24 */
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = absu - 0x38000000u;     /* rebias 127 -> 15, exponent now in bits 23.. */
    r += 0xFFFu + ((r >> 13) & 1u);      /* round to nearest even on the 13 dropped bits */
    return (uint16_t)(sign | (r >> 13));
}
