/* tests/nn/test_recompute.c — activation recompute per decoder layer (nn/recompute.h) changes
   nothing but memory: with LlamaModel.recompute on and off, the loss, its CE and aux parts, every
   trainable gradient, the router statistics and the dropout stream's final state are identical
   (compared with ==, in the float and the double build) for LoRA (fused residual path), LoRA with
   dropout (unfused path, own output buffers), full fine-tuning (the embedding output has a
   gradient), Mo-LoRA, AdaMoE 4 + 4 null top-3, AdaMoE with frozen-random routers, stochastic and
   top-p routing with the entropy loss, and a Mixtral-style MoE FFN (moe-ffn adapter with gate2
   nulls), on a right-padded batch, at 1 and 2 threads; and the arena's high-water mark (the bytes
   the step holds at its peak) drops; a no-grad forward (dense, AdaMoE, MoE FFN) peaks the same
   with 8 layers as with 2 (each layer's arena rewound, nn/recompute.h llama_layers_no_grad) unless
   MoeState.keep_log asks for every record, and its loss, aux loss and Load do not depend on it. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/recompute.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 3, T = 9 };

typedef struct { const char *name; int kind, mixtral, n_null, top_k, layers; double dropout; int routing, frozen; } Case;

static const Case CASES[] = {
    { "lora", ADAPTER_LORA, 0, 0, 0, 3, 0, MOE_ROUTING_TOPK, 0 },
    { "lora+dropout", ADAPTER_LORA, 0, 0, 0, 3, 0.2, MOE_ROUTING_TOPK, 0 },
    { "full", ADAPTER_FULL, 0, 0, 0, 2, 0, MOE_ROUTING_TOPK, 0 },
    { "molora", ADAPTER_MOLORA, 0, 0, 2, 3, 0, MOE_ROUTING_TOPK, 0 },
    { "adamoe 4+4 top-3", ADAPTER_ADAMOE, 0, 4, 3, 3, 0, MOE_ROUTING_TOPK, 0 },
    { "adamoe frozen-random+dropout", ADAPTER_ADAMOE, 0, 4, 3, 2, 0.1, MOE_ROUTING_TOPK, 1 },
    { "adamoe stochastic", ADAPTER_ADAMOE, 0, 4, 3, 2, 0, MOE_ROUTING_STOCHASTIC, 0 },
    { "adamoe top-p+entropy", ADAPTER_ADAMOE, 0, 4, 3, 2, 0, MOE_ROUTING_TOP_P, 0 },
    { "mixtral moe-ffn", ADAPTER_MOE_FFN, 1, 2, 3, 3, 0, MOE_ROUTING_TOPK, 0 },
};

static void build(LlamaModel *m, const Case *k) {
    ModelConfig c = k->mixtral ? tiny_mixtral_config() : tiny_config(0);
    c.n_layers = k->layers;
    AdapterConfig a = { .kind = k->kind, .targets = LORA_TARGET_ALL, .rank = 3, .alpha = 6, .dropout = k->dropout };
    if (k->kind == ADAPTER_FULL) a.targets = 0, a.rank = 0;
    if (k->kind != ADAPTER_LORA && k->kind != ADAPTER_FULL) {
        adapter_moe_defaults(&a);
        a.n_null = k->n_null, a.top_k = k->top_k, a.aux_coef = 0.05, a.routing = k->routing, a.router_frozen = k->frozen;
        if (k->routing == MOE_ROUTING_TOP_P) a.entropy_coef = 0.01;
        if (k->mixtral) a.targets = LORA_TARGET_Q | LORA_TARGET_GATE | LORA_TARGET_DOWN;
    }
    tiny_model(m, &c, &a, 5, 0.05);
}

typedef struct {
    double loss, ce, aux, load;
    real *grad;           /* copy of the trainable gradient block */
    Rng rng;              /* the dropout stream after the step */
    size_t high_water;
} StepOut;

