/* tests/optim/test_field_train.c — the training-time methods of the field around AdaMoE, against
   hand-computed values:
     - --top-k-schedule: linear:1:4 gives k = 1 + floor(4·progress) (clamped to 4), decreasing and
       per-epoch forms likewise, bad specs are errors;
     - SMoE-Dropout in the trainer (molora 4 experts, frozen random router, k 1 -> 4 over 8 steps):
       step s (1-based) trains with k = 1 + floor(4(s-1)/8) = 1,1,2,2,3,3,4,4 and, every expert being
       a true one, its Load is exactly that k; the evaluation uses the adapter's top-k (4); the
       routers end bit-identical to their random init while the experts moved;
     - --freeze-experts (AdaMoE, weight decay on): the experts end bit-identical, the routers moved. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "optim/trainer.h"
#include "cli/train_log.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_topk_schedule_values)
{
    TopKSchedule s;
    Error err;
    ck_assert_int_eq(topk_schedule_parse("linear:1:4", &s, &err), STATUS_OK);
    const double prog[] = { 0, 0.24, 0.25, 0.5, 0.74, 0.75, 0.99, 1.0 };
    const int want[] = { 1, 1, 2, 3, 3, 4, 4, 4 };
    for (int i = 0; i < 8; i++) ck_assert_int_eq(topk_schedule_at(&s, prog[i], 0), want[i]);
    ck_assert_int_eq(topk_schedule_final(&s), 4);
    ck_assert_int_eq(topk_schedule_parse("linear:4:2", &s, &err), STATUS_OK);   /* thirds: 4, 3, 2 */
    ck_assert_int_eq(topk_schedule_at(&s, 0.3, 0), 4);
    ck_assert_int_eq(topk_schedule_at(&s, 0.34, 0), 3);
    ck_assert_int_eq(topk_schedule_at(&s, 0.9, 0), 2);
    ck_assert_int_eq(topk_schedule_parse("epoch:1,2,4", &s, &err), STATUS_OK);
    const int ep[] = { 1, 2, 4, 4, 4 };
    for (int e = 0; e < 5; e++) ck_assert_int_eq(topk_schedule_at(&s, 0.5, e), ep[e]);
    ck_assert_int_eq(topk_schedule_final(&s), 4);
    ck_assert_int_eq(topk_schedule_parse("none", &s, &err), STATUS_OK);
    ck_assert_int_eq(topk_schedule_at(&s, 0.5, 0), 0);
    const char *bad[] = { "linear:0:3", "linear:1", "linear:1:2x", "epoch:", "epoch:1,,2", "epoch:1,", "cosine:1:2",
                          "linear:1:99" };
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(topk_schedule_parse(bad[i], &s, &err) == STATUS_INVALID, "'%s' was accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.message, "--top-k-schedule"));
    }
}
END_TEST

typedef struct { int steps, evals; char fail[200]; } Rec;

/* train records: top_k = 1 + floor(4(step-1)/8) and load == top_k; eval records: load == 4 */
static int check_row(void *ctx, const JsonValue *row, int line, Error *err) {
    (void)err;
    Rec *c = ctx;
    const char *type;
    double step, k, load;
    if (!json_get_string(row, "type", &type) || !json_get_number(row, "step", &step)) return 0;
    int is_train = !strcmp(type, "train");
    if (strcmp(type, "eval") && !is_train) return 0;
    if (!json_get_number(row, "load", &load)) snprintf(c->fail, sizeof c->fail, "line %d: no load", line);
    int want = is_train ? 1 + (int)floor(4.0 * (step - 1) / 8.0) : 4;
    if (is_train && (!json_get_number(row, "top_k", &k) || (int)k != want))
        snprintf(c->fail, sizeof c->fail, "line %d: top_k %g, want %d", line, k, want);
    if (fabs(load - want) > 1e-9) snprintf(c->fail, sizeof c->fail, "line %d (%s): load %g, want %d", line, type, load, want);
    c->steps += is_train;
    c->evals += !is_train;
    return 0;
}

/* the values of every trainable tensor whose name contains `part` */
static real *snapshot(const LlamaModel *m, const char *part, size_t *n) {
    real *buf = malloc(m->ps.train_numel * sizeof *buf);
    *n = 0;
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (t->grad && strstr(t->name, part)) { memcpy(buf + *n, t->data, t->numel * sizeof(real)); *n += t->numel; }
    }
    return buf;
}

