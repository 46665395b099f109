/* cli/bench.c — option parsing and dispatch of `./train bench` (see bench.h). */
#include "cli/bench.h"
#include "cli/errors.h"
#include "bench/bench.h"
#include "bench/bench_generate.h"
#include "cli/model_flags.h"
#include "nn/checkpoint.h"
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
    fprintf(f, "usage: ./train bench [--json] [--gemm] [--generate] [--step] [--peak] [--dp] [--threads N] [--quick]\n"
               "       ./train bench --mode M [--batch B] [--seq T] [--threads N] [--warmup W] [--steps S]\n"
               "                     [--loss-on answer|all] [--expert-time] [--recompute on|off] [--json]\n"
               "                     [--model M --base-dtype D]\n"
               "  --json       JSON lines only\n"
               "  --gemm       GEMM benchmarks only (default: every benchmark)\n"
               "  --generate   KV-cache generation tokens/s (stories15M-shaped random models: dense, lora,\n"
               "               molora, adamoe, moe)\n"
               "  --step       LoRA training step (stories15M shape) only\n"
               "  --peak       the fp32 FMA peak loop only\n"
               "  --dp         the LoRA step split over data-parallel ranks (mpirun -np R; build with make MPI=1):\n"
               "               tok/s and allreduce time per step (rank 0 prints)\n"
               "  --threads N  multi-thread rows use N threads (default: all CPUs)\n"
               "  --quick      fewer repetitions\n"
               "  --mode M     one training-step configuration timed as ../shared/tools/bench_torch/\n"
               "               torch_llama.py does, with its JSON keys: %s\n"
               "  --batch B    rows per batch (default 8)      --seq T      tokens per row (default 128)\n"
               "  --warmup W   untimed steps (default 3)       --steps S    timed steps (default 12)\n"
               "  --loss-on    all (default) or answer (the last 4 tokens of each row carry the loss)\n"
               "  --expert-time  also time steps with the routed experts skipped (routed modes)\n"
               "  --recompute  on: re-run each decoder layer's forward in the backward (activation recompute;\n"
               "               default off); the output adds recompute and the start-up memory estimate\n"

               "  --model M    a checkpoint of any size (HF directory or .bin) instead of the stories15M shape\n"
               "               (full|lora|molora|adamoe); prints the start-up memory estimate next to the peak RSS\n"
               "  --base-dtype auto (default) | f32 | bf16 | nf4 | nf4-nodq | int8: the frozen base's storage\n",
            bench_mode_names());
}

/* an integer option value in lo..hi; -1 (after an error message) when it is not */
static int int_arg(const char *name, const char *v, int lo, int hi) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        fprintf(stderr, "error: bench: %s expects an integer in %d..%d, got '%s'\n", name, lo, hi, v);
        return -1;
    }
    return (int)n;
}

typedef struct { BenchOpts o; BenchModeOpts m; int gemm, step, generate, peak, dp, selected, mode_flags; } BenchArgs;

/* one option (and its value at argv[*i + 1]); 0 = ok, 1 = error, 2 = --help */
static int parse_one(BenchArgs *b, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    static const char *const ints[] = { "--threads", "--batch", "--seq", "--warmup", "--steps" };
    static const int lo[] = { 1, 1, 1, 0, 1 }, hi[] = { 256, 4096, 4096, 1000, 1000 };
    int *dst[] = { &b->o.threads, &b->m.batch, &b->m.seq, &b->m.warmup, &b->m.steps };
    for (int k = 0; k < 5; k++) {
        if (strcmp(a, ints[k])) continue;
        if (*i + 1 >= argc) break;
        int v = int_arg(a, argv[++*i], lo[k], hi[k]);
        if (v < 0) return 1;
        *dst[k] = v;
        b->mode_flags |= k > 0;
        return 0;
    }
    if (!strcmp(a, "--json")) b->o.json = 1;
    else if (!strcmp(a, "--quick")) b->o.quick = 1;
    else if (!strcmp(a, "--gemm")) b->gemm = b->selected = 1;
    else if (!strcmp(a, "--generate")) b->generate = b->selected = 1;
    else if (!strcmp(a, "--step")) b->step = b->selected = 1;
    else if (!strcmp(a, "--peak")) b->peak = b->selected = 1;
    else if (!strcmp(a, "--dp")) b->dp = b->selected = 1;
    else if (!strcmp(a, "--expert-time")) b->m.expert_time = b->mode_flags = 1;
    else if (!strcmp(a, "--mode") && *i + 1 < argc) b->m.mode = argv[++*i];
    else if (!strcmp(a, "--recompute") && *i + 1 < argc) {
        const char *v = argv[++*i];
        if (strcmp(v, "on") && strcmp(v, "off")) {
            fprintf(stderr, "error: bench: --recompute expects 'on' or 'off', got '%s'\n", v);
            return 1;
        }
        b->m.recompute = !strcmp(v, "on");
        b->mode_flags = 1;
    }
    else if (!strcmp(a, "--model") && *i + 1 < argc) b->m.model = argv[++*i], b->mode_flags = 1;
    else if (!strcmp(a, "--base-dtype") && *i + 1 < argc) {
        Error err;
        if (base_dtype_code(argv[++*i], NULL, 1, &b->m.base_dtype, &err)) {
            fprintf(stderr, "error: bench: %s\n", err.message);
            return 1;
        }
        b->mode_flags = 1;
    }
    else if (!strcmp(a, "--loss-on") && *i + 1 < argc) {
        const char *v = argv[++*i];
        if (strcmp(v, "answer") && strcmp(v, "all")) {
            fprintf(stderr, "error: bench: --loss-on expects 'answer' or 'all', got '%s'\n", v);
            return 1;
        }
        b->m.loss_answer = !strcmp(v, "answer");
        b->mode_flags = 1;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        return 2;
    } else {
        fprintf(stderr, "error: bench: unknown option '%s'%s\n", a, *i + 1 >= argc ? " (or its value is missing)" : "");
        usage(stderr);
        return 1;
    }
    return 0;
}

int bench_main(int argc, char **argv) {
    BenchArgs b = { .o = { 0, 0, 0 }, .m = { .batch = 8, .seq = 128, .warmup = 3, .steps = 12, .base_dtype = BASE_DTYPE_AUTO } };
    for (int i = 1; i < argc; i++) {
        int rc = parse_one(&b, argc, argv, &i);
        if (rc == 2) usage(stdout);
        if (rc) return rc == 2 ? 0 : 1;
    }
    if (b.m.mode) {
        if (b.selected) {
            fprintf(stderr, "error: bench: --mode runs one training step configuration; drop --gemm / --step / "
                            "--generate / --peak / --dp\n");
            return 1;
        }
        b.m.threads = b.o.threads;
        b.m.json = b.o.json;
        Error err;
        if (!bench_mode(&b.m, &err)) return 0;
        error_print(&err);
        return 1;
    }
    if (b.mode_flags) {
        fprintf(stderr, "error: bench: --batch, --seq, --warmup, --steps, --loss-on, --expert-time, --recompute, --model and --base-dtype need --mode "
                        "(%s)\n", bench_mode_names());
        return 1;
    }
    int rc = 0;
    if (!b.selected || b.gemm) rc |= bench_gemm(&b.o);
    if (!b.selected || b.generate) rc |= bench_generate(&b.o);
    if (!b.selected || b.step) rc |= bench_step(&b.o);
    if (b.peak) rc |= bench_peak(&b.o);
    if (b.dp) {   /* only on request: under mpirun it is the one benchmark the ranks share */
        comm_init(NULL, NULL);
        rc |= bench_dp(&b.o);
    }
    return rc;
}
