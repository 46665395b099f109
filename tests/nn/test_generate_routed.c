/* tests/nn/test_generate_routed.c — the decode step's routed row kernels (nn/generate_routed.c)
   against the full forward (the tape ops of nn/moe.c and nn/moe_ffn.c), on tiny random models:
   Mo-LoRA top-2 and dense (LoRAMoE), AdaMoE 4 + 4 with zero nulls (top-3), identity nulls with
   all-selected weights, top-p with a shared expert and constant nulls, pre-gating; a Mixtral
   model with and without a moe-ffn adapter (gate2 nulls, router LoRA), an upcycled dense model.
   - routing: decoding a sequence position by position with count_routes counts, for every
     (layer, module), exactly the (row, expert) assignments, true-expert counts, bypasses and
     histograms the full forward over the same sequence counts: the same decisions token by
     token (a decoder with another rule, k, or weight of nulls would differ). The sequence is
     the model's own greedy continuation, and AdaMoE variants must actually pick null experts.
   - greedy generation gives the naive twin's ids (a full forward per step), and the cached
     logits match the full forward's at every position to 1e-5 relative in float, 1e-12 in
     double (relative to the position's largest logit). */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/generate.h"
#include "nn/moe.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 13, N_VARIANTS = 9 };
static const int PROMPT[3] = { 1, 17, 3 };   /* 3 + 13 = the whole context of 16 */

static const char *const NAMES[N_VARIANTS] = {
    "molora top-2", "adamoe 4+4 top-3", "adamoe identity nulls all-selected", "adamoe top-p + shared + constant",
    "molora dense", "adamoe pre-gated", "mixtral", "mixtral + moe-ffn m2k3 + router lora", "upcycled m4k3",
};

static AdapterConfig variant_adapter(int v) {
    AdapterConfig a = { .kind = v == 0 || v == 4 ? ADAPTER_MOLORA : ADAPTER_ADAMOE };
    if (v >= 6) a.kind = v == 6 ? ADAPTER_NONE : ADAPTER_MOE_FFN;
    if (a.kind == ADAPTER_NONE) return a;
    adapter_moe_defaults(&a);
    a.rank = 2;
    a.alpha = 4;
    a.targets = LORA_TARGET_ALL;
    a.top_k = a.kind == ADAPTER_MOLORA ? 2 : 3;
    if (v == 2) { a.null_kind = MOE_NULL_IDENTITY; a.normalize = MOE_NORM_ALL_SELECTED; }
    if (v == 3) { a.routing = MOE_ROUTING_TOP_P; a.top_p = 0.5; a.n_shared = 1; a.null_kind = MOE_NULL_CONSTANT; }
    if (v == 4) a.routing = MOE_ROUTING_DENSE;
    if (v == 5) a.pregate = 1;
    if (v == 7) {
        a.n_null = 2;
        a.targets = LORA_TARGET_GATE | LORA_TARGET_UP | LORA_TARGET_DOWN | LORA_TARGET_ROUTER;   /* experts only:
                                                 the decode buffers must fit their rank */
    }
    if (v == 8) { a.upcycle = a.n_true = 4; a.targets = LORA_TARGET_Q | LORA_TARGET_GATE | LORA_TARGET_DOWN; }
    if (v >= 7) a.gate2_init = MOE_GATE2_RANDOM;
    return a;
}

/* the variant's tiny model; every lora_B / shared_B / null_const ~ N(0, 0.3²), so experts matter */
static void build(LlamaModel *m, int v) {
    ModelConfig c = v == 6 || v == 7 ? tiny_mixtral_config() : tiny_config(0);
    AdapterConfig a = variant_adapter(v);
    tiny_model(m, &c, &a, 41 + 3 * (uint64_t)v, 0);
    Rng r = rng_derive(13 + (uint64_t)v, 77);
    for (int i = 0; i < m->ps.n; i++) {
        Tensor *t = m->ps.params[i];
        if (strstr(t->name, "lora_B") || strstr(t->name, "shared_B") || strstr(t->name, "null_const"))
            rng_fill_normal(&r, t->data, t->numel, 0, 0.3);
    }
    ck_assert_ptr_nonnull(m->moe);
}

/* PROMPT followed by the model's greedy continuation (the naive twin) */
static void greedy_sequence(const LlamaModel *m, int *seq) {
    memcpy(seq, PROMPT, sizeof PROMPT);
    greedy_by_full_forward(m, PROMPT, 3, STEPS, seq + 3);
}

/* the statistics of every (layer, module) slot after decoding seq [T] with count_routes, or
   after one full forward over it; out holds n_layers·MOE_MODULES slots */
static void routed_counts(LlamaModel *m, const int *seq, int T, int decode, MoeModuleStats *out) {
    MoeState *st = m->moe;
    moe_stats_reset(&st->stats);
    if (decode) {
        DecodeState s;
        decode_state_init(&s, m, T);
        s.count_routes = 1;
        for (int p = 0; p < T; p++) decode_step(&s, seq[p], p, p == T - 1);
        decode_state_free(&s);
    } else {
        free(tiny_logits(m, seq, 1, T));
    }
    memcpy(out, st->stats.mod, (size_t)m->cfg.n_layers * MOE_MODULES * sizeof *out);
    moe_stats_reset(&st->stats);
}

