/* bench/bench_step.c — throughput of one LoRA training step on a stories15M-shaped model.
   defines: bench_step
   Model (built in memory, random): dim 288, 6 layers, 6 heads (kv 6, head_dim 48), hidden 768,
   vocab 32000, max_seq 256, tied embeddings, llama2.c layout; LoRA rank 8, alpha 16 on all seven
   linears of every layer (A kaiming, B ~ N(0, 0.02²) so every adapter gradient is non-trivial).
   Batch 8 x seq 128, random ids, targets on every position (the LM head runs on all 1024 rows).
   One step = param_store_zero_grad + llama_loss + tape_backward + adamw_step + arena_reset +
   tape_reset. Step 1 is the warm-up (it grows the arena and the tape); steps 2..N are timed and
   `steady_mallocs` counts the arena blocks malloc'd during them (0 = allocation-free).

   Model FLOPs per step (the convention of shared/tools/bench_torch/torch_llama.py, so the
   GFLOP/s of the two are comparable; elementwise work is not counted):
     frozen matmul   (base q,k,v,o,gate,up,down and the LM head): 2 x forward = 2 · 2·in·out per token
                     (forward + input gradient; counted for layer 0's q,k,v too although their
                     input carries no gradient, which neither framework computes: ~0.8 % of the total)
     LoRA matmuls    3 x forward = 3 · 2·R·(in+out) per token (forward, input grad, weight grad)
     attention       3 x forward, forward = 2·2·T·C per token and layer (QKᵀ and PV over the FULL
                     T x T square, although the causal mask lets us skip about half of it)
   pct_peak = GFLOP/s / the FMA peak loop of bench_gemm at the same thread count.
   Then the mixture-of-experts steps on the same model (bench_step_moe.c).
   Output: a table with the time per op family (forward by phase, backward per tape op), or one
   JSON line per thread count:
     {"bench":"step","model":"stories15M","adapter":"lora","batch":8,"seq":128,"threads":T,
      "ms_per_step":..,"tok_per_s":..,"gflops":..,"pct_peak":..,"peak_rss_mb":..,"arena_mb":..,
      "steady_mallocs":0,"gflop_per_step":..} */
#include "bench/bench_step.h"
#include "autograd/ops.h"
#include "nn/llama.h"
#include "nn/model_memory.h"
#include "optim/adamw.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

ModelConfig bench_stories15m_config(void) {
    ModelConfig c = { 0 };
    c.dim = 288; c.hidden_dim = 768; c.n_layers = 6; c.n_heads = 6; c.n_kv_heads = 6;
    c.vocab_size = 32000; c.max_seq_len = 256; c.head_dim = 48;
    c.norm_eps = 1e-5; c.rope_theta = 10000.0; c.tied = 1; c.rope_half = 0;
    c.bos_id = 1; c.eos_id = 2;
    return c;
}

/* n_experts > 0: every FFN is a Mixtral-style MoE of that many SwiGLU experts (base top-2) */
void step_bench_init_moe(StepBench *s, const AdapterConfig *a, int n_experts) {
    ModelConfig c = bench_stories15m_config();
    c.n_experts = n_experts;
    c.experts_per_tok = n_experts ? 2 : 0;
    llama_declare(&s->m, &c, a, 0);
    llama_init_base_random(&s->m, 1, 0.02);
    llama_init_adapter(&s->m, 1);
    Rng r = rng_derive(1, 7);
    for (int i = 0; i < s->m.ps.n; i++)
        if (strstr(s->m.ps.params[i]->name, "lora_B"))
            rng_fill_normal(&r, s->m.ps.params[i]->data, s->m.ps.params[i]->numel, 0, 0.02);
    param_store_enable_packs(&s->m.ps, MEM_PACK_CACHE_BYTES);   /* as the trainer: frozen panels kept */
    AdamWConfig oc = { 0.9, 0.999, 1e-8, 0.01 };
    adamw_init(&s->opt, &oc, s->m.ps.train_numel);
    arena_init(&s->arena, (size_t)64 << 20);
    tape_init(&s->tape, &s->arena);
    s->ids = xmalloc(BATCH * SEQ * sizeof(int));
    s->targets = xmalloc(BATCH * SEQ * sizeof(int));
    for (int i = 0; i < BATCH * SEQ; i++) {
        s->ids[i] = (int)rng_int(&r, (uint64_t)c.vocab_size);
        s->targets[i] = (int)rng_int(&r, (uint64_t)c.vocab_size);
    }
}

static void step_bench_init_with(StepBench *s, const AdapterConfig *a) { step_bench_init_moe(s, a, 0); }

static void step_bench_init(StepBench *s) {
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16.0 };
    step_bench_init_with(s, &a);
}

void step_bench_free(StepBench *s) {
    tape_free(&s->tape);
    arena_free(&s->arena);
    adamw_free(&s->opt);
    llama_free(&s->m);
    free(s->ids);
    free(s->targets);
}

