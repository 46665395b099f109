/* tests/support/model_fixtures.c — see model_fixtures.h. */
#include "tests/support/model_fixtures.h"
#include "nn/generate.h"
#include "tensor/check.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ModelConfig tiny_config(int tied) {
    ModelConfig c = { 0 };
    c.dim = 24; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = 50; c.max_seq_len = 16; c.head_dim = 6;
    c.norm_eps = 1e-5; c.rope_theta = 10000.0; c.tied = tied; c.rope_half = 0;
    c.bos_id = 1; c.eos_id = 2;
    return c;
}

ModelConfig tiny_mixtral_config(void) {
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    c.n_experts = 4;
    c.experts_per_tok = 2;
    return c;
}

void tiny_model(LlamaModel *m, const ModelConfig *c, const AdapterConfig *acfg, uint64_t seed, double b_std) {
    llama_declare(m, c, acfg, 0);
    llama_init_base_random(m, seed, 0.3);
    llama_init_adapter(m, seed);
    if (b_std > 0) {
        Rng r = rng_derive(seed, 99);
        for (int i = 0; i < m->ps.n; i++)
            if (strstr(m->ps.params[i]->name, "lora_B"))
                rng_fill_normal(&r, m->ps.params[i]->data, m->ps.params[i]->numel, 0, b_std);
    }
}

real *tiny_logits(const LlamaModel *m, const int *ids, int B, int T) {
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    Tensor *lg = llama_logits(&t, m, llama_hidden(&t, m, ids, B, T, NULL));
    real *out = xmalloc(lg->numel * sizeof(real));
    memcpy(out, lg->data, lg->numel * sizeof(real));
    tape_free(&t);
    arena_free(&a);
    return out;
}

void greedy_by_full_forward(const LlamaModel *m, const int *prompt, int n_prompt, int steps, int *out) {
    int V = m->cfg.vocab_size, T = n_prompt, ids[64];
    CHECK(n_prompt + steps <= 64, "greedy_by_full_forward: %d + %d ids", n_prompt, steps);
    memcpy(ids, prompt, (size_t)n_prompt * sizeof(int));
    for (int s = 0; s < steps; s++) {
        real *lg = tiny_logits(m, ids, 1, T);
        const real *last = lg + (size_t)(T - 1) * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (last[j] > last[best]) best = j;
        out[s] = ids[T++] = best;
        free(lg);
    }
}

double decode_vs_full(const LlamaModel *m, const int *ids, int T) {
    int V = m->cfg.vocab_size;
    real *full = tiny_logits(m, ids, 1, T);
    DecodeState s;
    decode_state_init(&s, m, T);
    double worst = 0;
    for (int p = 0; p < T; p++) {
        const real *lg = decode_step(&s, ids[p], p, 1);
        for (int j = 0; j < V; j++) worst = fmax(worst, fabs((double)lg[j] - (double)full[(size_t)p * V + j]));
    }
    decode_state_free(&s);
    free(full);
    return worst;
}

int dir_count_entries(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open directory %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

void tmp_dir_remove(char *d) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    CHECK(system(cmd) == 0, "cannot remove %s", d);
    free(d);
}

char *tmp_dir_new(void) {
    char *d = xmalloc(64);
    snprintf(d, 64, "/tmp/moetrain_test_XXXXXX");
    CHECK(mkdtemp(d) != NULL, "mkdtemp failed");
    return d;
}

void file_truncate(const char *path, long size) { CHECK(truncate(path, size) == 0, "truncate %s", path); }
