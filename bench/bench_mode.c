/* bench/bench_mode.c — `./train bench --mode M`: one training-step configuration, timed and
   printed the way ../shared/tools/bench_torch/torch_llama.py does, so the two compare line by line.
   defines: bench_mode, bench_mode_names, bench_mode_setup (bench_mode_flops.c: the FLOP formula, counts)
   Model: the stories15M shape of bench_step.c (dim 288, 6 layers, 6 heads, hidden 768, vocab
   32000, tied embeddings), random weights. Modes (the script's docstring):
     full      every parameter trained
     lora      LoRA r = 8, alpha 16 on q, k, v, o, gate, up, down; base frozen
     molora    each of those 7 linears: 4 LoRA experts (r = 8) + a linear router, top-2
     adamoe    4 LoRA experts + 4 null experts, top-3, weights renormalised over the selected
               true experts; null experts cost nothing
     moe       the FFN is 8 SwiGLU experts (hidden 768), top-2, full training
     moe_null  as moe plus 8 null experts, top-3 (renormalised over the selected true experts)
   Every routed mode adds a Switch-style load-balancing loss (vanilla, coefficient 0.01). Routers
   (and gate2, the null experts' router) start N(0, 0.02²) as the script's; LoRA B starts
   N(0, 0.02²) instead of zero so every adapter gradient is non-trivial (the same FLOPs).
   One step = zero_grad + llama_loss (forward; the fused LM head + CE also forms its backward
   GEMMs here: fwd_ms holds them) + tape_backward (bwd_ms) + adamw_step and the arena / tape reset
   (opt_ms). Every step draws fresh random ids and targets; --loss-on answer puts the loss on the
   last 4 positions of each row (targets -100 elsewhere; the LM head runs on those rows only).
   Model FLOPs (the script's step_flops): per token, trainable matmuls 3 x 2·in·out, frozen ones
   2 x (forward + input gradient), attention 3 · 2·2·T·C per layer over the full T x T square,
   routers 3 x 2·in·E, routed experts times the measured true experts per token; the classifier
   term counts the scored rows (all of them with --loss-on all, as the script).
   --expert-time: the routed experts' own time in every timed step (MoeState.expert_clock sums
   their forward work; the backward runs entry by entry and times the entries their forward put
   on the tape, MoeRecord.tape_begin/end): thread CPU time at 1 thread, and at more threads the
   pool's critical-path CPU time (tensor/threads.h threads_critical_seconds: every parallel region
   counted as its longest part in thread CPU time), both robust on a shared machine; routers, the
   aux loss and the frozen base are not expert time. At more threads --expert-time also gives the
   whole step in critical-path time (step_critical_ms_median) and the parts' imbalance
   (imbalance_ms: Σ over regions of the longest part minus the mean part).
   Output: one JSON line with the script's keys in its order (--expert-time appends loss_on,
   step_cpu_ms_median, expert_ms, expert_clock and, above 1 thread, step_critical_ms_median,
   imbalance_ms), or a short text block. */
#include "bench/bench.h"
#include "bench/bench_step.h"
#include "nn/checkpoint.h"
#include "nn/model_memory.h"
#include "tensor/gemm.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_STEPS 1000
#define ANSWER_TOKENS 4
/* peak_rss_mb is the script's ru_maxrss / 1024, i.e. MiB: the estimate is printed in the same unit */
#define MIB 1048576.0

typedef struct { const char *name; AdapterConfig a; int n_experts; } ModeDef;

#define LORA8 .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16.0
#define AUX01 .aux = MOE_AUX_VANILLA, .aux_coef = 0.01, .k_baseline = 2