START_TEST(test_decode_routes_as_full_forward)
{
    LlamaModel m;
    build(&m, _i);
    int seq[16], n_slots = m.cfg.n_layers * MOE_MODULES, routed = 0;
    greedy_sequence(&m, seq);
    MoeModuleStats *dec = calloc((size_t)n_slots, sizeof *dec), *full = calloc((size_t)n_slots, sizeof *full);
    routed_counts(&m, seq, 16, 1, dec);
    routed_counts(&m, seq, 16, 0, full);
    double nulls = 0, tol = sizeof(real) == 4 ? 1e-4 : 1e-10;
    for (int i = 0; i < n_slots; i++) {
        const MoeModuleStats *d = &dec[i], *f = &full[i];
        ck_assert_msg(d->tokens == f->tokens && d->true_sum == f->true_sum && d->bypass == f->bypass,
                      "%s slot %d: decode tokens %g / true %g / bypass %g, full forward %g / %g / %g", NAMES[_i], i,
                      d->tokens, d->true_sum, d->bypass, f->tokens, f->true_sum, f->bypass);
        for (int e = 0; e < MOE_MAX_EXPERTS; e++)
            ck_assert_msg(d->counts[e] == f->counts[e], "%s slot %d expert %d: decode %g, full forward %g", NAMES[_i], i, e,
                          d->counts[e], f->counts[e]);
        for (int j = 0; j <= MOE_MAX_EXPERTS; j++) ck_assert(d->true_hist[j] == f->true_hist[j]);
        ck_assert_msg(fabs(d->entropy_sum - f->entropy_sum) <= tol * fmax(1, f->entropy_sum), "%s slot %d entropy %.9g vs %.9g",
                      NAMES[_i], i, d->entropy_sum, f->entropy_sum);
        routed += f->tokens > 0;
        for (int e = m.moe->stats.n_true; e < MOE_MAX_EXPERTS; e++) nulls += f->counts[e];
    }
    ck_assert_msg(routed >= 2, "%s: %d routed slots", NAMES[_i], routed);
    if (m.moe->stats.n_null > 0 && _i != 4) ck_assert_msg(nulls > 0, "%s: no null expert chosen", NAMES[_i]);
    free(dec);
    free(full);
    llama_free(&m);
}
END_TEST

/* max over positions of max_j |cached - full| / max_j |full| */
static double decode_vs_full_rel(const LlamaModel *m, const int *ids, int T) {
    int V = m->cfg.vocab_size;
    real *full = tiny_logits(m, ids, 1, T);
    DecodeState s;
    decode_state_init(&s, m, T);
    double worst = 0;
    for (int p = 0; p < T; p++) {
        const real *lg = decode_step(&s, ids[p], p, 1), *fr = full + (size_t)p * V;
        double d = 0, scale = 0;
        for (int j = 0; j < V; j++) {
            d = fmax(d, fabs((double)lg[j] - (double)fr[j]));
            scale = fmax(scale, fabs((double)fr[j]));
        }
        worst = fmax(worst, d / scale);
    }
    decode_state_free(&s);
    free(full);
    return worst;
}

START_TEST(test_decode_matches_full_recompute)
{
    LlamaModel m;
    build(&m, _i);
    int seq[16], got[STEPS], n = -1, distinct = 0;
    greedy_sequence(&m, seq);
    GenerateConfig gc = generate_config_default();
    gc.steps = STEPS;
    Error err;
    ck_assert_msg(llama_generate(&m, PROMPT, 3, &gc, NULL, NULL, got, &n, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(n, STEPS);
    for (int i = 0; i < STEPS; i++) {
        ck_assert_msg(got[i] == seq[3 + i], "%s step %d: cached %d, full forward %d", NAMES[_i], i, got[i], seq[3 + i]);
        distinct += i == 0 || got[i] != got[i - 1];
    }
    ck_assert_msg(distinct > 2, "%s: degenerate sequence, the test would prove little", NAMES[_i]);
    double rel = decode_vs_full_rel(&m, seq, 16), tol = sizeof(real) == 4 ? 1e-5 : 1e-12;
    ck_assert_msg(rel <= tol, "%s: cached logits differ from the full forward's by %g relative (> %g)", NAMES[_i], rel, tol);
    llama_free(&m);
}
END_TEST

Suite *generate_routed_suite(void) {
    Suite *s = suite_create("generate_routed");
    TCase *tc = tcase_create("rows");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_decode_routes_as_full_forward, 0, N_VARIANTS);
    tcase_add_loop_test(tc, test_decode_matches_full_recompute, 0, N_VARIANTS);
    suite_add_tcase(s, tc);
    return s;
}
