/* tests/optim/test_nonfinite.c — a non-finite loss stops the run naming the step, the module and
   the first op; --skip-nonfinite N skips up to N such steps (no update, counted in every later
   metrics record and in the checkpoint) and metrics.jsonl stays valid JSON (null, never NaN).
   The fault: a step hook writes a NaN into one LoRA A of layer 1 after step 2 (and optionally
   puts the value back after step 3), as a diverging batch would. */
#include "tests/support/suites.h"
#include "tests/support/train_fixture.h"
#include "data/json.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct { long poison_after, heal_after; real saved; } Poison;

static real *target(const Trainer *tr) {
    const ParamStore *ps = &tr->model->ps;
    for (int i = 0; i < ps->n; i++)
        if (strstr(ps->params[i]->name, "layers.1.self_attn.v_proj.lora_A")) return &ps->params[i]->data[3];
    ck_abort_msg("no layer-1 v_proj LoRA A");
    return NULL;
}

static TrainAction poison_step(void *ctx, const Trainer *tr, double lr) {
    Poison *p = ctx;
    if (tr->step == p->poison_after) { p->saved = *target(tr); *target(tr) = NAN; }
    if (tr->step == p->heal_after) *target(tr) = p->saved;
    return TRAIN_CONTINUE;
}

START_TEST(test_nonfinite_loss_names_step_module_op)
{
    threads_init(1);
    TinyRun r;
    tiny_run_init(&r);
    TrainConfig tc;
    tiny_run_config(&tc, NULL);
    Poison p = { .poison_after = 2, .heal_after = 0 };
    Error err;
    ck_assert_int_eq(tiny_run(&r, &tc, 0, poison_step, &p, NULL, &err), STATUS_RUNTIME);
    ck_assert_msg(strstr(err.message, "non-finite loss at step 3") && strstr(err.message, "layers.1.self_attn.v_proj") &&
                  strstr(err.message, "op '"), "%s", err.message);
    ck_assert_msg(strstr(err.hint, "--skip-nonfinite"), "%s", err.hint);
    /* one skip allowed, but the NaN stays: step 3 is skipped, step 4 stops the run */
    tc.skip_nonfinite = 1;
    ck_assert_int_eq(tiny_run(&r, &tc, 0, poison_step, &p, NULL, &err), STATUS_RUNTIME);
    ck_assert_msg(strstr(err.message, "non-finite loss at step 4"), "%s", err.message);
    tiny_run_free(&r);
}
END_TEST

/* every line parses; the step-3 record has loss null; records from step 3 on count 1 skip */
static void check_metrics(const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *text = slurp_file(path, NULL), *save = NULL;
    ck_assert_ptr_nonnull(text);
    int train = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        JsonDoc doc;
        Error err;
        ck_assert_msg(json_parse(&doc, line, strlen(line), path, &err) == STATUS_OK, "%s: %s", err.message, line);
        const char *type = NULL;
        double step = 0, skipped = 0, loss = 0;
        json_get_string(doc.root, "type", &type);
        json_get_number(doc.root, "step", &step);
        int has_skip = json_get_number(doc.root, "skipped_nonfinite", &skipped);
        if (!strcmp(type, "train")) {
            train++;
            const JsonValue *l = json_get(doc.root, "loss");
            ck_assert_ptr_nonnull(l);
            if (step == 3) ck_assert_int_eq(l->type, JSON_NULL);
            else ck_assert_msg(json_get_number(doc.root, "loss", &loss) && isfinite(loss), "%s", line);
            ck_assert_int_eq(has_skip, step >= 3);
            if (has_skip) ck_assert_int_eq((int)skipped, 1);
        }
        json_doc_free(&doc);
    }
    ck_assert_int_eq(train, 6);
    free(text);
}

START_TEST(test_skip_nonfinite_continues_and_counts)
{
    threads_init(1);
    TinyRun r;
    tiny_run_init(&r);
    char out[1024];
    snprintf(out, sizeof out, "%s/run", r.dir);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    TrainConfig tc;
    tiny_run_config(&tc, out);
    tc.skip_nonfinite = 2;
    Poison p = { .poison_after = 2, .heal_after = 3 };
    Error err;
    size_t n;
    { LlamaModel m; tiny_run_model(&m); n = m.ps.train_numel; llama_free(&m); }
    real *params = malloc(n * sizeof(real));
    ck_assert_msg(tiny_run(&r, &tc, 0, poison_step, &p, params, &err) == STATUS_OK, "%s", err.message);
    for (size_t i = 0; i < n; i++) ck_assert_msg(isfinite(params[i]), "parameter %zu is not finite", i);
    check_metrics(out);
    free(params);
    tiny_run_free(&r);
}
END_TEST

Suite *nonfinite_suite(void) {
    Suite *s = suite_create("nonfinite");
    TCase *tc = tcase_create("nan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_nonfinite_loss_names_step_module_op);
    tcase_add_test(tc, test_skip_nonfinite_continues_and_counts);
    suite_add_tcase(s, tc);
    return s;
}
