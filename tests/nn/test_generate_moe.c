/* tests/nn/test_generate_moe.c — generation with the KV cache on routed models (nn/generate.h):
   Mixtral MoE FFN blocks (no adapter, moe-ffn adapters with gate2 null experts and expert
   LoRA, plain LoRA), dense models upcycled by a moe-ffn adapter, and Mo-LoRA / AdaMoE adapters
   on the linears (top-k, top-p with shared experts and constant nulls, stochastic).
   - the naive twin (model_fixtures.h): greedy ids from the full no-grad forward on the whole
     prefix at every step, and the cached logits at every position against one full forward's
     rows. Routing is per token, so the one-row decode routes exactly as the full sequence does;
     a decoder that skipped (or mis-routed) the MoE FFN or the experts would differ by far more
     than rounding (the LoRA B and null routers are random, so both matter; the null fraction
     is checked to be > 0).
   - generation leaves the router statistics and log alone, even after a padded forward.
   - expert-choice routing (non-causal) is refused with a Status.
   - `./train generate` on tiny Mixtral / upcycled HF directories (+ adapter directories). */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/helpers.h"
#include "data/json.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/generate.h"
#include "cli/generate.h"
#include "cli/make_tiny.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 13 };
static const int PROMPT[3] = { 1, 17, 3 };   /* 3 + 13 = the whole context of 16 */

/* every lora_B / shared_B / null_const tensor ~ N(0, std²): experts that visibly matter */
static void fill_adapter(LlamaModel *m, uint64_t seed, double std) {
    Rng r = rng_derive(seed, 77);
    for (int i = 0; i < m->ps.n; i++) {
        Tensor *t = m->ps.params[i];
        if (strstr(t->name, "lora_B") || strstr(t->name, "shared_B") || strstr(t->name, "null_const"))
            rng_fill_normal(&r, t->data, t->numel, 0, std);
    }
}

/* a tiny Mixtral (4 experts, top-2) with adapter kind (NULL: none) */
static void mixtral_spec(MakeTinySpec *s, const char *adapter, int n_null, int top_k) {
    make_tiny_defaults(s);
    s->format = "hf"; s->arch = "mixtral"; s->model_experts = 4; s->model_top_k = 2;
    s->dim = 16; s->layers = 2; s->heads = 4; s->kv_heads = 2; s->hidden = 24; s->vocab = 32; s->seq_len = 16;
    s->seed = 11;
    if (!adapter) return;
    static char null_s[16], top_k_s[16];   /* the spec's list options are strings ("3" or "2,4") */
    snprintf(null_s, sizeof null_s, "%d", n_null);
    snprintf(top_k_s, sizeof top_k_s, "%d", top_k);
    s->ad.adapter = adapter; s->ad.null_s = null_s; s->ad.top_k_s = top_k_s; s->ad.gate2_init = "random";
    s->ad.targets = "q,gate,up,down"; s->ad.rank_s = "2"; s->ad.alpha = 4;
    s->adapter_out = "unused";   /* builds the adapter */
}

static void build_mixtral(LlamaModel *m, int variant) {
    MakeTinySpec s;
    if (variant == 0) mixtral_spec(&s, NULL, 0, 0);
    if (variant == 1) mixtral_spec(&s, "moe-ffn", 3, 3);
    if (variant == 2) {
        mixtral_spec(&s, "moe-ffn", 2, 3);
        s.ad.normalize = "all_selected"; s.ad.null_kind = "identity";
    }
    if (variant == 3) {
        mixtral_spec(&s, "lora", 0, 0);
        s.ad.targets = "q,gate,down";
    }
    Error err;
    ck_assert_msg(make_tiny_build(m, &s, &err) == STATUS_OK, "%s", err.message);
    fill_adapter(m, 5 + variant, 0.3);
    ck_assert_ptr_nonnull(m->layers[1].ffn);
}

/* the dense tiny model with a routed adapter: upcycled (moe-ffn) or Mo-LoRA / AdaMoE linears */
static AdapterConfig routed_cfg(int variant) {
    AdapterConfig a = { 0 };
    a.kind = variant == 0 ? ADAPTER_MOE_FFN : variant == 3 ? ADAPTER_MOLORA : ADAPTER_ADAMOE;
    adapter_moe_defaults(&a);
    a.rank = 2;
    a.alpha = 4;
    a.targets = LORA_TARGET_ALL;
    if (variant == 0) {
        a.upcycle = a.n_true = 4; a.n_null = 4; a.top_k = 3; a.gate2_init = MOE_GATE2_RANDOM;
        a.targets = LORA_TARGET_Q | LORA_TARGET_V | LORA_TARGET_GATE | LORA_TARGET_UP | LORA_TARGET_DOWN;
    } else if (variant == 1) {
        a.null_kind = MOE_NULL_IDENTITY;
    } else if (variant == 2) {
        a.routing = MOE_ROUTING_TOP_P; a.top_p = 0.5; a.n_shared = 1; a.null_kind = MOE_NULL_CONSTANT;
    } else if (variant == 3) {
        a.routing = MOE_ROUTING_STOCHASTIC;
    } else {
        a.pregate = 1;   /* layer 1's routers read layer 0's inputs: the decode step must keep them */
    }
    return a;
}

