/* tests/optim/test_trainer_moe.c — the trainer with an AdaMoE adapter on a synthetic, padded
   multiple-choice set: every train record carries loss = ce + aux_coef·aux, the scheduled
   coefficient (linear over the run; per epoch, switching exactly at the epoch boundary), Load and Load per layer; every eval record carries load, load_per_layer,
   flops_saved = 1 - load/k_baseline, expert_fraction_per_layer (each layer's fractions sum to 1),
   null and bypass fractions. */
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



typedef struct { int train, eval, n_layers, n_exp; long total; int per_epoch; char fail[256]; } MetricsCheck;

static int record_fail(MetricsCheck *c, int line, const char *what) {
    if (!c->fail[0]) snprintf(c->fail, sizeof c->fail, "metrics line %d: %s", line, what);
    return 0;
}

static int check_train(MetricsCheck *c, const JsonValue *row, int line) {
    double loss, ce, aux, coef, load, step;
    if (!json_get_number(row, "loss", &loss) || !json_get_number(row, "ce", &ce) || !json_get_number(row, "aux", &aux) ||
        !json_get_number(row, "aux_coef", &coef) || !json_get_number(row, "load", &load) || !json_get_number(row, "step", &step))
        return record_fail(c, line, "train record lacks loss/ce/aux/aux_coef/load");
    double epoch, want_coef = 0.5 + (0.1 - 0.5) * (step - 1) / (double)c->total;
    if (c->per_epoch && json_get_number(row, "epoch", &epoch)) want_coef = epoch == 0 ? 0.3 : 0.05;
    if (fabs(coef - want_coef) > 1e-9) return record_fail(c, line, "aux_coef does not follow the schedule");
    if (fabs(loss - (ce + coef * aux)) > 1e-4 * (1 + fabs(loss))) return record_fail(c, line, "loss != ce + aux_coef * aux");
    if (!(aux > 0) || !(load >= 0 && load <= 3)) return record_fail(c, line, "aux or load out of range");
    const JsonValue *lp = json_get(row, "load_per_layer");
    if (!lp || lp->type != JSON_ARRAY || (int)lp->count != c->n_layers) return record_fail(c, line, "load_per_layer");
    c->train++;
    return 0;
}

static int check_eval(MetricsCheck *c, const JsonValue *row, int line) {
    double load, flops, nullf, bypass;
    if (!json_get_number(row, "load", &load) || !json_get_number(row, "flops_saved", &flops) ||
        !json_get_number(row, "null_fraction", &nullf) || !json_get_number(row, "bypass_fraction", &bypass))
        return record_fail(c, line, "eval record lacks load/flops_saved/null_fraction/bypass_fraction");
    if (fabs(flops - (1 - load / 2)) > 1e-5) return record_fail(c, line, "flops_saved != 1 - load/2");
    if (!(nullf > 0 && nullf < 1 && bypass >= 0 && bypass <= 1)) return record_fail(c, line, "fractions out of range");
    const JsonValue *lp = json_get(row, "load_per_layer"), *ef = json_get(row, "expert_fraction_per_layer");
    if (!lp || (int)lp->count != c->n_layers || !ef || (int)ef->count != c->n_layers) return record_fail(c, line, "per-layer lists");
    for (size_t l = 0; l < ef->count; l++) {
        const JsonValue *fl = &ef->items[l];
        double sum = 0, null_sum = 0;
        if (fl->type != JSON_ARRAY || (int)fl->count != c->n_exp) return record_fail(c, line, "expert_fraction_per_layer row");
        for (size_t i = 0; i < fl->count; i++) {
            sum += fl->items[i].number;
            if ((int)i >= 4) null_sum += fl->items[i].number;
        }
        if (fabs(sum - 1) > 1e-4) return record_fail(c, line, "expert fractions of a layer do not sum to 1");
        /* Load_l = k·(1 − null share) */
        if (fabs(lp->items[l].number - 3 * (1 - null_sum)) > 1e-4) return record_fail(c, line, "load_per_layer != k(1 - null share)");
    }
    /* every routed module of a layer sees the same tokens: the layer's Load is their mean */
    const JsonValue *pm = json_get(row, "load_per_module");
    if (!pm || pm->type != JSON_OBJECT || pm->count != 7) return record_fail(c, line, "load_per_module (7 modules)");
    for (int l = 0; l < c->n_layers; l++) {
        double sum = 0;
        for (size_t j = 0; j < pm->count; j++) {
            const JsonValue *ml = &pm->items[j];
            if (ml->type != JSON_ARRAY || (int)ml->count != c->n_layers) return record_fail(c, line, "load_per_module list");
            sum += ml->items[l].number;
        }
        if (fabs(sum / 7 - lp->items[l].number) > 1e-4) return record_fail(c, line, "layer Load != mean of its modules' Load");
    }
    c->eval++;
    return 0;
}

