/* tensor/rng.c — xoshiro256** + splitmix64 (see rng.h). */
#include "tensor/rng.h"
#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

Rng rng_derive(uint64_t seed, uint64_t stream) {
    Rng r;
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    rng_seed(&r, splitmix64(&x));
    return r;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void rng_skip(Rng *r, uint64_t n) {
    while (n--) rng_u64(r);
}

uint32_t rng_u32(Rng *r) { return (uint32_t)(rng_u64(r) >> 32); }

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

double rng_uniform_range(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint64_t rng_int(Rng *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;   /* reject the biased tail */
    uint64_t x;
    do x = rng_u64(r); while (x >= limit);
    return x % n;
}

void rng_fill_uniform(Rng *r, real *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (real)rng_uniform_range(r, lo, hi);
}

void rng_fill_normal(Rng *r, real *x, size_t n, double mean, double std) {
    for (size_t i = 0; i < n; i++) x[i] = (real)(mean + std * rng_normal(r));
}

void rng_fill_kaiming_uniform(Rng *r, real *x, size_t n, int fan_in) {
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    rng_fill_uniform(r, x, n, -bound, bound);
}
