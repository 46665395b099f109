/* bench/bench_dp.c — the LoRA training step of bench_step.c split over the ranks of a
   data-parallel run (tensor/comm.h): `mpirun -np R ./train bench --dp --threads T` against
   `./train bench --dp --threads R·T` in one process.
   defines: bench_dp
   The global batch stays 8 x 128 (stories15M shape, LoRA r=8 on all linears, random ids, targets
   everywhere); rank r runs rows [8r/R, 8(r+1)/R) with the CE divided by the global target count
   (LlamaModel.loss_rows), then the gradient block is summed over the ranks and every rank takes
   the same AdamW step. Per step, on rank 0: the wall time, the wait for the slowest rank (a
   barrier before the sum: load imbalance, other processes) and the sum itself (the allreduce:
   reduce-scatter + in-order adds + allgather of the block). Medians over the timed steps; tok/s
   counts the GLOBAL batch. One JSON line with --json:
     {"bench":"dp","ranks":R,"threads_per_rank":T,"batch":8,"seq":128,"ms_per_step":..,
      "tok_per_s":..,"allreduce_ms":..,"wait_ms":..,"grad_mb":..,"cpu_ms_per_step":..,"loss":..} */
#include "bench/bench.h"
#include "bench/bench_step.h"
#include "autograd/ops.h"
#include "tensor/comm.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct { double wall, wait, sum, cpu; } DpTimes;

/* one data-parallel step of this rank's rows [lo, hi); returns the global loss */
static double dp_step(StepBench *s, int lo, int hi, DpTimes *t) {
    double t0 = bench_now(), c0 = cpu_now();
    param_store_zero_grad(&s->m.ps);
    s->m.loss_rows = comm_size() > 1 ? BATCH * SEQ : 0;   /* every position is a target */
    Tensor *loss = llama_loss(&s->tape, &s->m, s->ids + lo * SEQ, s->targets + lo * SEQ, hi - lo, SEQ, NULL, NULL);
    double l = (double)loss->data[0];
    tape_backward(&s->tape, loss);
    double t1 = bench_now();
    comm_barrier();
    double t2 = bench_now();
    comm_sum_real(s->m.ps.train_grad, s->m.ps.train_numel);
    comm_sum_f64(&l, 1);
    double t3 = bench_now();
    adamw_step(&s->opt, s->m.ps.train, s->m.ps.train_grad, 1e-4);
    arena_reset(&s->arena);
    tape_reset(&s->tape);
    *t = (DpTimes){ bench_now() - t0, t2 - t1, t3 - t2, cpu_now() - c0 };
    return l;
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return x[n / 2];
}

int bench_dp(const BenchOpts *o) {
    threads_init(o->threads);
    int R = comm_size(), r = comm_rank(), lo = BATCH * r / R, hi = BATCH * (r + 1) / R;
    if (hi == lo) {
        if (r == 0) fprintf(stderr, "error: bench --dp: %d ranks for a batch of %d rows\n", R, BATCH);
        return 1;
    }
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16.0 };
    StepBench s;
    step_bench_init_moe(&s, &a, 0);
    DpTimes t;
    int steps = o->quick ? 4 : 10;
    double wall[64], wait[64], sum[64], cpu[64], loss = dp_step(&s, lo, hi, &t);   /* warm-up */
    for (int i = 0; i < steps; i++) {
        loss = dp_step(&s, lo, hi, &t);
        wall[i] = t.wall, wait[i] = t.wait, sum[i] = t.sum, cpu[i] = t.cpu;
    }
    double mw = median(wall, steps), mwait = median(wait, steps), msum = median(sum, steps);
    double mcpu = median(cpu, steps), mb = (double)s.m.ps.train_numel * sizeof(real) / 1e6;
    if (r == 0 && o->json)
        printf("{\"bench\":\"dp\",\"ranks\":%d,\"threads_per_rank\":%d,\"batch\":%d,\"seq\":%d,\"ms_per_step\":%.2f,"
               "\"tok_per_s\":%.1f,\"allreduce_ms\":%.3f,\"wait_ms\":%.3f,\"grad_mb\":%.3f,\"cpu_ms_per_step\":%.2f,"
               "\"loss\":%.9g}\n", R, threads_count(), BATCH, SEQ, mw * 1e3, BATCH * SEQ / mw, msum * 1e3, mwait * 1e3,
               mb, mcpu * 1e3, loss);
    else if (r == 0)
        printf("Data-parallel LoRA step (stories15M shape, r=8, global batch %d x seq %d): %d rank(s) (%s) x %d "
               "thread(s)\n  %.1f ms/step, %.0f tok/s (median of %d); allreduce of the %.2f MB gradient block "
               "%.2f ms/step, waiting for the slowest rank %.2f ms/step; rank 0 CPU %.1f ms/step; loss %.9g\n",
               BATCH, SEQ, R, comm_backend(), threads_count(), mw * 1e3, BATCH * SEQ / mw, steps, mb, msum * 1e3,
               mwait * 1e3, mcpu * 1e3, loss);
    fflush(stdout);
    step_bench_free(&s);
    return 0;
}
