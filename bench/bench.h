/* bench/bench.h — the benchmark bodies behind `./train bench` (cli/bench.c): throughput printed
   as a table or JSON lines.
   defines: BenchOpts, bench_gemm, bench_peak_gflops, bench_peak_gflops_cpu, bench_step, bench_dp, bench_now,
            bench_stories15m_config
   Usage: ./train bench [--json] [--gemm] [--step] [--threads N] [--quick]
   With no selection flag every benchmark runs. */
#ifndef BENCH_H
#define BENCH_H
#include "nn/model_config.h"

typedef struct {
    int json;       /* JSON lines only */
    int threads;    /* "all threads" count; 0 = pool default ($MOETRAIN_THREADS or CPUs) */
    int quick;      /* fewer repetitions */
} BenchOpts;

/* FMA peak loop and GEMM shapes of a training step (bench_gemm.c). */
int bench_gemm(const BenchOpts *o);

/* GFLOP/s of the fp32 FMA peak loop on every pool thread at once (bench_gemm.c). */
double bench_peak_gflops(const BenchOpts *o);
/* The same loop on the calling thread, timed in its CPU time (immune to other processes). */
double bench_peak_gflops_cpu(void);

/* LoRA training step of a stories15M-shaped model at 1 and all threads (bench_step.c). */
int bench_step(const BenchOpts *o);

/* The LoRA step split over the ranks of a data-parallel run (bench_dp.c; mpirun -np R). */
int bench_dp(const BenchOpts *o);

/* Monotonic wall-clock seconds. */
double bench_now(void);

/* The shape of llama2.c's stories15M (bench_step.c): dim 288, 6 layers, 6 heads (kv 6, head_dim
   48), FFN 768, vocab 32000, context 256, tied embedding, RoPE over interleaved pairs, BOS 1,
   EOS 2. The step and generation benchmarks fill it with random weights. */
ModelConfig bench_stories15m_config(void);

#endif