static const ModeDef MODES[] = {
    { "full", { .kind = ADAPTER_FULL }, 0 },
    { "lora", { .kind = ADAPTER_LORA, LORA8 }, 0 },
    { "molora", { .kind = ADAPTER_MOLORA, LORA8, .n_true = 4, .top_k = 2, .normalize = MOE_NORM_TRUE_ONLY, AUX01 }, 0 },
    { "adamoe", { .kind = ADAPTER_ADAMOE, LORA8, .n_true = 4, .n_null = 4, .top_k = 3,
                  .normalize = MOE_NORM_TRUE_ONLY, AUX01 }, 0 },
    { "moe", { .kind = ADAPTER_FULL, .n_true = 8, .top_k = 2, .normalize = MOE_NORM_TRUE_ONLY, AUX01 }, 8 },
    { "moe_null", { .kind = ADAPTER_FULL, .n_true = 8, .n_null = 8, .top_k = 3, .normalize = MOE_NORM_TRUE_ONLY,
                    AUX01 }, 8 },
};
#define N_MODES ((int)(sizeof MODES / sizeof MODES[0]))

const char *bench_mode_names(void) { return "full|lora|molora|adamoe|moe|moe_null"; }

static const ModeDef *find_mode(const char *name) {
    for (int i = 0; i < N_MODES; i++)
        if (!strcmp(MODES[i].name, name)) return &MODES[i];
    return NULL;
}

int bench_mode_setup(const char *name, ModelConfig *c, AdapterConfig *a) {
    const ModeDef *d = find_mode(name);
    if (!d) return 0;
    *c = bench_stories15m_config();
    c->n_experts = d->n_experts;
    c->experts_per_tok = d->n_experts ? 2 : 0;
    *a = d->a;
    return 1;
}

typedef struct {
    LlamaModel m;
    AdamW opt;
    Arena arena;
    Tape tape;
    Rng data;
    int *ids, *targets, B, T, answer;
    MemEstimate estimate;     /* nn/model_memory.h: the start-up estimate, against the peak RSS */
} ModeRun;

/* --model: the checkpoint with the mode's adapter, refused before loading when the start-up
   estimate (nn/model_memory.h: parameters, AdamW moments, activations of B x T) exceeds the RAM
   available; s->estimate keeps the estimate for the report */
static Status mode_load(ModeRun *s, const ModeDef *d, const BenchModeOpts *o, Error *err) {
    if (d->n_experts)
        return error_set(err, STATUS_INVALID, NULL, "bench: --model works with --mode full, lora, molora or adamoe "
                         "(moe / moe_null build their own MoE FFN on the stories15M shape)");
    MemBudget b = { .limit = 0, .batch = o->batch, .seq = o->seq, .limit_name = "--max-memory",
                    .recompute = o->recompute ? MEM_RECOMPUTE_ON : MEM_RECOMPUTE_OFF };
    AdapterConfig a = d->a;
    Status st = model_load_budget(&s->m, o->model, &a, o->base_dtype, &b, err);
    if (!st && o->seq > s->m.cfg.max_seq_len) {
        st = error_set(err, STATUS_INVALID, NULL, "bench: --seq %d exceeds the model's context %d", o->seq,
                       s->m.cfg.max_seq_len);
        llama_free(&s->m);
    }
    if (st) return st;
    memory_estimate(&s->m, &b, &s->estimate);
    return STATUS_OK;
}

/* routers and gate2 N(0, 0.02²) as the script's nn.Linear under its init loop; LoRA B N(0, 0.02²) */
static Status mode_init(ModeRun *s, const ModeDef *d, const BenchModeOpts *o, Error *err) {
    ModelConfig c;
    AdapterConfig a;
    bench_mode_setup(d->name, &c, &a);
    s->estimate = (MemEstimate){ 0 };
    if (o->model) {
        Status st = mode_load(s, d, o, err);
        if (st) return st;
    } else {
        llama_declare(&s->m, &c, &a, 0);
        MemBudget mb = { .batch = o->batch, .seq = o->seq };
        memory_estimate_mode(&s->m, &mb, o->recompute, &s->estimate);
        llama_init_base_random(&s->m, 1, 0.02);
    }
    s->m.recompute = o->recompute;
    llama_init_adapter(&s->m, 1);
    Rng r = rng_derive(1, 7);
    for (int i = 0; i < s->m.ps.n; i++) {
        Tensor *p = s->m.ps.params[i];
        if (strstr(p->name, "lora_B") || strstr(p->name, ".router.") || strstr(p->name, ".gate2."))
            rng_fill_normal(&r, p->data, p->numel, 0, 0.02);
    }
    param_store_enable_packs(&s->m.ps, MEM_PACK_CACHE_BYTES);   /* as the trainer: frozen panels kept */
    AdamWConfig oc = { 0.9, 0.999, 1e-8, 0.01 };
    adamw_init(&s->opt, &oc, s->m.ps.train_numel);
    arena_init(&s->arena, (size_t)64 << 20);
    tape_init(&s->tape, &s->arena);
    s->B = o->batch;
    s->T = o->seq;
    s->answer = o->loss_answer;
    s->data = rng_derive(1, 8);
    s->ids = xmalloc((size_t)s->B * s->T * sizeof(int));
    s->targets = xmalloc((size_t)s->B * s->T * sizeof(int));
    return STATUS_OK;
}