static void build_dense_routed(LlamaModel *m, int variant) {
    ModelConfig c = tiny_config(0);
    AdapterConfig a = routed_cfg(variant);
    tiny_model(m, &c, &a, 31 + variant, 0);
    fill_adapter(m, 9 + variant, 0.3);
    ck_assert_ptr_nonnull(m->moe);
}

/* greedy generation vs the naive twin, cached logits vs the full forward at every position */
static void check_against_full(const LlamaModel *m, const char *what) {
    int want[STEPS], got[STEPS], n = -1, distinct = 0, seq[16];
    greedy_by_full_forward(m, PROMPT, 3, STEPS, want);
    GenerateConfig gc = generate_config_default();
    gc.steps = STEPS;
    Error err;
    ck_assert_msg(llama_generate(m, PROMPT, 3, &gc, NULL, NULL, got, &n, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(n, STEPS);
    for (int i = 0; i < STEPS; i++) {
        ck_assert_msg(got[i] == want[i], "%s step %d: cached %d, full forward %d", what, i, got[i], want[i]);
        distinct += i == 0 || want[i] != want[i - 1];
    }
    ck_assert_msg(distinct > 2, "%s: degenerate sequence, the test would prove little", what);
    memcpy(seq, PROMPT, sizeof PROMPT);
    memcpy(seq + 3, want, sizeof want);
    double d = decode_vs_full(m, seq, 16);
    ck_assert_msg(d < (sizeof(real) == 4 ? 2e-5 : 1e-9), "%s: cached logits differ from the full forward's by %g", what, d);
}

/* the full forward's null fraction over seq (statistics from a reset) */
static double null_fraction(const LlamaModel *m) {
    int seq[8] = { 1, 17, 3, 9, 30, 2, 11, 5 };
    moe_stats_reset(&m->moe->stats);
    free(tiny_logits(m, seq, 1, 8));
    MoeSummary ms;
    moe_summary_model(&m->moe->stats, &ms);
    ck_assert(ms.tokens > 0);
    return ms.null_fraction;
}

START_TEST(test_mixtral_matches_full_forward)
{
    static const char *const names[4] = { "mixtral", "mixtral + moe-ffn m3k3", "mixtral + moe-ffn allsel identity",
                                          "mixtral + lora" };
    LlamaModel m;
    build_mixtral(&m, _i);
    if (_i == 1 || _i == 2) ck_assert_msg(null_fraction(&m) > 0.05, "%s: nulls never selected", names[_i]);
    check_against_full(&m, names[_i]);
    llama_free(&m);
}
END_TEST

START_TEST(test_routed_adapters_match_full_forward)
{
    static const char *const names[5] = { "upcycled m4k3", "adamoe identity nulls", "adamoe top-p + shared + constant",
                                          "molora stochastic", "adamoe pre-gated" };
    LlamaModel m;
    build_dense_routed(&m, _i);
    if (_i == 0) ck_assert_ptr_nonnull(m.layers[0].ffn);
    if (_i == 0 || _i == 1) ck_assert_msg(null_fraction(&m) > 0.05, "%s: nulls never selected", names[_i]);
    check_against_full(&m, names[_i]);
    llama_free(&m);
}
END_TEST

/* decoding keeps router statistics off, restores stats_on, and leaves an empty router log; a
   padded forward before it (row mask of 2·7 rows) does not trip the one-row decode */
START_TEST(test_generate_leaves_router_state)
{
    LlamaModel m;
    build_mixtral(&m, 1);
    MoeState *st = m.moe;
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    const int ids[14] = { 1, 5, 9, 14, 3, 22, 7, 1, 30, 2, 2, 19, 8, 11 }, lengths[2] = { 7, 4 };
    llama_hidden_padded(&t, &m, ids, lengths, 2, 7, NULL);
    ck_assert_ptr_nonnull(st->row_mask);
    MoeSummary before, after;
    moe_summary_model(&st->stats, &before);
    ck_assert(before.tokens > 0);
    for (int on = 1; on >= 0; on--) {
        st->stats_on = on;
        int out[STEPS], n = 0;
        GenerateConfig gc = generate_config_default();
        gc.steps = STEPS;
        Error err;
        ck_assert_int_eq(llama_generate(&m, PROMPT, 3, &gc, NULL, NULL, out, &n, &err), STATUS_OK);
        ck_assert_int_eq(st->stats_on, on);
        moe_summary_model(&st->stats, &after);
        ck_assert_msg(after.tokens == before.tokens, "generation counted %g routed tokens",
                      after.tokens - before.tokens);
        for (int i = 0; i < m.cfg.n_layers * MOE_MODULES; i++) ck_assert_ptr_null(st->log[i].p);
        ck_assert_ptr_null(st->row_mask);
    }
    tape_free(&t);
    arena_free(&a);
    llama_free(&m);
}
END_TEST

START_TEST(test_expert_choice_refused)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig a = routed_cfg(1);
    a.routing = MOE_ROUTING_EXPERT_CHOICE;
    a.targets = LORA_TARGET_V;
    LlamaModel m;
    tiny_model(&m, &c, &a, 3, 0.1);
    int out[4], n = -1;
    GenerateConfig gc = generate_config_default();
    gc.steps = 4;
    Error err;
    ck_assert_int_eq(llama_generate(&m, PROMPT, 3, &gc, NULL, NULL, out, &n, &err), STATUS_INVALID);
    ck_assert_int_eq(n, 0);
    ck_assert_msg(strstr(err.message, "expert-choice") && strstr(err.message, "non-causal"), "%s", err.message);
    llama_free(&m);
}
END_TEST

/* the generated ids of one `generate --json` run */
static int cli_ids(char **argv, int *ids) {
    char *out;
    ck_assert_int_eq(run_cli_captured(generate_cli, argv, &out), 0);
    JsonDoc doc;
    Error err;
    ck_assert_msg(json_parse(&doc, out, strlen(out), "generate --json", &err) == STATUS_OK, "%s: %s", err.message, out);
    const JsonValue *g = json_get(doc.root, "ids");
    ck_assert(g && g->type == JSON_ARRAY);
    for (size_t i = 0; i < g->count; i++) ids[i] = (int)g->items[i].number;
    int n = (int)g->count;
    json_doc_free(&doc);
    free(out);
    return n;
}

/* writes a model (+ adapter) from spec, then `generate` on it against the naive twin of the
   reloaded model; also the streaming mode exits 0 and prints the ids */
static void cli_case(MakeTinySpec *s, int with_adapter) {
    char *dir = tmp_dir_new(), mp[128], ap[128], cmd[160];
    snprintf(mp, sizeof mp, "%s/model", dir);
    snprintf(ap, sizeof ap, "%s/adapter", dir);
    s->out = mp;
    s->adapter_out = with_adapter ? ap : NULL;
    Error err;
    ck_assert_msg(make_tiny_write(s, &err) == STATUS_OK, "%s", err.message);
    LlamaModel m;
    ck_assert_msg(model_load_with_adapter(&m, mp, with_adapter ? ap : NULL, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_ptr_nonnull(m.layers[0].ffn);
    int want[STEPS], got[16];
    greedy_by_full_forward(&m, PROMPT, 3, STEPS, want);
    char *argv[12] = { "generate", "--model", mp, "--prompt-ids", "1,17,3", "--steps", "13" };
    int argc = 7;
    if (with_adapter) {
        argv[argc++] = "--adapter-dir";
        argv[argc++] = ap;
    }
    argv[argc] = "--json";
    ck_assert_int_eq(cli_ids(argv, got), STEPS);
    for (int i = 0; i < STEPS; i++) ck_assert_msg(got[i] == want[i], "step %d: generate %d, full forward %d", i, got[i], want[i]);
    argv[argc] = NULL;   /* streaming without a tokenizer: "id id ...\n" */
    char *out, expect[128];
    ck_assert_int_eq(run_cli_captured(generate_cli, argv, &out), 0);
    int len = 0;
    for (int i = 0; i < STEPS; i++) len += snprintf(expect + len, sizeof expect - (size_t)len, i ? " %d" : "%d", want[i]);
    snprintf(expect + len, sizeof expect - (size_t)len, "\n");
    ck_assert_str_eq(out, expect);
    free(out);
    llama_free(&m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

START_TEST(test_cli_mixtral_and_upcycled)
{
    MakeTinySpec s;
    mixtral_spec(&s, NULL, 0, 0);
    cli_case(&s, 0);                                   /* (a) Mixtral, the checkpoint's top-2 */
    mixtral_spec(&s, "moe-ffn", 3, 3);
    s.nonzero_b = 1;
    cli_case(&s, 1);                                   /* (b) Mixtral + moe-ffn adapter */
    mixtral_spec(&s, "moe-ffn", 2, 3);
    s.arch = "llama"; s.ad.upcycle = 4; s.ad.targets = "q,v,gate,up,down"; s.nonzero_b = 1;
    cli_case(&s, 1);                                   /* (c) upcycled dense model + its adapter */
}
END_TEST

Suite *generate_moe_suite(void) {
    Suite *s = suite_create("generate_moe");
    TCase *tc = tcase_create("routed");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_mixtral_matches_full_forward, 0, 4);
    tcase_add_loop_test(tc, test_routed_adapters_match_full_forward, 0, 5);
    tcase_add_test(tc, test_generate_leaves_router_state);
    tcase_add_test(tc, test_expert_choice_refused);
    tcase_add_test(tc, test_cli_mixtral_and_upcycled);
    suite_add_tcase(s, tc);
    return s;
}
