/* tests/nn/test_memory_acts.c — the op-by-op activation estimate (nn/memory_acts.h) against the
   step arena's measured high-water mark (every byte the ops allocate, tensor/arena.h), with
   recompute and without, for LoRA (all linears; q, v only; with dropout), full fine-tuning,
   Mo-LoRA, AdaMoE 4 + 4 null top-3 and a Mixtral-style MoE FFN: within 10 % each. The model is
   small enough for one 64 MB arena block, so the mark counts allocations only. And the
   --recompute auto decision of memory_check (nn/model_memory.h). */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/memory_acts.h"
#include "nn/model_memory.h"
#include <string.h>
#include "tensor/threads.h"
#include <math.h>
#include <stdio.h>

typedef struct { const char *name; int kind, targets, mixtral; double dropout; } Case;

static const Case CASES[] = {
    { "lora all", ADAPTER_LORA, LORA_TARGET_ALL, 0, 0 },
    { "lora q,v", ADAPTER_LORA, LORA_TARGET_Q | LORA_TARGET_V, 0, 0 },
    { "lora dropout", ADAPTER_LORA, LORA_TARGET_ALL, 0, 0.1 },
    { "full", ADAPTER_FULL, 0, 0, 0 },
    { "molora", ADAPTER_MOLORA, LORA_TARGET_ALL, 0, 0 },
    { "adamoe", ADAPTER_ADAMOE, LORA_TARGET_ALL, 0, 0 },
    { "mixtral moe-ffn", ADAPTER_MOE_FFN, LORA_TARGET_Q | LORA_TARGET_GATE | LORA_TARGET_DOWN, 1, 0 },
};

static double measured_peak(LlamaModel *m, int B, int T) {
    int *ids = malloc((size_t)B * T * sizeof(int)), *tg = malloc((size_t)B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) ids[i] = (i * 13 + 7) % m->cfg.vocab_size, tg[i] = (i * 5 + 3) % m->cfg.vocab_size;
    Arena a;
    arena_init(&a, (size_t)64 << 20);
    Tape t;
    tape_init(&t, &a);
    Rng rng = rng_derive(1, 3);
    param_store_zero_grad(&m->ps);
    tape_backward(&t, llama_loss_padded(&t, m, ids, tg, NULL, B, T, m->acfg.aux_coef, &rng, NULL));
    double hw = (double)a.high_water;
    ck_assert_uint_eq(a.n_block_allocs, 1);
    tape_free(&t);
    arena_free(&a);
    free(ids);
    free(tg);
    return hw;
}

START_TEST(test_estimate_follows_the_arena)
{
    const Case *k = &CASES[_i];
    ModelConfig c = k->mixtral ? tiny_mixtral_config() : tiny_config(0);
    c.dim = 64, c.hidden_dim = 176, c.n_layers = 4, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16;
    c.vocab_size = 300, c.max_seq_len = 64;
    AdapterConfig a = { .kind = k->kind, .targets = k->targets, .rank = 4, .alpha = 8, .dropout = k->dropout };
    if (k->kind != ADAPTER_LORA && k->kind != ADAPTER_FULL) {
        adapter_moe_defaults(&a);
        a.top_k = 3;
        if (k->mixtral) a.n_null = 2;
    }
    LlamaModel m;
    tiny_model(&m, &c, &a, 3, 0.05);
    int B = 4, T = 48;
    for (int rc = 0; rc <= 1; rc++) {
        m.recompute = rc;
        double got = measured_peak(&m, B, T);
        MemActs est;
        memory_activations(&m, B, T, rc, threads_count(), &est);
        double err = est.peak / got - 1;
        printf("memory_acts %-16s recompute %d: estimate %.0f, arena %.0f bytes (%+.1f %%)\n", k->name, rc, est.peak, got,
               100 * err);
        ck_assert_msg(fabs(err) <= 0.10, "%s, recompute %d: estimate %.0f vs measured %.0f bytes (%+.1f %%)", k->name, rc,
                      est.peak, got, 100 * err);
    }
    llama_free(&m);
}
END_TEST

/* --recompute auto: on exactly when the estimate without it exceeds the limit and with it fits;
   on / off as asked; a limit below both refused naming the activations; on + pre-gating refused */
START_TEST(test_auto_recompute_decision)
{
    ModelConfig c = tiny_config(0);
    c.n_layers = 6;
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8 };
    LlamaModel m;
    llama_declare_params(&m, &c, &a, 0);
    MemPlan p;
    MemBudget b = { .batch = 8, .seq = 16, .plan = &p };
    MemEstimate off, on;
    memory_estimate_mode(&m, &b, 0, &off);
    memory_estimate_mode(&m, &b, 1, &on);
    ck_assert_msg(on.total < off.total && on.params == off.params, "%g vs %g", on.total, off.total);
    Error err;
    b.limit = off.total * 1.01;
    ck_assert_int_eq(memory_check(&m, &b, "m", &err), STATUS_OK);
    ck_assert_msg(!p.recompute && strstr(p.why, "auto: the estimate without it") && strstr(p.why, "fits"), "%s", p.why);
    b.limit = (off.total + on.total) / 2;
    ck_assert_int_eq(memory_check(&m, &b, "m", &err), STATUS_OK);
    ck_assert_msg(p.recompute && strstr(p.why, "exceeds --max-memory") && p.chosen.total == on.total, "%s", p.why);
    b.recompute = MEM_RECOMPUTE_OFF;
    ck_assert_int_eq(memory_check(&m, &b, "m", &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "with recompute off") && strstr(err.hint, "--recompute auto or on"), "%s | %s",
                  err.message, err.hint);
    b.recompute = MEM_RECOMPUTE_AUTO;
    b.limit = on.total * 0.99;
    ck_assert_int_eq(memory_check(&m, &b, "m", &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "activations") && strstr(err.message, "with recompute on"), "%s", err.message);
    m.acfg.pregate = 1;   /* pre-gating: auto cannot turn it on, on is refused */
    b.limit = (off.total + on.total) / 2;
    ck_assert_int_eq(memory_check(&m, &b, "m", &err), STATUS_INVALID);
    ck_assert_msg(strstr(p.why, "--pregate rules recompute out"), "%s", p.why);
    b.recompute = MEM_RECOMPUTE_ON;
    b.limit = -1;
    ck_assert_int_eq(memory_check(&m, &b, "m", &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "cannot be combined with --pregate"), "%s", err.message);
    llama_free(&m);
}
END_TEST

Suite *memory_acts_suite(void) {
    Suite *s = suite_create("memory_acts");
    TCase *tc = tcase_create("arena");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_estimate_follows_the_arena, 0, (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_test(tc, test_auto_recompute_decision);
    suite_add_tcase(s, tc);
    return s;
}