/* one training step's forward + backward on a fixed right-padded batch */
static void step(LlamaModel *m, int recompute, StepOut *o) {
    int ids[B * T], tg[B * T], len[B] = { T, T - 3, T - 5 };
    for (int i = 0; i < B * T; i++) ids[i] = (i * 13 + 7) % m->cfg.vocab_size, tg[i] = (i * 5 + 3) % m->cfg.vocab_size;
    for (int b = 0; b < B; b++)
        for (int i = len[b]; i < T; i++) tg[b * T + i] = -100;
    Arena a;
    arena_init(&a, 1 << 12);
    Tape t;
    tape_init(&t, &a);
    Rng rng = rng_derive(77, 3);
    m->recompute = recompute;
    param_store_zero_grad(&m->ps);
    if (m->moe) moe_stats_reset(&m->moe->stats);
    LossParts lp;
    Tensor *loss = llama_loss_padded(&t, m, ids, tg, len, B, T, m->acfg.aux_coef, &rng, &lp);
    tape_backward(&t, loss);
    o->loss = (double)loss->data[0], o->ce = lp.ce, o->aux = lp.aux, o->rng = rng, o->high_water = a.high_water;
    MoeSummary s = { 0 };
    if (m->moe) moe_summary_model(&m->moe->stats, &s);
    o->load = s.load;
    o->grad = malloc(m->ps.train_numel * sizeof(real));
    memcpy(o->grad, m->ps.train_grad, m->ps.train_numel * sizeof(real));
    m->recompute = 0;
    tape_free(&t);
    arena_free(&a);
}

START_TEST(test_recompute_is_bitwise_identical)
{
    const Case *k = &CASES[_i];
    for (int nt = 1; nt <= 2; nt++) {
        threads_init(nt);
        LlamaModel m;
        build(&m, k);
        StepOut off, on;
        step(&m, 0, &off);
        step(&m, 1, &on);
        ck_assert_msg(on.loss == off.loss && on.ce == off.ce && on.aux == off.aux && on.load == off.load,
                      "%s, %d threads: loss %.17g / %.17g, aux %.17g / %.17g, load %g / %g", k->name, nt, on.loss,
                      off.loss, on.aux, off.aux, on.load, off.load);
        ck_assert_msg(!memcmp(&on.rng, &off.rng, sizeof on.rng), "%s: the dropout stream moved differently", k->name);
        size_t differ = 0, nonzero = 0, first = 0;
        for (size_t i = 0; i < m.ps.train_numel; i++) {
            if (on.grad[i] != off.grad[i] && !differ++) first = i;
            nonzero += off.grad[i] != 0;
        }
        ck_assert_msg(differ == 0, "%s, %d threads: %zu of %zu gradients differ (first at %zu: %.17g vs %.17g)", k->name,
                      nt, differ, m.ps.train_numel, first, (double)on.grad[first], (double)off.grad[first]);
        ck_assert_msg(nonzero > m.ps.train_numel / 4, "%s: only %zu gradients are non-zero", k->name, nonzero);
        if (k->kind != ADAPTER_LORA && k->kind != ADAPTER_FULL) ck_assert_msg(off.aux > 0, "%s: no aux loss", k->name);
        free(off.grad);
        free(on.grad);
        llama_free(&m);
    }
    threads_init(0);
}
END_TEST

/* 16 layers at N = 27 rows: without recompute the arena holds every layer's activations at the
   end of the forward; with it, the kept streams plus one layer. */
START_TEST(test_recompute_lowers_the_peak)
{
    Case k = CASES[4];   /* adamoe: kept router p as well */
    k.layers = 16;
    LlamaModel m;
    build(&m, &k);
    StepOut off, on;
    step(&m, 0, &off);
    step(&m, 1, &on);
    ck_assert(on.loss == off.loss);
    ck_assert_msg(on.high_water * 3 < off.high_water, "arena peak %zu bytes with recompute, %zu without",
                  on.high_water, off.high_water);
    free(off.grad);
    free(on.grad);
    llama_free(&m);
}
END_TEST

