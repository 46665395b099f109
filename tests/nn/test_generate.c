/* tests/nn/test_generate.c — generation with the KV cache (nn/generate.h).
   - the naive twin: greedy ids from re-running the full no-grad forward (llama_hidden +
     llama_logits) on the whole prefix at every step, argmax of the last row; and the cached
     logits at every position against the full forward's rows. Over both RoPE layouts, tied and
     untied heads, a LoRA adapter with B != 0, and bf16 weight storage.
   - user errors are Status values with the expected messages.
   - sampling: frequencies match hand-computed softmax / nucleus probabilities; a seed fixes the
     ids; tiny top_p is greedy; the callback and EOS stop generation.
   The PyTorch reference on stories260K and the CLI are in test_generate_ref.c; routed models
   (Mixtral, upcycled, Mo-LoRA / AdaMoE adapters) in test_generate_moe.c. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/checkpoint.h"
#include "nn/generate.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const AdapterConfig NO_ADAPTER = { .kind = ADAPTER_NONE };
static const AdapterConfig LORA_ALL = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };

typedef struct { int tied, rope_half, lora, bf16; } Variant;

static void fill_lora_b(LlamaModel *m, uint64_t seed, double b_std) {
    Rng r = rng_derive(seed, 99);
    for (int i = 0; i < m->ps.n; i++)
        if (strstr(m->ps.params[i]->name, "lora_B"))
            rng_fill_normal(&r, m->ps.params[i]->data, m->ps.params[i]->numel, 0, b_std);
}

/* a tiny model of the variant; rope_half models come through an HF directory (hf_write/hf_load) */
static void variant_model(LlamaModel *m, Variant v, uint64_t seed, double std) {
    ModelConfig c = tiny_config(v.tied);
    const AdapterConfig *acfg = v.lora ? &LORA_ALL : &NO_ADAPTER;
    llama_declare(m, &c, v.rope_half ? &NO_ADAPTER : acfg, v.rope_half ? 0 : v.bf16);
    llama_init_base_random(m, seed, std);
    if (v.rope_half) {
        char *dir = tmp_dir_new(), cmd[160];
        Error err;
        ck_assert_int_eq(hf_write(m, dir, SAFE_F32, &err), STATUS_OK);
        llama_free(m);
        ck_assert_msg(hf_load(m, dir, acfg, v.bf16, &err) == STATUS_OK, "hf_load: %s", err.message);
        ck_assert_int_eq(m->cfg.rope_half, 1);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        free(dir);
    }
    llama_init_adapter(m, seed);
    if (v.lora) fill_lora_b(m, seed, 0.2);
    ck_assert_int_eq(m->tok_emb->bf16 != NULL, v.bf16);
}

START_TEST(test_greedy_matches_naive)
{
    static const Variant vs[] = {
        { 0, 0, 0, 0 }, { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 1, 1, 0, 0 },
        { 0, 0, 1, 0 }, { 0, 1, 1, 0 }, { 0, 0, 0, 1 }, { 0, 0, 1, 1 }, { 1, 1, 1, 1 },
    };
    const int prompt[3] = { 1, 17, 3 }, steps = 13;   /* 3 + 13 = the whole context of 16 */
    for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
        LlamaModel m;
        variant_model(&m, vs[k], 21 + k, 0.3);
        int want[13], got[13], n = -1, distinct = 0;
        greedy_by_full_forward(&m, prompt, 3, steps, want);
        GenerateConfig gc = generate_config_default();
        gc.steps = steps;
        Error err;
        ck_assert_int_eq(llama_generate(&m, prompt, 3, &gc, NULL, NULL, got, &n, &err), STATUS_OK);
        ck_assert_int_eq(n, steps);
        for (int i = 0; i < steps; i++) {
            ck_assert_msg(got[i] == want[i], "variant %zu step %d: cached %d, naive %d", k, i, got[i], want[i]);
            distinct += i == 0 || want[i] != want[i - 1];
        }
        ck_assert_msg(distinct > 2, "variant %zu: degenerate sequence, the test would prove little", k);
        int seq[16];
        memcpy(seq, prompt, sizeof prompt);
        memcpy(seq + 3, want, sizeof want);
        double d = decode_vs_full(&m, seq, 16);
        ck_assert_msg(d < 1e-4, "variant %zu: cached logits differ by %g", k, d);
        llama_free(&m);
    }
}
END_TEST

static Status gen_err(const LlamaModel *m, const int *prompt, int n_prompt, GenerateConfig gc, Error *err) {
    int out[32], n = -1;
    memset(err, 0, sizeof *err);
    Status s = llama_generate(m, prompt, n_prompt, &gc, NULL, NULL, out, &n, err);
    ck_assert_int_eq(n, 0);
    return s;
}