static int check_row(void *ctx, const JsonValue *row, int line, Error *err) {
    (void)err;
    const char *type;
    if (!json_get_string(row, "type", &type)) return record_fail(ctx, line, "no type");
    if (!strcmp(type, "train")) return check_train(ctx, row, line);
    if (!strcmp(type, "eval")) return check_eval(ctx, row, line);
    return 0;
}

START_TEST(test_trainer_logs_load_and_aux)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 4; acfg.n_null = 3; acfg.top_k = 3;
    LlamaModel m;
    tiny_model(&m, &c, &acfg, 21, 0);
    TokenizedSet ts;
    synthetic_parity_set(&ts, 5);
    char *dir = tmp_dir_new();
    TrainConfig tc;
    train_config_default(&tc);
    tc.batch = 5;
    tc.epochs = 2;
    tc.eval_every = 4;
    tc.lr = 5e-3;
    tc.out_dir = dir;
    tc.task = "synthetic";
    tc.aux_from_adapter = 0;
    tc.aux = (AuxSchedule){ .kind = AUX_LINEAR, .start = 0.5, .end = 0.1 };
    if (_i == 1) tc.aux = (AuxSchedule){ .kind = AUX_EPOCH, .values = { 0.3, 0.05 }, .n_values = 2 };
    Trainer tr;
    Error err;
    ck_assert_int_eq(trainer_init(&tr, &m, &ts, &ts, &tc, &err), STATUS_OK);
    TrainLog log = { .out_dir = dir, .quiet = 1 };
    TrainHooks hooks = train_log_hooks(&log);
    Status s = trainer_run(&tr, &hooks, &err);
    train_log_close(&log);
    ck_assert_msg(s == STATUS_OK, "%s", err.message);
    MetricsCheck chk = { 0, 0, c.n_layers, 7, tr.total_steps, _i == 1, "" };
    trainer_free(&tr);
    char path[256];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    ck_assert_int_eq(jsonl_foreach(path, check_row, &chk, &err), STATUS_OK);
    ck_assert_msg(!chk.fail[0], "%s", chk.fail);
    ck_assert_int_eq(chk.train, (int)chk.total);
    ck_assert_int_ge(chk.eval, 2);
    /* the last eval's statistics count real tokens only: Σ lengths × 7 modules per layer */
    MoeSummary ms;
    moe_summary_layer(&m.moe->stats, 0, &ms);
    double tokens = 0;
    for (int i = 0; i < ts.n; i++) tokens += (double)(ts.offset[i + 1] - ts.offset[i] - 1);
    ck_assert_msg(fabs(ms.tokens - tokens * MOE_MODULES) < 0.5, "eval routed %g rows, want %g", ms.tokens, tokens * MOE_MODULES);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
    tokenized_set_free(&ts);
    llama_free(&m);
}
END_TEST

Suite *moe_trainer_suite(void) {
    Suite *s = suite_create("moe_trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_trainer_logs_load_and_aux, 0, 2);   /* linear, per-epoch schedule */
    suite_add_tcase(s, tc);
    return s;
}
