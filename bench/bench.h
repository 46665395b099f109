/* bench/bench.h — `./train bench`: throughput benchmarks printed as a table or JSON lines.
   defines: BenchOpts, bench_main, bench_gemm, bench_now
   Usage: ./train bench [--json] [--gemm] [--threads N] [--quick]
   With no selection flag every benchmark runs (GEMM for now). */
#ifndef BENCH_H
#define BENCH_H

typedef struct {
    int json;       /* JSON lines only */
    int threads;    /* "all threads" count; 0 = pool default ($MOETRAIN_THREADS or CPUs) */
    int quick;      /* fewer repetitions */
} BenchOpts;

/* argv[0] is "bench". Returns the process exit status. */
int bench_main(int argc, char **argv);

/* FMA peak loop and GEMM shapes of a training step (bench_gemm.c). */
int bench_gemm(const BenchOpts *o);

/* Monotonic wall-clock seconds. */
double bench_now(void);

#endif