/* The arena peak of a no-grad forward of case k with `layers` layers (keep_log as given). */
static size_t no_grad_peak(Case k, int layers, int keep_log) {
    k.layers = layers;
    LlamaModel m;
    build(&m, &k);
    if (m.moe) m.moe->keep_log = keep_log;
    int ids[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = (i * 13 + 7) % m.cfg.vocab_size;
    Arena a;
    arena_init(&a, 1 << 22);   /* one block: the high-water mark is the bytes in use, no skipped block ends */
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    llama_hidden(&t, &m, ids, B, T, NULL);
    size_t hw = a.high_water;
    tape_free(&t);
    arena_free(&a);
    llama_free(&m);
    return hw;
}

/* a no-grad forward holds one layer at a time: 8 layers peak like 2 (+ the routers' kept p and
   counts); with keep_log (route) every layer stays, which the same measure sees */
START_TEST(test_no_grad_forward_holds_one_layer)
{
    const int pick[3] = { 0, 4, 8 };   /* lora, adamoe 4+4 top-3, mixtral moe-ffn */
    for (int j = 0; j < 3; j++) {
        const Case *k = &CASES[pick[j]];
        size_t two = no_grad_peak(*k, 2, 0), eight = no_grad_peak(*k, 8, 0);
        if (k->kind == ADAPTER_LORA) {
            ck_assert_msg(eight <= two + two / 10, "%s: no-grad arena peak %zu bytes with 8 layers, %zu with 2",
                          k->name, eight, two);
            continue;
        }
        /* per extra layer, the kept p [N, E] and counts must be a small part of what a layer holds */
        size_t whole = no_grad_peak(*k, 8, 1), whole2 = no_grad_peak(*k, 2, 1);
        ck_assert_msg((eight - two) * 5 < whole - whole2, "%s: no-grad arena peak %zu bytes with 8 layers, %zu with 2 "
                      "(%zu and %zu with every record kept)", k->name, eight, two, whole, whole2);
    }
}
END_TEST

/* loss, CE, aux and Load of a no-grad forward: the same bits whether the records stay whole */
START_TEST(test_no_grad_routed_forward_same_loss)
{
    const Case *k = &CASES[_i];
    if (k->kind == ADAPTER_LORA || k->kind == ADAPTER_FULL) return;
    double got[2][4];
    for (int keep = 0; keep < 2; keep++) {
        LlamaModel m;
        build(&m, k);
        m.moe->keep_log = keep;
        moe_stats_reset(&m.moe->stats);
        int ids[B * T], tg[B * T], len[B] = { T, T - 3, T - 5 };
        for (int i = 0; i < B * T; i++) ids[i] = (i * 13 + 7) % m.cfg.vocab_size, tg[i] = (i * 5 + 3) % m.cfg.vocab_size;
        Arena a;
        arena_init(&a, 1 << 12);
        Tape t;
        tape_init(&t, &a);
        tape_set_no_grad(&t, 1);
        Rng rng = rng_derive(77, 3);
        LossParts lp;
        Tensor *loss = llama_loss_padded(&t, &m, ids, tg, len, B, T, m.acfg.aux_coef, &rng, &lp);
        MoeSummary s;
        moe_summary_model(&m.moe->stats, &s);
        got[keep][0] = (double)loss->data[0], got[keep][1] = lp.ce, got[keep][2] = lp.aux, got[keep][3] = s.load;
        tape_free(&t);
        arena_free(&a);
        llama_free(&m);
    }
    ck_assert_msg(!memcmp(got[0], got[1], sizeof got[0]), "%s: loss %.17g / %.17g, aux %.17g / %.17g", k->name,
                  got[0][0], got[1][0], got[0][2], got[1][2]);
    ck_assert_msg(got[0][2] > 0 && got[0][3] > 0, "%s: no aux loss or Load", k->name);
}
END_TEST

Suite *recompute_suite(void) {
    Suite *s = suite_create("recompute");
    TCase *tc = tcase_create("recompute");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_recompute_is_bitwise_identical, 0, (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_test(tc, test_recompute_lowers_the_peak);
    tcase_add_test(tc, test_no_grad_forward_holds_one_layer);
    tcase_add_loop_test(tc, test_no_grad_routed_forward_same_loss, 0, (int)(sizeof CASES / sizeof CASES[0]));
    suite_add_tcase(s, tc);
    return s;
}