static void train(LlamaModel *m, const TrainConfig *tc0, const char *dir, int expect_rows) {
    TokenizedSet ts;
    synthetic_parity_set(&ts, 7);
    TrainConfig tc = *tc0;
    tc.out_dir = dir;
    Trainer tr;
    Error err;
    ck_assert_int_eq(trainer_init(&tr, m, &ts, &ts, &tc, &err), STATUS_OK);
    TrainLog log = { .out_dir = dir, .quiet = 1 };
    TrainHooks hooks = train_log_hooks(&log);
    Status s = trainer_run(&tr, &hooks, &err);
    train_log_close(&log);
    trainer_free(&tr);
    ck_assert_msg(s == STATUS_OK, "%s", err.message);
    if (expect_rows) {
        char path[256];
        Rec r = { 0, 0, "" };
        snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
        ck_assert_int_eq(jsonl_foreach(path, check_row, &r, &err), STATUS_OK);
        ck_assert_msg(!r.fail[0], "%s", r.fail);
        ck_assert_int_eq(r.steps, 8);
        ck_assert_int_ge(r.evals, 1);
    }
    tokenized_set_free(&ts);
}

static void tc_default(TrainConfig *tc) {
    train_config_default(tc);
    tc->batch = 3;
    tc->max_steps = 8;
    tc->lr = 1e-2;
    tc->task = "synthetic";
}

START_TEST(test_smoe_dropout_training)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig acfg = { .kind = ADAPTER_MOLORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 4; acfg.top_k = 4; acfg.router_frozen = 1; acfg.aux = MOE_AUX_NONE;
    LlamaModel m;
    tiny_model(&m, &c, &acfg, 3, 0);
    size_t nr, ne;
    real *routers = snapshot(&m, ".router.", &nr), *experts = snapshot(&m, ".lora_B.", &ne);
    TrainConfig tc;
    tc_default(&tc);
    ck_assert_int_eq(topk_schedule_parse("linear:1:4", &tc.topk, &(Error){ 0 }), STATUS_OK);
    char *dir = tmp_dir_new();
    train(&m, &tc, dir, 1);
    size_t nr2, ne2;
    real *routers2 = snapshot(&m, ".router.", &nr2), *experts2 = snapshot(&m, ".lora_B.", &ne2);
    ck_assert(nr > 0 && nr == nr2 && ne == ne2);
    ck_assert_msg(!memcmp(routers, routers2, nr * sizeof(real)), "a frozen router changed");
    ck_assert_msg(memcmp(experts, experts2, ne * sizeof(real)), "the experts did not train");
    ck_assert_int_eq(m.moe->k_now, 0);   /* the schedule is per step only */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir); free(routers); free(routers2); free(experts); free(experts2);
    llama_free(&m);
}
END_TEST

START_TEST(test_freeze_experts_training)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 3; acfg.n_null = 2; acfg.top_k = 2; acfg.freeze_experts = 1;
    LlamaModel m;
    tiny_model(&m, &c, &acfg, 4, 0.1);   /* B != 0: the routers get a task gradient */
    size_t nr, ne, nr2, ne2;
    real *routers = snapshot(&m, ".router.", &nr), *experts = snapshot(&m, ".lora_", &ne);
    TrainConfig tc;
    tc_default(&tc);
    tc.weight_decay = 0.1;   /* must not reach frozen experts either */
    char *dir = tmp_dir_new();
    train(&m, &tc, dir, 0);
    real *routers2 = snapshot(&m, ".router.", &nr2), *experts2 = snapshot(&m, ".lora_", &ne2);
    ck_assert_msg(!memcmp(experts, experts2, ne * sizeof(real)), "a frozen expert changed");
    ck_assert_msg(memcmp(routers, routers2, nr * sizeof(real)), "the routers did not train");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir); free(routers); free(routers2); free(experts); free(experts2);
    llama_free(&m);
}
END_TEST

Suite *field_train_suite(void) {
    Suite *s = suite_create("field_train");
    TCase *tc = tcase_create("field");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_topk_schedule_values);
    tcase_add_test(tc, test_smoe_dropout_training);
    tcase_add_test(tc, test_freeze_experts_training);
    suite_add_tcase(s, tc);
    return s;
}
