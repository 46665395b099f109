/* bench/bench_generate.h — `./train bench --generate`: tokens/s of KV-cache generation.
   defines: bench_generate */
#ifndef BENCH_GENERATE_H
#define BENCH_GENERATE_H
#include "bench/bench.h"

/* Greedy generation on random stories15M-shaped models (dense, lora, molora, adamoe, moe),
   1 thread and all threads. */
int bench_generate(const BenchOpts *o);

#endif
