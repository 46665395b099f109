/* bench/bench_generate.c — greedy generation speed with the KV cache (nn/generate.h), dense and
   routed, at the same width.
   Model: random weights (N(0, 0.02²)) in the shape of llama2.c's stories15M: dim 288, 6 layers,
   6 heads (no GQA), FFN 768, vocab 32000, context 256, tied embedding, f32 storage. Rows (the
   adapters of `./train bench --mode`, bench_mode.c; LoRA B, routers and gate2 N(0, 0.02²) as
   there, so the experts and the routing matter):
     dense    no adapter
     lora     LoRA r 8 on q, k, v, o, gate, up, down (kept separate, not merged)
     molora   4 LoRA experts r 8, top-2, on the same linears
     adamoe   4 LoRA experts r 8 + 4 null, top-3
     moe      8 SwiGLU experts of width 768 per FFN, top-2 (Mixtral-style blocks)
   One run generates `steps` tokens from the BOS prompt; the median of a few runs (after one
   warm-up) is reported with 1 thread and with all threads, with the ratio to the dense row of
   the same thread count. Load = true experts per token, from one full forward over the last
   generated sequence (routing is per token, so decoding routes the same).
   JSON: {"bench":"generate","adapter":...,"threads":N,...,"tokens_per_s":X,"vs_dense":r,
         "tokens_per_cpu_s":c,"load":l} (load -1: not routed). */
#include "bench/bench_generate.h"
#include "nn/generate.h"
#include "nn/moe.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPS 9

typedef struct { const char *name, *mode; } GenRow;   /* mode: bench_mode.c's, NULL = dense */

static const GenRow ROWS[] = {
    { "dense", NULL }, { "lora", "lora" }, { "molora", "molora" }, { "adamoe", "adamoe" }, { "moe", "moe" },
};
#define N_ROWS ((int)(sizeof ROWS / sizeof ROWS[0]))

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median tokens/s over reps runs (after one warm-up run), in wall-clock and in process CPU time
   (*cpu_tps; at 1 thread the CPU time does not count waits for other processes on a shared
   machine); the ids of the last run in out */
static double time_generate(const LlamaModel *m, int steps, int reps, int *out, double *cpu_tps) {
    const int bos = 1;
    GenerateConfig gc = generate_config_default();
    gc.steps = steps;
    int n = 0, got = 0;
    double tps[MAX_REPS], ctps[MAX_REPS];
    Error err;
    *cpu_tps = 0;
    for (int r = -1; r < reps; r++) {
        double t = bench_now(), c = cpu_now();
        if (llama_generate(m, &bos, 1, &gc, NULL, NULL, out, &n, &err) != STATUS_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            return 0;
        }
        t = bench_now() - t;
        c = cpu_now() - c;
        if (r >= 0) ctps[got] = n / c, tps[got++] = n / t;
    }
    if (!got) return 0;
    qsort(tps, (size_t)got, sizeof *tps, cmp_double);
    qsort(ctps, (size_t)got, sizeof *ctps, cmp_double);
    *cpu_tps = ctps[got / 2];
    return tps[got / 2];
}

/* the row's model: random base, adapter as bench --mode (B, routers, gate2 N(0, 0.02²)) */
static void build_row(LlamaModel *m, const GenRow *row) {
    ModelConfig c = bench_stories15m_config();
    AdapterConfig a = { .kind = ADAPTER_NONE };
    if (row->mode) bench_mode_setup(row->mode, &c, &a);
    llama_declare(m, &c, &a, 0);
    llama_init_base_random(m, 1, 0.02);
    if (!row->mode) return;
    llama_init_adapter(m, 1);
    Rng r = rng_derive(1, 7);
    for (int i = 0; i < m->ps.n; i++) {
        Tensor *p = m->ps.params[i];
        if (strstr(p->name, "lora_B") || strstr(p->name, ".router.") || strstr(p->name, ".gate2."))
            rng_fill_normal(&r, p->data, p->numel, 0, 0.02);
    }
}

/* true experts per token over the sequence BOS + ids (one full no-grad forward); -1 if not routed */
static double sequence_load(const LlamaModel *m, const int *ids, int n) {
    if (!m->moe) return -1;
    int *seq = malloc((size_t)(n + 1) * sizeof *seq);
    seq[0] = 1;
    memcpy(seq + 1, ids, (size_t)n * sizeof *seq);
    Arena a;
    Tape t;
    arena_init(&a, (size_t)16 << 20);
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    moe_stats_reset(&m->moe->stats);
    llama_hidden(&t, m, seq, 1, n + 1, NULL);
    MoeSummary s;
    moe_summary_model(&m->moe->stats, &s);
    moe_stats_reset(&m->moe->stats);
    tape_free(&t);
    arena_free(&a);
    free(seq);
    return s.load;
}

int bench_generate(const BenchOpts *o) {
    ModelConfig c = bench_stories15m_config();
    threads_init(o->threads);
    int all = threads_count(), counts[2] = { 1, all }, n_counts = all > 1 ? 2 : 1;
    int steps = o->quick ? 64 : c.max_seq_len - 1, reps = o->quick ? 1 : 5;
    double dense[2] = { 0, 0 };
    int *out = malloc((size_t)steps * sizeof *out);
    if (!o->json)
        printf("generation benchmark: stories15M-shaped random models, greedy, %d tokens, median of %d runs\n"
               "  %-8s %7s %10s %9s %12s %6s\n", steps, reps, "adapter", "threads", "tokens/s", "vs dense",
               "tokens/CPU-s", "Load");
    for (int ri = 0; ri < N_ROWS; ri++) {
        LlamaModel m;
        build_row(&m, &ROWS[ri]);
        for (int i = 0; i < n_counts; i++) {
            threads_init(counts[i]);
            double cpu_tps, tps = time_generate(&m, steps, reps, out, &cpu_tps);
            if (ri == 0) dense[i] = tps;
            double vs = dense[i] > 0 ? tps / dense[i] : 0, load = sequence_load(&m, out, steps);
            if (o->json)
                printf("{\"bench\":\"generate\",\"model\":\"stories15M-shape\",\"adapter\":\"%s\",\"dim\":%d,"
                       "\"layers\":%d,\"vocab\":%d,\"threads\":%d,\"prompt\":1,\"steps\":%d,\"tokens_per_s\":%.1f,"
                       "\"vs_dense\":%.3f,\"tokens_per_cpu_s\":%.1f,\"load\":%.3f}\n", ROWS[ri].name, c.dim, c.n_layers,
                       c.vocab_size, counts[i], steps, tps, vs, cpu_tps, load);
            else if (load >= 0)
                printf("  %-8s %7d %10.1f %9.2f %12.1f %6.2f\n", ROWS[ri].name, counts[i], tps, vs, cpu_tps, load);
            else printf("  %-8s %7d %10.1f %9.2f %12.1f %6s\n", ROWS[ri].name, counts[i], tps, vs, cpu_tps, "-");
            fflush(stdout);
        }
        llama_free(&m);
    }
    free(out);
    threads_init(o->threads);
    return 0;
}
