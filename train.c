/* train.c — the moetrain command line.
   Until the trainer lands this prints the version, the SIMD level and threads, and the help. */
#include "bench/bench.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include "tensor/real.h"
#include "data/tokenize_cli.h"
#include <stdio.h>
#include <string.h>

#define MOETRAIN_VERSION "0.1.0"

static void print_help(FILE *f) {
    fprintf(f,
        "usage: ./train [COMMAND] [OPTIONS]\n"
        "\n"
        "commands:\n"
        "  (none)        the embedded demo (coming with the trainer)\n"
        "  bench         GEMM benchmarks (--json for JSON lines, --gemm for GEMM only)\n"
        "  help          this text\n"
        "\n"
        "global options:\n"
        "  --threads N   worker threads (default: $MOETRAIN_THREADS, else all CPUs)\n");
}

static void print_banner(void) {
    printf("moetrain %s  (real=%s, simd=%s, threads=%d)\n", MOETRAIN_VERSION,
           sizeof(real) == sizeof(double) ? "double" : "float", gemm_simd_level(), threads_count());
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "tokenize")) return tokenize_cli(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "bench")) return bench_main(argc - 1, argv + 1);
    if (argc > 1 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        print_help(stdout);
        return 0;
    }
    print_banner();
    print_help(stdout);
    return 0;
}