/* One full training step; returns the loss. */
double train_step(StepBench *s) {
    param_store_zero_grad(&s->m.ps);
    Tensor *loss = llama_loss(&s->tape, &s->m, s->ids, s->targets, BATCH, SEQ, NULL, NULL);
    double l = (double)loss->data[0];
    tape_backward(&s->tape, loss);
    adamw_step(&s->opt, s->m.ps.train, s->m.ps.train_grad, 1e-4);
    arena_reset(&s->arena);
    tape_reset(&s->tape);
    return l;
}

/* Model FLOPs of one step (see the header for the convention). */
static double step_flops(const ModelConfig *c, int rank) {
    double C = c->dim, F = c->hidden_dim, V = c->vocab_size, R = rank, ntok = (double)BATCH * SEQ;
    double qd = (double)c->n_heads * c->head_dim, kvd = (double)c->n_kv_heads * c->head_dim;
    double io[7][2] = { { C, qd }, { C, kvd }, { C, kvd }, { qd, C }, { C, F }, { C, F }, { F, C } };
    double per_tok_layer = 3 * 2 * 2 * SEQ * C;                       /* attention */
    for (int j = 0; j < 7; j++)
        per_tok_layer += 2 * 2 * io[j][0] * io[j][1] + 3 * 2 * R * (io[j][0] + io[j][1]);
    return ntok * (per_tok_layer * c->n_layers + 2 * 2 * C * V);
}

double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- breakdown: forward by phase, backward per tape op ---- */


static void op_times_add(OpTimes *t, const char *name, double ms) {
    int i = 0;
    while (i < t->n && strcmp(t->name[i], name)) i++;
    if (i == t->n) {
        if (t->n == MAX_OPS) return;
        t->name[t->n++] = name;
    }
    t->ms[i] += ms;
    t->calls[i]++;
}

/* The breakdown's clock: this thread's CPU time at 1 thread (immune to other processes on a
   shared machine), wall-clock time otherwise. */