static void mode_free(ModeRun *s) {
    tape_free(&s->tape);
    arena_free(&s->arena);
    adamw_free(&s->opt);
    llama_free(&s->m);
    free(s->ids);
    free(s->targets);
}

/* fresh random ids and targets (targets -100 outside the last ANSWER_TOKENS of a row for answer) */
static void draw_batch(ModeRun *s) {
    int V = s->m.cfg.vocab_size;
    for (int b = 0; b < s->B; b++)
        for (int i = 0; i < s->T; i++) {
            size_t k = (size_t)b * s->T + i;
            s->ids[k] = (int)rng_int(&s->data, (uint64_t)V);
            s->targets[k] = (int)rng_int(&s->data, (uint64_t)V);
            if (s->answer && i < s->T - ANSWER_TOKENS) s->targets[k] = -100;
        }
}

typedef struct { double step, fwd, bwd, opt, cpu, loss, expert, crit, imb; } StepTimes;

/* the expert clock: this thread's CPU time at 1 thread (robust on a shared machine), else wall */
static double thread_cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* tape_backward with the backward of the routed experts' tape entries (MoeRecord spans) timed */
static double backward_timed(Tape *t, Tensor *loss, const MoeState *ms) {
    unsigned char *expert = arena_alloc(t->arena, (size_t)t->n + 1);
    memset(expert, 0, (size_t)t->n + 1);
    for (int i = 0; i < ms->n_layers * MOE_MODULES; i++)
        for (int j = ms->log[i].tape_begin; j < ms->log[i].tape_end && j < t->n; j++) expert[j] = 1;
    tensor_grad_ready(loss)[0] += 1;
    double sum = 0;
    for (int i = t->n - 1; i >= 0; i--) {
        const TapeEntry *e = &t->entries[i];
        double c = expert[i] ? ms->expert_clock() : 0;
        tape_backward_entry(e);
        if (expert[i]) sum += ms->expert_clock() - c;
    }
    return sum;
}

