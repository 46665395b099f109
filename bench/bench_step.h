/* bench/bench_step.h — what bench_step.c shares with bench_step_moe.c (internal to bench/).
   defines: StepBench, OpTimes, BATCH, SEQ, MAX_OPS, step_bench_init_moe, step_bench_free,
            train_step, cpu_now, cmp_double, profile_step, op_times_min, print_breakdown,
            prof_cpu_clock, profile_best, bench_step_moe, bench_mode_param_counts */
#ifndef BENCH_STEP_H
#define BENCH_STEP_H
#include "bench/bench.h"
#include "nn/llama.h"
#include "optim/adamw.h"

#define BATCH 8
#define SEQ 128
#define MAX_OPS 32

typedef struct {
    LlamaModel m;
    AdamW opt;
    Arena arena;
    Tape tape;
    int *ids, *targets;
} StepBench;

/* per op family: summed milliseconds and calls */
typedef struct {
    const char *name[MAX_OPS];
    double ms[MAX_OPS];
    int calls[MAX_OPS], n;
} OpTimes;

/* stories15M shape with adapter a; n_experts > 0: Mixtral-style MoE FFNs (base top-2) */
void step_bench_init_moe(StepBench *s, const AdapterConfig *a, int n_experts);
void step_bench_free(StepBench *s);
/* one full training step; returns the loss */
double train_step(StepBench *s);
double cpu_now(void);                         /* process CPU seconds */
int cmp_double(const void *a, const void *b);
/* the breakdown: 1 = this thread's CPU time, 0 = wall clock */
extern int prof_cpu_clock;
void profile_step(StepBench *s, OpTimes *fw, OpTimes *bw);
void op_times_min(OpTimes *best, const OpTimes *cur);
void print_breakdown(const OpTimes *fw, const OpTimes *bw, int reps);
/* per family the best of `reps` profiled steps (thread CPU time at nt == 1, else wall clock) */
void profile_best(StepBench *s, int nt, int reps, OpTimes *fw, OpTimes *bw);

/* parameter counts as torch_llama.py reports them: no alignment padding, the tied embedding
   once (bench_mode.c) */
void bench_mode_param_counts(const ParamStore *ps, size_t *params, size_t *trainable);

/* Mo-LoRA / AdaMoE / MoE-FFN steps at nt threads (bench_step_moe.c) */
void bench_step_moe(const BenchOpts *o, int nt);

#endif
