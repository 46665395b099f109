/* bench/bench_generate.c — greedy generation speed with the KV cache (nn/generate.h).
   Model: random weights (N(0, 0.02²)) in the shape of llama2.c's stories15M: dim 288, 6 layers,
   6 heads (no GQA), FFN 768, vocab 32000, context 256, tied embedding, f32 storage. One run
   generates `steps` tokens from the BOS prompt; the best of a few runs is reported, with
   1 thread and with all threads. JSON: {"bench":"generate",...,"tokens_per_s":X}. */
#include "bench/bench_generate.h"
#include "nn/generate.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>

/* best tokens/s over a few runs (after one warm-up run) */
static double time_generate(const LlamaModel *m, int steps, int reps) {
    const int bos = 1;
    GenerateConfig gc = generate_config_default();
    gc.steps = steps;
    int *out = malloc((size_t)steps * sizeof *out), n = 0;
    double best = 0;
    Error err;
    for (int r = -1; r < reps; r++) {
        double t = bench_now();
        if (llama_generate(m, &bos, 1, &gc, NULL, NULL, out, &n, &err) != STATUS_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            break;
        }
        t = bench_now() - t;
        if (r >= 0 && n / t > best) best = n / t;
    }
    free(out);
    return best;
}

int bench_generate(const BenchOpts *o) {
    ModelConfig c = bench_stories15m_config();
    AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel m;
    llama_declare(&m, &c, &none, 0);
    llama_init_base_random(&m, 1, 0.02);
    threads_init(o->threads);
    int all = threads_count(), counts[2] = { 1, all }, n_counts = all > 1 ? 2 : 1;
    int steps = o->quick ? 64 : c.max_seq_len - 1, reps = o->quick ? 1 : 3;
    if (!o->json) printf("generation benchmark: stories15M-shaped random model, greedy, %d tokens\n", steps);
    for (int i = 0; i < n_counts; i++) {
        threads_init(counts[i]);
        double tps = time_generate(&m, steps, reps);
        if (o->json)
            printf("{\"bench\":\"generate\",\"model\":\"stories15M-shape\",\"dim\":%d,\"layers\":%d,"
                   "\"vocab\":%d,\"threads\":%d,\"prompt\":1,\"steps\":%d,\"tokens_per_s\":%.1f}\n",
                   c.dim, c.n_layers, c.vocab_size, counts[i], steps, tps);
        else printf("  threads %3d: %8.1f tokens/s\n", counts[i], tps);
        fflush(stdout);
    }
    threads_init(o->threads);
    llama_free(&m);
    return 0;
}
