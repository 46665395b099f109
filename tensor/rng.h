/* tensor/rng.h — random numbers with explicit state (never rand()).
   defines: Rng, rng_seed, rng_derive, rng_u64, rng_skip, rng_u32, rng_uniform, rng_uniform_range,
            rng_normal, rng_int, rng_fill_uniform, rng_fill_normal, rng_fill_kaiming_uniform
   Generator: xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64. One Rng per
   purpose (weights, data order, dropout), each derived from the master seed with
   rng_derive(seed, stream), so adding a consumer never shifts another's numbers. */
#ifndef RNG_H
#define RNG_H
#include <stdint.h>
#include <stddef.h>
#include "tensor/real.h"

typedef struct { uint64_t s[4]; } Rng;

void     rng_seed(Rng *r, uint64_t seed);
Rng      rng_derive(uint64_t seed, uint64_t stream);
uint64_t rng_u64(Rng *r);
/* advances r as n calls of rng_u64 would (about 1 ns each) */
void     rng_skip(Rng *r, uint64_t n);
uint32_t rng_u32(Rng *r);
double   rng_uniform(Rng *r);                       /* [0, 1), 53 random bits */
double   rng_uniform_range(Rng *r, double lo, double hi);
double   rng_normal(Rng *r);                        /* N(0,1), Box-Muller: exactly two rng_u64 */
uint64_t rng_int(Rng *r, uint64_t n);               /* uniform in [0, n), unbiased */
void     rng_fill_uniform(Rng *r, real *x, size_t n, double lo, double hi);
void     rng_fill_normal(Rng *r, real *x, size_t n, double mean, double std);
/* PyTorch's kaiming_uniform_(a=sqrt(5)) for a [out, in] weight: U(-1/sqrt(in), 1/sqrt(in)) */
void     rng_fill_kaiming_uniform(Rng *r, real *x, size_t n, int fan_in);

#endif