START_TEST(test_errors)
{
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    tiny_model(&m, &c, &NO_ADAPTER, 3, 0);
    const int ok[3] = { 1, 5, 9 }, bad[3] = { 1, 50, 9 }, neg[2] = { 1, -1 };
    GenerateConfig gc = generate_config_default();
    Error err;
    gc.steps = 14;
    ck_assert_int_eq(gen_err(&m, ok, 3, gc, &err), STATUS_INVALID);
    ck_assert_str_eq(err.message, "prompt of 3 tokens + 14 steps exceeds the model's context of 16");
    gc.steps = 13;
    ck_assert_int_eq(gen_err(&m, bad, 3, gc, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "prompt id 50 at index 1") && strstr(err.message, "0..49"), "%s", err.message);
    ck_assert_int_eq(gen_err(&m, neg, 2, gc, &err), STATUS_INVALID);
    ck_assert_int_eq(gen_err(&m, ok, 0, gc, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "empty prompt") != NULL, "%s", err.message);
    GenerateConfig g2 = gc;
    g2.top_p = 0;
    ck_assert_int_eq(gen_err(&m, ok, 3, g2, &err), STATUS_INVALID);
    g2.top_p = 1.5;
    ck_assert_int_eq(gen_err(&m, ok, 3, g2, &err), STATUS_INVALID);
    g2 = gc;
    g2.temperature = -1;
    ck_assert_int_eq(gen_err(&m, ok, 3, g2, &err), STATUS_INVALID);
    g2.temperature = NAN;
    ck_assert_int_eq(gen_err(&m, ok, 3, g2, &err), STATUS_INVALID);
    g2 = gc;
    g2.steps = 0;                                 /* nothing to do is not an error */
    ck_assert_int_eq(gen_err(&m, ok, 3, g2, &err), STATUS_OK);
    llama_free(&m);
}
END_TEST

/* frequencies of sampler_next over n draws against hand-computed probabilities */
static void check_freqs(const real *logits, int V, double temp, double top_p, const double *want) {
    Sampler s;
    sampler_init(&s, V);
    Rng r = rng_derive(123, 0);
    int counts[8] = { 0 }, n = 40000;
    for (int i = 0; i < n; i++) counts[sampler_next(&s, logits, temp, top_p, &r)]++;
    for (int j = 0; j < V; j++) {
        double f = (double)counts[j] / n;
        ck_assert_msg(want[j] == 0 ? counts[j] == 0 : fabs(f - want[j]) < 0.015,
                      "T %g top_p %g: id %d drawn %.4f, want %.4f", temp, top_p, j, f, want[j]);
    }
    sampler_free(&s);
}

START_TEST(test_sampler_distribution)
{
    const real lg[4] = { (real)log(1.0), (real)log(2.0), (real)log(3.0), (real)log(4.0) };
    const double p1[4] = { 0.1, 0.2, 0.3, 0.4 };
    check_freqs(lg, 4, 1.0, 1.0, p1);
    double z = 1 + sqrt(2.0) + sqrt(3.0) + 2;     /* temperature 2: p ∝ sqrt(i) */
    const double p2[4] = { 1 / z, sqrt(2.0) / z, sqrt(3.0) / z, 2 / z };
    check_freqs(lg, 4, 2.0, 1.0, p2);
    const double nuc05[4] = { 0, 0, 3.0 / 7, 4.0 / 7 };      /* 0.4 < 0.5 <= 0.4 + 0.3 */
    check_freqs(lg, 4, 1.0, 0.5, nuc05);
    const double nuc075[4] = { 0, 2.0 / 9, 3.0 / 9, 4.0 / 9 };
    check_freqs(lg, 4, 1.0, 0.75, nuc075);
    const real tie[4] = { 1, 3, 3, 2 };
    ck_assert_int_eq(argmax_first(tie, 4), 1);
    const double first_of_tie[4] = { 0, 1, 0, 0 };
    check_freqs(tie, 4, 1.0, 1e-9, first_of_tie);           /* tiny nucleus: the lower id of a tie */
    check_freqs(tie, 4, 0.0, 1.0, first_of_tie);            /* greedy */
}
END_TEST

static void gen_ids(const LlamaModel *m, double temp, double top_p, uint64_t seed, int *out) {
    const int prompt[2] = { 1, 7 };
    GenerateConfig gc = { 14, temp, top_p, seed, 0, 0 };
    int n = 0;
    Error err;
    ck_assert_int_eq(llama_generate(m, prompt, 2, &gc, NULL, NULL, out, &n, &err), STATUS_OK);
    ck_assert_int_eq(n, 14);
}

