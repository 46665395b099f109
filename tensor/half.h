/* tensor/half.h — 16-bit float conversions for checkpoints and frozen weights.
   defines: bf16_to_f32, f32_to_bf16, f16_to_f32, f32_to_f16
   bf16 = the top 16 bits of an IEEE f32; conversion from f32 rounds to nearest even and keeps
   NaN a (quiet) NaN. f16 = IEEE 754 binary16 with subnormals, infinities and NaN. */
#ifndef HALF_H
#define HALF_H
#include <stdint.h>
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_bf16(float f);
float    f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

#endif