int prof_cpu_clock;
static double prof_now(void) {
    if (!prof_cpu_clock) return bench_now();
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One step with timers around the forward phases and every backward entry (the same ops as
   llama_loss with every target counted: the decoder stack, then the fused LM head + CE). */
void profile_step(StepBench *s, OpTimes *fw, OpTimes *bw) {
    Tape *t = &s->tape;
    double t0 = prof_now();
    param_store_zero_grad(&s->m.ps);
    double t1 = prof_now();
    Tensor *hidden = llama_hidden(t, &s->m, s->ids, BATCH, SEQ, NULL);
    double t2 = prof_now();
    Tensor *loss = op_linear_cross_entropy(t, hidden, s->m.lm_head, s->targets, BATCH * SEQ);
    double t3 = prof_now();
    op_times_add(fw, "zero_grad (params)", (t1 - t0) * 1e3);
    op_times_add(fw, "layers (fwd)", (t2 - t1) * 1e3);
    op_times_add(fw, "lm_head+CE (fwd+bwd)", (t3 - t2) * 1e3);
    tensor_grad_ready(loss)[0] += 1;
    for (int i = t->n - 1; i >= 0; i--) {
        const TapeEntry *e = &t->entries[i];
        double a = prof_now();
        tape_backward_entry(e);
        op_times_add(bw, e->op, (prof_now() - a) * 1e3);
    }
    t0 = prof_now();
    adamw_step(&s->opt, s->m.ps.train, s->m.ps.train_grad, 1e-4);
    t1 = prof_now();
    arena_reset(&s->arena);
    tape_reset(t);
    op_times_add(fw, "adamw", (t1 - t0) * 1e3);
}

/* Keeps, per family, the smallest time seen over the profiled steps (robust to a noisy machine). */
void op_times_min(OpTimes *best, const OpTimes *cur) {
    for (int i = 0; i < cur->n; i++) {
        int j = 0;
        while (j < best->n && strcmp(best->name[j], cur->name[i])) j++;
        if (j == best->n) {
            if (best->n == MAX_OPS) continue;
            best->name[best->n++] = cur->name[i];
            best->ms[j] = cur->ms[i];
        }
        if (cur->ms[i] < best->ms[j]) best->ms[j] = cur->ms[i];
        best->calls[j] = cur->calls[i];
    }
}

void profile_best(StepBench *s, int nt, int reps, OpTimes *fw, OpTimes *bw) {
    *fw = (OpTimes){ 0 };
    *bw = (OpTimes){ 0 };
    prof_cpu_clock = nt == 1;
    for (int i = 0; i < reps; i++) {
        OpTimes f1 = { 0 }, b1 = { 0 };
        profile_step(s, &f1, &b1);
        op_times_min(fw, &f1);
        op_times_min(bw, &b1);
    }
}

void print_breakdown(const OpTimes *fw, const OpTimes *bw, int reps) {
    double tot = 0;
    for (int i = 0; i < fw->n; i++) tot += fw->ms[i];
    for (int i = 0; i < bw->n; i++) tot += bw->ms[i];
    printf("  time per op family (best of %d profiled steps, %s; sum %.1f ms):\n", reps,
           prof_cpu_clock ? "thread CPU time" : "wall clock", tot);
    for (int i = 0; i < fw->n; i++)
        printf("    %-24s %8.2f ms %5.1f %%\n", fw->name[i], fw->ms[i], 100 * fw->ms[i] / tot);
    for (int i = 0; i < bw->n; i++)
        printf("    bwd %-20s %8.2f ms %5.1f %%  (%d calls)\n", bw->name[i], bw->ms[i],
               100 * bw->ms[i] / tot, bw->calls[i]);
}

/* ---- the benchmark at one thread count ---- */

static void run_at(StepBench *s, const BenchOpts *o, int nt, double peak, double flops) {
    threads_init(nt);
    int steps = o->quick ? 4 : 10;
    double times[64], cpu[64], loss = 0;
    train_step(s);                                   /* warm-up: grows arena and tape */
    size_t blocks0 = s->arena.n_block_allocs;
    int cap0 = s->tape.cap;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long faults0 = ru.ru_minflt + ru.ru_majflt;
    for (int i = 0; i < steps; i++) {
        double t = bench_now(), c = cpu_now();
        loss = train_step(s);
        times[i] = bench_now() - t;
        cpu[i] = cpu_now() - c;
    }
    long steady = (long)(s->arena.n_block_allocs - blocks0) + (s->tape.cap != cap0);
    qsort(times, (size_t)steps, sizeof times[0], cmp_double);
    qsort(cpu, (size_t)steps, sizeof cpu[0], cmp_double);
    double med = times[steps / 2], g = flops / med * 1e-9;
    getrusage(RUSAGE_SELF, &ru);
    long faults = (ru.ru_minflt + ru.ru_majflt - faults0) / steps;
    double rss = (double)ru.ru_maxrss / 1024.0, arena_mb = (double)s->arena.high_water / (1 << 20);
    if (o->json) {
        printf("{\"bench\":\"step\",\"model\":\"stories15M\",\"adapter\":\"lora\",\"batch\":%d,\"seq\":%d,"
               "\"threads\":%d,\"ms_per_step\":%.2f,\"tok_per_s\":%.1f,\"gflops\":%.2f,\"pct_peak\":%.1f,"
               "\"peak_rss_mb\":%.1f,\"arena_mb\":%.1f,\"steady_mallocs\":%ld,\"gflop_per_step\":%.3f,"
               "\"cpu_ms_per_step\":%.2f}\n",
               BATCH, SEQ, nt, med * 1e3, BATCH * SEQ / med, g, 100 * g / peak, rss, arena_mb, steady,
               flops * 1e-9, cpu[steps / 2] * 1e3);
        fflush(stdout);
        return;
    }
    printf("threads %d: %.1f ms/step (median of %d; min %.1f, max %.1f), %.0f tok/s, %.1f GFLOP/s = "
           "%.1f %% of the peak loop (%.1f)\n", nt, med * 1e3, steps, times[0] * 1e3,
           times[steps - 1] * 1e3, BATCH * SEQ / med, g, 100 * g / peak, peak);
    if (nt == 1) {                  /* CPU time: what an idle machine would show at 1 thread */
        double pc = bench_peak_gflops_cpu(), gc = flops / cpu[steps / 2] * 1e-9;
        printf("  CPU time %.1f ms/step (median) = %.1f GFLOP/s = %.1f %% of the peak loop in CPU time "
               "(%.1f)\n", cpu[steps / 2] * 1e3, gc, 100 * gc / pc, pc);
    }
    printf("  loss at step %d %.9g, peak RSS %.1f MB, arena high-water %.1f MB, steady-state mallocs %ld "
           "(arena blocks %zu, tape cap %d), page faults/step %ld\n", steps + 1, (double)loss, rss, arena_mb, steady,
           s->arena.n_block_allocs, s->tape.cap, faults);
    OpTimes fw, bw;
    int reps = o->quick ? 2 : 5;
    profile_best(s, nt, reps, &fw, &bw);
    print_breakdown(&fw, &bw, reps);
    fflush(stdout);
}

int bench_step(const BenchOpts *o) {
    threads_init(o->threads);
    int all = threads_count();
    int counts[2] = { 1, all }, n_counts = all > 1 ? 2 : 1;
    StepBench s;
    step_bench_init(&s);
    double flops = step_flops(&s.m.cfg, s.m.acfg.rank);
    step_bench_free(&s);
    if (!o->json)
        printf("Training step: stories15M shape, LoRA r=8 on all linears, batch %d x seq %d, simd=%s\n"
               "model FLOPs/step %.3f G (torch_llama.py convention: frozen 2x fwd, LoRA 3x fwd, "
               "attention 3x fwd over the full TxT square)\n", BATCH, SEQ, gemm_simd_level(), flops * 1e-9);
    for (int c = 0; c < n_counts; c++) {
        threads_init(counts[c]);
        double peak = bench_peak_gflops(o);
        step_bench_init(&s);        /* the same model and data at every thread count: equal losses */
        run_at(&s, o, counts[c], peak, flops);
        step_bench_free(&s);
    }
    for (int c = 0; c < n_counts; c++) bench_step_moe(o, counts[c]);
    threads_init(o->threads);
    return 0;
}