START_TEST(test_sampling_seeds)
{
    LlamaModel flat, sharp;
    variant_model(&flat, (Variant){ 0, 0, 0, 0 }, 5, 0.01);   /* logits near 0: near-uniform */
    variant_model(&sharp, (Variant){ 0, 0, 0, 0 }, 5, 0.3);
    int a[14], b[14], c[14], g[14];
    gen_ids(&flat, 1.0, 1.0, 7, a);
    gen_ids(&flat, 1.0, 1.0, 7, b);
    gen_ids(&flat, 1.0, 1.0, 8, c);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_msg(memcmp(a, c, sizeof a) != 0, "another seed gave the same 14 ids");
    for (int k = 0; k < 2; k++) {
        const LlamaModel *m = k ? &sharp : &flat;
        gen_ids(m, 0.0, 1.0, 7, g);
        gen_ids(m, 0.8, 1e-9, 9, a);
        ck_assert_msg(memcmp(a, g, sizeof a) == 0, "model %d: top_p 1e-9 is not greedy", k);
    }
    llama_free(&flat);
    llama_free(&sharp);
}
END_TEST

typedef struct { int calls, stop_after, last_prev; } StopCtx;

static int stop_cb(void *ctx, int prev_id, int id) {
    StopCtx *s = ctx;
    s->last_prev = prev_id;
    (void)id;
    return ++s->calls >= s->stop_after;
}

START_TEST(test_stop_conditions)
{
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    tiny_model(&m, &c, &NO_ADAPTER, 4, 0);
    const int prompt[2] = { 1, 7 };
    int full[10], out[10], n = 0;
    GenerateConfig gc = generate_config_default();
    gc.steps = 10;
    Error err;
    ck_assert_int_eq(llama_generate(&m, prompt, 2, &gc, NULL, NULL, full, &n, &err), STATUS_OK);
    StopCtx sc = { 0, 3, -1 };
    ck_assert_int_eq(llama_generate(&m, prompt, 2, &gc, stop_cb, &sc, out, &n, &err), STATUS_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(sc.last_prev, full[1]);        /* the callback sees the previous token */
    m.cfg.eos_id = full[4];                          /* pretend the 5th token is EOS */
    gc.stop_at_eos = 1;
    ck_assert_int_eq(llama_generate(&m, prompt, 2, &gc, NULL, NULL, out, &n, &err), STATUS_OK);
    int first = 0;
    while (full[first] != full[4]) first++;
    ck_assert_int_eq(n, first + 1);
    ck_assert_int_eq(out[n - 1], full[4]);
    llama_free(&m);
}
END_TEST

/* every logit of every position, with the GEMV rows split over 1 and over 3 threads */
static real *all_logits(const LlamaModel *m, const int *ids, int T, int threads) {
    threads_init(threads);
    int V = m->cfg.vocab_size;
    real *out = malloc((size_t)T * V * sizeof(real));
    DecodeState s;
    decode_state_init(&s, m, T);
    for (int p = 0; p < T; p++) memcpy(out + (size_t)p * V, decode_step(&s, ids[p], p, 1), (size_t)V * sizeof(real));
    decode_state_free(&s);
    return out;
}

START_TEST(test_thread_count_invariance)
{
    ModelConfig c = tiny_config(1);
    c.dim = 64; c.hidden_dim = 1100; c.vocab_size = 2100; c.n_heads = 8; c.n_kv_heads = 4; c.head_dim = 8;
    LlamaModel m;
    tiny_model(&m, &c, &LORA_ALL, 6, 0.1);          /* 64·2100 and 1100·64 multiply-adds: parallel */
    const int ids[6] = { 1, 2000, 7, 99, 1500, 3 };
    real *a = all_logits(&m, ids, 6, 1), *b = all_logits(&m, ids, 6, 3);
    ck_assert_int_eq(memcmp(a, b, (size_t)6 * c.vocab_size * sizeof(real)), 0);
    threads_init(0);
    free(a);
    free(b);
    llama_free(&m);
}
END_TEST

Suite *generate_suite(void) {
    Suite *s = suite_create("generate");
    TCase *tc = tcase_create("kv_cache");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_greedy_matches_naive);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_sampler_distribution);
    tcase_add_test(tc, test_sampling_seeds);
    tcase_add_test(tc, test_stop_conditions);
    tcase_add_test(tc, test_thread_count_invariance);
    suite_add_tcase(s, tc);
    return s;
}
