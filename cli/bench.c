/* cli/bench.c — option parsing and dispatch of `./train bench` (see bench.h). */
#include "cli/bench.h"
#include "bench/bench.h"
#include "bench/bench_generate.h"
#include "tensor/comm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f, "usage: ./train bench [--json] [--gemm] [--generate] [--step] [--dp] [--threads N] [--quick]\n"
               "  --json       JSON lines only\n"
               "  --gemm       GEMM benchmarks only (default: every benchmark)\n"
               "  --generate   KV-cache generation tokens/s (stories15M-shaped random model)\n"
               "  --step       LoRA training step (stories15M shape) only\n"
               "  --dp         that step split over data-parallel ranks (mpirun -np R; build with make MPI=1):\n"
               "               tok/s and allreduce time per step (rank 0 prints)\n"
               "  --threads N  multi-thread rows use N threads (default: all CPUs)\n"
               "  --quick      fewer repetitions\n");
}

int bench_main(int argc, char **argv) {
    BenchOpts o = { 0, 0, 0 };
    int want_gemm = 0, want_step = 0, want_generate = 0, want_dp = 0, selected = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) o.json = 1;
        else if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--gemm")) want_gemm = selected = 1;
        else if (!strcmp(argv[i], "--generate")) want_generate = selected = 1;
        else if (!strcmp(argv[i], "--step")) want_step = selected = 1;
        else if (!strcmp(argv[i], "--dp")) want_dp = selected = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "error: bench: --threads expects an integer in 1..256, got '%s'\n", argv[i]);
                return 1;
            }
            o.threads = (int)n;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "error: bench: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    int rc = 0;
    if (!selected || want_gemm) rc |= bench_gemm(&o);
    if (!selected || want_generate) rc |= bench_generate(&o);
    if (!selected || want_step) rc |= bench_step(&o);
    if (want_dp) {   /* only on request: under mpirun it is the one benchmark the ranks share */
        comm_init(NULL, NULL);
        rc |= bench_dp(&o);
    }
    return rc;
}
