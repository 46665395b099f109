/* train.c — the moetrain command line: the table of commands, each one file in cli/.
   `./train` alone prints the version, SIMD level and threads, then runs the embedded demo
   (cli/demo.c); `./train --model ...` without a command means `./train train ...`. */
#include "cli/bench.h"
#include "cli/tokenize.h"
#include "cli/train.h"
#include "cli/demo.h"
#include "cli/eval.h"
#include "cli/sweep.h"
#include "cli/forward_backward.h"
#include "cli/generate.h"
#include "cli/route.h"
#include "cli/export.h"
#include "cli/merge_experts.h"
#include "cli/compress_adapter.h"
#include "cli/signals.h"
#include <stdio.h>
#include <string.h>

#define MOETRAIN_VERSION "0.1.0"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);     /* argv[0] is the command name */
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    { "demo", demo_run, "the embedded demo (what ./train alone runs)" },
    { "train", train_cli, "fine-tune a model on a task (--help for all options)" },
    { "eval", eval_cli, "score a model (+ adapter) on a task: --score letter | choice-loglik" },
    { "sweep", sweep_cli, "paper-style ablation grid (k1,k2,m5k4,...) x seeds -> results.md/csv" },
    { "tokenize", tokenize_cli, "encode text to ids (--text) or decode ids (--decode 1,2,3)" },
    { "generate", generate_cli, "generate text with a KV cache (--model, --prompt or --prompt-ids)" },
    { "bench", bench_main, "benchmarks: GEMM, training step, generation (--gemm --step --generate; --json)" },
    { "forward-backward", forward_backward_cli, "loss, logits summary and adapter gradients (torch_ref parity)" },
    { "route", route_cli, "true experts per token and layer of a molora/adamoe adapter (--text or --prompt-ids)" },
    { "export", export_cli, "merge a LoRA adapter (or a full fine-tune) into the base: HF dir or llama2.c .bin" },
    { "make-tiny", make_tiny_cli, "write a tiny random model (+ LoRA adapter), deterministic in --seed" },
    { "merge-experts", merge_experts_cli, "MC-SMoE: merge a molora/adamoe adapter's experts to --to N by routing statistics" },
    { "compress-adapter", compress_adapter_cli, "ComPEFT: keep the largest --density of each LoRA tensor (--ternary)" },
};
#define N_COMMANDS ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

static void print_help(FILE *f) {
    fprintf(f, "usage: ./train [COMMAND] [OPTIONS]   (COMMAND --help for its options)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-18s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "  %-18s %s\n", "help", "this text");
    fprintf(f, "\nthreads: --threads N on any command, or MOETRAIN_THREADS=N (default: all CPUs)\n");
}

/* `./train --model ...` (options without a command) means `./train train ...`; other bare options
   (--steps, --quiet, ...) go to the demo. */
static int wants_training(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--model") || !strcmp(argv[i], "--resume") || !strcmp(argv[i], "--config")) return 1;
    return 0;
}

int main(int argc, char **argv) {
    signals_install();
    if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
        return wants_training(argc, argv) ? train_cli(argc, argv) : demo_run(argc, argv);
    if (argc > 1) {
        for (int i = 0; i < N_COMMANDS; i++)
            if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
        if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            print_help(stdout);
            return 0;
        }
        fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
        print_help(stderr);
        return 1;
    }
    demo_banner(MOETRAIN_VERSION);
    return demo_run(argc, argv);
}
