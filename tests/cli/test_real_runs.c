/* tests/cli/test_real_runs.c — the train / eval commands end to end on the real data in
   ../shared/data (stories260K + tok512, GLUE RTE, CommonsenseQA, ARC, OpenBookQA, SIQA); each
   test prints a note and passes when the data is absent (a user's clone has no ../shared).
   Also the CLI's error exits on bad input, which need no data. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "data/json.h"
#include "cli/eval.h"
#include "cli/train.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SHARED "../shared/data"
#define MODEL "../shared/data/models/stories260K.bin"
#define TOK "../shared/data/models/tok512.bin"
#define RTE_DEV "../shared/data/glue/RTE/dev.tsv"

static int have_data(void) {
    if (access(MODEL, R_OK) == 0 && access(RTE_DEV, R_OK) == 0) return 1;
    printf("note: %s not found: skipping the real-data CLI test\n", SHARED);
    return 0;
}

static int count_records(void *ctx, const JsonValue *row, int line, Error *err) {
    (void)line; (void)err;
    const char *type;
    if (json_get_string(row, "type", &type)) ((int *)ctx)[!strcmp(type, "train") ? 0 : !strcmp(type, "eval") ? 1 : 2]++;
    return 0;
}

static void train_and_check(const char *task, const char *data) {
    char *dir = tmp_dir_new(), out[200], path[300];
    snprintf(out, sizeof out, "%s/run", dir);
    char *argv[] = { "train", "--model", MODEL, "--tokenizer", TOK, "--task", (char *)task, "--data", (char *)data,
                     "--out", out, "--max-steps", "4", "--batch", "4", "--eval-limit", "12", "--lr", "3e-3",
                     "--seq", "192" };
    ck_assert_int_eq(train_cli((int)(sizeof argv / sizeof argv[0]), argv), 0);
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    int counts[3] = { 0 };
    Error err;
    ck_assert_int_eq(jsonl_foreach(path, count_records, counts, &err), STATUS_OK);
    ck_assert_int_eq(counts[0], 4);                 /* one train record per step */
    ck_assert_int_ge(counts[1], 1);                 /* the final eval */
    ck_assert_int_eq(counts[2], 1);                 /* the summary */
    const char *files[] = { "report.svg", "config.json", "adapter/adapter_config.json", "checkpoint/state.safetensors" };
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
    }
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    free(dir);
}

START_TEST(test_train_rte) { if (have_data()) train_and_check("rte", "../shared/data/glue/RTE"); }
END_TEST

START_TEST(test_train_commonsense_qa) { if (have_data()) train_and_check("commonsense_qa", "../shared/data/commonsense/commonsense_qa"); }
END_TEST

START_TEST(test_eval_choice_loglik)
{
    if (!have_data()) return;
    const char *tasks[4][2] = { { "arc_easy", "ARC-Easy" }, { "arc_challenge", "ARC-Challenge" },
                                { "openbookqa", "openbookqa" }, { "siqa", "social_iqa" } };
    for (int i = 0; i < 4; i++) {
        char data[200];
        snprintf(data, sizeof data, "../shared/data/commonsense/%s", tasks[i][1]);
        char *argv[] = { "eval", "--model", MODEL, "--tokenizer", TOK, "--task", (char *)tasks[i][0], "--data", data,
                         "--score", "choice-loglik", "--eval-limit", "8" };
        ck_assert_int_eq(eval_cli((int)(sizeof argv / sizeof argv[0]), argv), 0);
    }
}
END_TEST

START_TEST(test_cli_errors_exit_1)
{
    char *no_model[] = { "train", "--task", "rte", "--data", "x" };
    ck_assert_int_eq(train_cli(5, no_model), 1);
    char *bad_task[] = { "train", "--model", "m.bin", "--task", "nope", "--data", "x" };
    ck_assert_int_eq(train_cli(7, bad_task), 1);
    char *missing[] = { "train", "--model", "/nonexistent/m.bin", "--task", "rte", "--data", "x" };
    ck_assert_int_eq(train_cli(7, missing), 1);
    char *bad_num[] = { "train", "--model", "m.bin", "--task", "rte", "--data", "x", "--lr", "fast" };
    ck_assert_int_eq(train_cli(9, bad_num), 1);
    char *bad_score[] = { "eval", "--model", "m.bin", "--task", "rte", "--data", "x", "--score", "vibes" };
    ck_assert_int_eq(eval_cli(9, bad_score), 1);
}
END_TEST

Suite *cli_real_suite(void) {
    Suite *s = suite_create("cli_real");
    TCase *tc = tcase_create("shared_data");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_train_rte);
    tcase_add_test(tc, test_train_commonsense_qa);
    tcase_add_test(tc, test_eval_choice_loglik);
    tcase_add_test(tc, test_cli_errors_exit_1);
    suite_add_tcase(s, tc);
    return s;
}