static StepTimes timed_step(ModeRun *s) {
    StepTimes r = { 0 };
    MoeState *ms = s->m.moe;
    draw_batch(s);
    if (ms) {
        ms->expert_fwd_seconds = 0;
        memset(ms->log, 0, (size_t)ms->n_layers * MOE_MODULES * sizeof *ms->log);
    }
    double c0 = cpu_now(), t0 = bench_now(), k0 = threads_critical_seconds(), i0 = threads_imbalance_seconds();
    Tensor *loss = llama_loss(&s->tape, &s->m, s->ids, s->targets, s->B, s->T, NULL, NULL);
    r.loss = (double)loss->data[0];
    double t1 = bench_now();
    param_store_zero_grad(&s->m.ps);
    double expert_bwd = 0;
    if (ms && ms->expert_clock) expert_bwd = backward_timed(&s->tape, loss, ms);
    else tape_backward(&s->tape, loss);
    double t2 = bench_now();
    adamw_step(&s->opt, s->m.ps.train, s->m.ps.train_grad, 1e-4);
    arena_reset(&s->arena);
    tape_reset(&s->tape);
    double t3 = bench_now();
    r.step = (t3 - t0) * 1e3;
    r.fwd = (t1 - t0) * 1e3;
    r.bwd = (t2 - t1) * 1e3;
    r.opt = (t3 - t2) * 1e3;
    r.cpu = (cpu_now() - c0) * 1e3;
    r.crit = (threads_critical_seconds() - k0) * 1e3;
    r.imb = (threads_imbalance_seconds() - i0) * 1e3;
    if (ms) r.expert = (ms->expert_fwd_seconds + expert_bwd) * 1e3;
    return r;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double min_of(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static double max_of(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

typedef struct {
    double med, min, max, fwd, bwd, opt, cpu, loss, load;
    double expert;           /* --expert-time: median routed-expert ms per step */
    int expert_cpu_clock;    /* ... in thread CPU time (1 thread) or critical-path CPU time */
    double crit, imb;        /* --expert-time above 1 thread: step in critical-path ms, imbalance ms */
    double peak;             /* one core's FMA peak loop in CPU time, the better of just before and after */
} ModeResult;

/* the timed steps after the warm-up; with expert_time the routed experts are timed in each */
static void run_steps(ModeRun *s, const BenchModeOpts *o, ModeResult *res) {
    static double st[MAX_STEPS], fw[MAX_STEPS], bw[MAX_STEPS], op[MAX_STEPS], cp[MAX_STEPS], ex[MAX_STEPS];
    static double kr[MAX_STEPS], ib[MAX_STEPS];
    MoeState *ms = s->m.moe;
    int use_cpu = threads_count() == 1;
    if (o->expert_time && !use_cpu) threads_set_accounting(1);
    if (ms && o->expert_time) ms->expert_clock = use_cpu ? thread_cpu_now : threads_critical_seconds;
    for (int i = 0; i < o->warmup; i++) timed_step(s);
    if (ms) moe_stats_reset(&ms->stats);
    res->peak = bench_peak_gflops_cpu();   /* the clock this machine gives now: % of peak of THESE steps */
    for (int i = 0; i < o->steps; i++) {
        StepTimes r = timed_step(s);
        st[i] = r.step, fw[i] = r.fwd, bw[i] = r.bwd, op[i] = r.opt, cp[i] = r.cpu, ex[i] = r.expert;
        kr[i] = r.crit, ib[i] = r.imb;
        res->loss = r.loss;
    }
    double after = bench_peak_gflops_cpu();
    if (after > res->peak) res->peak = after;
    int n = o->steps;
    res->min = min_of(st, n);
    res->max = max_of(st, n);
    res->med = median(st, n);
    res->fwd = median(fw, n);
    res->bwd = median(bw, n);
    res->opt = median(op, n);
    res->cpu = median(cp, n);
    res->expert = median(ex, n);
    res->crit = median(kr, n);
    res->imb = median(ib, n);
    threads_set_accounting(0);
    res->expert_cpu_clock = use_cpu;
    MoeSummary sum;
    res->load = 0;
    if (ms) {
        moe_summary_model(&ms->stats, &sum);
        res->load = sum.load;
    }
}

static void print_result(const BenchModeOpts *o, const ModeRun *s, const ModeDef *d, const ModeResult *r) {
    const ParamStore *ps = &s->m.ps;
    double ntok = (double)o->batch * o->seq, scored = o->loss_answer ? (double)o->batch * ANSWER_TOKENS : ntok;
    if (scored > ntok) scored = ntok;
    double fl = bench_mode_flops(&s->m.cfg, &d->a, d->n_experts, o->seq, ntok, scored, r->load);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0;
    size_t params, trainable;
    bench_mode_param_counts(ps, &params, &trainable);
    if (!o->json) {
        printf("mode %s, batch %d x seq %d, loss on %s, %d threads, simd %s: %zu params (%zu trainable)\n"
               "  step %.1f ms median (min %.1f, max %.1f; CPU %.1f) = fwd %.1f + bwd %.1f + opt %.1f ms, "
               "%.0f tok/s\n  %.3f model GFLOP/step = %.1f GFLOP/s; true experts/token %.3f; peak RSS %.1f MB; "
               "loss %.6g; arena high-water %.1f MB\n  recompute %s; memory estimate %.1f MB (activations %.1f MB)\n", d->name, o->batch, o->seq, o->loss_answer ? "answer" : "all", o->threads,
               gemm_simd_level(), params, trainable, r->med, r->min, r->max, r->cpu, r->fwd, r->bwd, r->opt,
               ntok / (r->med * 1e-3), fl * 1e-9, fl / (r->med * 1e-3) * 1e-9, r->load, rss, r->loss,
               (double)s->arena.high_water / (1 << 20), o->recompute ? "on" : "off", s->estimate.total / MIB,
               s->estimate.activations / MIB);
        if (o->model)
            printf("  %s, frozen base in %s: start-up estimate %.1f MB against the peak RSS %.1f MB\n", o->model,
                   param_store_base_name(ps), s->estimate.total / MIB, rss);
        if (o->expert_time && s->m.moe)
            printf("  routed experts %.1f ms of the step (%s; their forward work + the backward of their "
                   "tape entries)\n", r->expert, r->expert_cpu_clock ? "thread CPU time" : "critical-path CPU time");
        return;
    }
    printf("{\"mode\": \"%s\", \"batch\": %d, \"seq\": %d, \"threads\": %d, \"params\": %zu, \"trainable\": %zu, "
           "\"step_ms_median\": %.3f, \"step_ms_min\": %.3f, \"step_ms_max\": %.3f, \"fwd_ms\": %.3f, "
           "\"bwd_ms\": %.3f, \"opt_ms\": %.3f, \"tok_per_s\": %.2f, \"true_experts_per_token\": %.4f, "
           "\"model_gflop_per_step\": %.4f, \"achieved_gflops\": %.3f, \"peak_rss_mb\": %.1f, "
           "\"final_loss\": %.6f, \"steps\": %d, \"warmup\": %d",
           d->name, o->batch, o->seq, o->threads, params, trainable, r->med, r->min, r->max, r->fwd, r->bwd,
           r->opt, ntok / (r->med * 1e-3), r->load, fl * 1e-9, fl / (r->med * 1e-3) * 1e-9, rss, r->loss,
           o->steps, o->warmup);
    if (o->model) printf(", \"model\": \"%s\", \"base_dtype\": \"%s\"", o->model, param_store_base_name(ps));
    printf(", \"estimate_mb\": %.1f, \"peak_cpu_gflops_per_core\": %.2f", s->estimate.total / MIB, r->peak);
    if (o->expert_time)
        printf(", \"loss_on\": \"%s\", \"step_cpu_ms_median\": %.3f, \"expert_ms\": %.3f, \"expert_clock\": \"%s\"",
               o->loss_answer ? "answer" : "all", r->cpu, r->expert, r->expert_cpu_clock ? "cpu" : "critical");
    if (o->expert_time && !r->expert_cpu_clock)
        printf(", \"step_critical_ms_median\": %.3f, \"imbalance_ms\": %.3f", r->crit, r->imb);
    if (o->recompute) printf(", \"recompute\": true");
    printf("}\n");
}

Status bench_mode(const BenchModeOpts *o, Error *err) {
    const ModeDef *d = find_mode(o->mode);
    if (!d) return error_set(err, STATUS_INVALID, NULL, "bench: --mode expects one of %s, got '%s'", bench_mode_names(), o->mode);
    if (o->steps < 1 || o->steps > MAX_STEPS || o->warmup < 0 || o->batch < 1 || o->seq < 1 ||
        (!o->model && o->seq > bench_stories15m_config().max_seq_len))
        return error_set(err, STATUS_INVALID, NULL, "bench: need --steps in 1..%d, --warmup >= 0, --batch >= 1 and --seq in 1..%d",
                         MAX_STEPS, bench_stories15m_config().max_seq_len);
    if (o->recompute && o->expert_time)
        return error_set(err, STATUS_INVALID, NULL, "bench: --expert-time times the routed experts' own tape entries, "
                         "which --recompute on replays inside each layer's hook: use one or the other");
    threads_init(o->threads);
    BenchModeOpts oo = *o;
    oo.threads = threads_count();
    ModeRun s;
    Status st = mode_init(&s, d, &oo, err);
    if (st) return st;
    ModeResult r = { 0 };
    run_steps(&s, &oo, &r);
    print_result(&oo, &s, d, &r);
    fflush(stdout);
    mode_free(&s);
    return STATUS_OK;
}
