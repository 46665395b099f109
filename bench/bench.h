/* bench/bench.h — the benchmark bodies behind `./train bench` (cli/bench.c): throughput printed
   as a table or JSON lines.
   defines: BenchOpts, BenchModeOpts, bench_gemm, bench_peak_gflops, bench_peak_gflops_cpu, bench_step,
            bench_dp, bench_mode, bench_mode_names, bench_mode_setup, bench_peak, bench_mode_flops, bench_now,
            bench_stories15m_config
   Usage: ./train bench [--json] [--gemm] [--step] [--threads N] [--quick]
          ./train bench --mode M [--batch B --seq T --threads N --warmup W --steps S --loss-on answer|all]
   With no selection flag every benchmark runs. */
#ifndef BENCH_H
#define BENCH_H
#include "nn/model_config.h"
#include "tensor/status.h"

typedef struct {
    int json;       /* JSON lines only */
    int threads;    /* "all threads" count; 0 = pool default ($MOETRAIN_THREADS or CPUs) */
    int quick;      /* fewer repetitions */
} BenchOpts;

/* FMA peak loop and GEMM shapes of a training step (bench_gemm.c). */
int bench_gemm(const BenchOpts *o);

/* `--peak`: the peak loop alone at 1 and all threads, and one core's in CPU time (bench_gemm.c). */
int bench_peak(const BenchOpts *o);

/* GFLOP/s of the fp32 FMA peak loop on every pool thread at once (bench_gemm.c). */
double bench_peak_gflops(const BenchOpts *o);
/* The same loop on the calling thread, timed in its CPU time (immune to other processes). */
double bench_peak_gflops_cpu(void);

/* LoRA training step of a stories15M-shaped model at 1 and all threads (bench_step.c). */
int bench_step(const BenchOpts *o);

/* The LoRA step split over the ranks of a data-parallel run (bench_dp.c; mpirun -np R). */
int bench_dp(const BenchOpts *o);

/* `./train bench --mode M` (bench_mode.c): one configuration timed as torch_llama.py does */
typedef struct {
    const char *mode;     /* full | lora | molora | adamoe | moe | moe_null */
    int batch, seq, threads, warmup, steps;
    int loss_answer;      /* --loss-on answer: the last 4 tokens of each row carry the loss */
    int json;
    int expert_time;      /* also time the steps with the routed experts off */
    int recompute;        /* activation recompute per decoder layer (nn/recompute.h) */
    const char *model;    /* NULL: the stories15M shape; else a checkpoint (HF dir or .bin) of any size */
    int base_dtype;       /* its frozen base storage (BASE_DTYPE_*, nn/param_store.h) */
} BenchModeOpts;
/* a bad option or model is a Status (the command prints it); results go to stdout */
Status bench_mode(const BenchModeOpts *o, Error *err);
const char *bench_mode_names(void);
/* torch_llama.py's step_flops: ntok = B·T, scored = rows under the loss, apt = true experts per
   token; n_experts > 0 = MoE FFN (a->n_true + a->n_null routed) */
double bench_mode_flops(const ModelConfig *c, const AdapterConfig *a, int n_experts, int T, double ntok,
                        double scored, double apt);
/* the model and adapter of mode `name` (0 when there is no such mode) */
int bench_mode_setup(const char *name, ModelConfig *c, AdapterConfig *a);


/* Monotonic wall-clock seconds. */
double bench_now(void);

/* The shape of llama2.c's stories15M (bench_step.c): dim 288, 6 layers, 6 heads (kv 6, head_dim
   48), FFN 768, vocab 32000, context 256, tied embedding, RoPE over interleaved pairs, BOS 1,
   EOS 2. The step and generation benchmarks fill it with random weights. */
ModelConfig bench_stories15m_config(void);

#endif
