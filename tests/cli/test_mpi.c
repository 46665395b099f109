/* tests/cli/test_mpi.c — data-parallel training end to end: `mpirun -np 2 build/train_mpi train`
   (the MPI build of ./train, which `make test` links when mpicc exists) against its twin, the
   same run in one process (train_cli in this test binary, the one-process comm). Every step's
   loss, aux loss and Load agree within 1e-6 relative for two steps (not bitwise: each weight
   gradient is a sum over the batch rows, which one process adds inside one GEMM and two ranks
   add as two partial sums, so the last bits differ; AdamW then turns those into slightly
   different updates, and the difference grows by a few times per step: 1e-5 at step 3); the
   evaluation is identical; rank 0 alone prints; a run resumes on another number of ranks; a
   global batch that the ranks do not divide is refused. Skips with a note when mpirun,
   build/train_mpi or ../shared/data is missing. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/train_fixture.h"
#include "cli/train.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MPI_BIN "build/train_mpi"
#define MODEL "../shared/data/models/stories260K.bin"
#define TOK "../shared/data/models/tok512.bin"
#define RTE "../shared/data/glue/RTE"
#define MAX_REC 16

static int have_mpi(void) {
    if (sizeof(real) != sizeof(float)) {   /* build/train_mpi is the float build: compare like with like */
        printf("note: the data-parallel test runs in the float test build (build/train_mpi is float)\n");
        return 0;
    }
    if (access(MODEL, R_OK) != 0 || access(RTE "/dev.tsv", R_OK) != 0) {
        printf("note: ../shared/data not found: skipping the data-parallel test\n");
        return 0;
    }
    if (access(MPI_BIN, X_OK) != 0 || system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("note: no mpirun or no %s: skipping the data-parallel test (install libopenmpi-dev openmpi-bin; "
               "make test then builds %s)\n", MPI_BIN, MPI_BIN);
        return 0;
    }
    return 1;
}

/* the records of OUT/metrics.jsonl: per train step loss, aux, load; the last eval's acc and n */
typedef struct { int n; double loss[MAX_REC], aux[MAX_REC], load[MAX_REC], acc, eval_n; } Records;

static int add_record(void *ctx, const JsonValue *row, int line, Error *err) {
    (void)line; (void)err;
    Records *r = ctx;
    const char *type;
    if (!json_get_string(row, "type", &type)) return 0;
    if (!strcmp(type, "eval")) {
        json_get_number(row, "acc", &r->acc);
        json_get_number(row, "n", &r->eval_n);
    } else if (!strcmp(type, "train") && r->n < MAX_REC) {
        r->load[r->n] = r->aux[r->n] = 0;
        json_get_number(row, "loss", &r->loss[r->n]);
        json_get_number(row, "aux", &r->aux[r->n]);
        json_get_number(row, "load", &r->load[r->n]);   /* null without routers: stays 0 */
        r->n++;
    }
    return 0;
}

static Records read_records(const char *out) {
    char path[700];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    Records r = { 0 };
    Error err;
    ck_assert_msg(jsonl_foreach(path, add_record, &r, &err) == STATUS_OK, "%s", err.message);
    return r;
}

/* steps 1-2 (or the first two after a common start) within 1e-6, later ones within 1e-5 */
static void expect_close(const char *what, int step, int first, double one, double two) {
    double tol = step - first < 2 ? 1e-6 : 1e-5;
    ck_assert_msg(fabs(two - one) <= tol * fabs(one), "step %d %s: one process %.9g, 2 ranks %.9g (rel %.2g > %g)",
                  step + 1, what, one, two, fabs(two - one) / fabs(one), tol);
}

/* the two runs' records; the ranks took part from step `first` on (0-based) */
static void expect_same_run(const Records *one, const Records *two, int steps, int first) {
    ck_assert_int_eq(one->n, steps);
    ck_assert_int_eq(two->n, steps);
    printf("note: 2 ranks vs one process, relative loss difference per step:");
    for (int i = 0; i < steps; i++) printf(" %.2g", fabs(two->loss[i] - one->loss[i]) / fabs(one->loss[i]));
    printf("\n");
    for (int i = 0; i < steps; i++) {
        if (i < first) ck_assert(one->loss[i] == two->loss[i]);   /* both one process, bitwise */
        expect_close("loss", i, first, one->loss[i], two->loss[i]);
        if (one->aux[i] != 0) expect_close("aux", i, first, one->aux[i], two->aux[i]);
        if (one->load[i] != 0) expect_close("load", i, first, one->load[i], two->load[i]);
    }
    ck_assert(one->eval_n > 0 && one->eval_n == two->eval_n);
    ck_assert(one->acc == two->acc);
}

/* mpirun -np 2 build/train_mpi ARGS > LOG; returns the exit status */
static int mpirun2(const char *args, const char *log) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mpirun --oversubscribe --allow-run-as-root -np 2 %s %s > '%s' 2>&1", MPI_BIN, args, log);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

/* ./train train ARGS in this process (argv split at spaces; no quoting needed here) */
static int one_process(const char *args) {
    char buf[2048], *argv[64];
    snprintf(buf, sizeof buf, "train %s", args);
    int argc = 0;
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    return train_cli(argc, argv);
}

static const char *const COMMON = "--model " MODEL " --tokenizer " TOK " --task rte --data " RTE
                                  " --train-limit 24 --batch 4 --seq 96 --eval-limit 12 --eval-batch 4 --threads 1";

/* the same run on 1 and on 2 ranks: 3 steps, then the comparison */
static void compare_runs(const char *extra) {
    char *dir = tmp_dir_new(), args[1024], log[600];
    snprintf(args, sizeof args, "%s --max-steps 3 %s --out %s/one", COMMON, extra, dir);
    ck_assert_int_eq(one_process(args), 0);
    snprintf(args, sizeof args, "%s --max-steps 3 %s --out %s/two", COMMON, extra, dir);
    snprintf(log, sizeof log, "%s/two.log", dir);
    int rc = mpirun2(args, log);
    char *text = slurp_file(log, NULL);
    ck_assert_msg(rc == 0, "mpirun exit %d:\n%s", rc, text ? text : "");
    ck_assert_msg(strstr(text, "2 ranks (mpi)"), "the run did not use 2 ranks:\n%s", text);
    char *done = strstr(text, "done: 3 steps");                  /* rank 0 alone prints */
    ck_assert_msg(done && !strstr(done + 1, "done: 3 steps"), "expected one 'done' line:\n%s", text);
    char one[600], two[600];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    Records r1 = read_records(one), r2 = read_records(two);
    expect_same_run(&r1, &r2, 3, 0);
    free(text);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(args), 0);
    free(dir);
}

START_TEST(test_mpi_lora_matches_one_process) { if (have_mpi()) compare_runs("--lr 5e-4"); }
END_TEST

START_TEST(test_mpi_adamoe_aux_matches_one_process)
{
    if (have_mpi()) compare_runs("--lr 5e-4 --adapter adamoe --experts 2 --null 2 --top-k 2 --aux-coef 0.05");
}
END_TEST

/* 2 steps in one process, then 2 more on 2 ranks from its checkpoint = 4 steps in one process
   (a constant rate: --max-steps changes nothing else); the checkpoint holds global state only */
START_TEST(test_mpi_resume_on_other_rank_count)
{
    if (!have_mpi()) return;
    char *dir = tmp_dir_new(), args[1024], log[600], out[600];
    const char *sched = "--lr 5e-4 --schedule constant --warmup 0";
    snprintf(args, sizeof args, "%s %s --max-steps 4 --out %s/one", COMMON, sched, dir);
    ck_assert_int_eq(one_process(args), 0);
    snprintf(args, sizeof args, "%s %s --max-steps 2 --out %s/two", COMMON, sched, dir);
    ck_assert_int_eq(one_process(args), 0);
    snprintf(args, sizeof args, "--resume %s/two --max-steps 4", dir);
    snprintf(log, sizeof log, "%s/two.log", dir);
    int rc = mpirun2(args, log);
    char *text = slurp_file(log, NULL);
    ck_assert_msg(rc == 0 && strstr(text, "resumed"), "mpirun exit %d:\n%s", rc, text ? text : "");
    snprintf(out, sizeof out, "%s/one", dir);
    Records r1 = read_records(out);
    snprintf(out, sizeof out, "%s/two", dir);
    Records r2 = read_records(out);
    expect_same_run(&r1, &r2, 4, 2);
    free(text);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(args), 0);
    free(dir);
}
END_TEST

START_TEST(test_mpi_batch_not_divisible)
{
    if (!have_mpi()) return;
    char *dir = tmp_dir_new(), args[1024], log[600];
    snprintf(args, sizeof args, "%s --batch 3 --max-steps 1 --out %s/run", COMMON, dir);
    snprintf(log, sizeof log, "%s/log", dir);
    ck_assert_int_ne(mpirun2(args, log), 0);
    char *text = slurp_file(log, NULL);
    ck_assert_msg(text && strstr(text, "--batch 3 is the global batch and must be a multiple of the 2 ranks"), "%s",
                  text ? text : "");
    snprintf(args, sizeof args, "%s/run", dir);
    ck_assert_msg(access(args, F_OK) != 0, "a refused run created %s", args);
    free(text);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(args), 0);
    free(dir);
}
END_TEST

Suite *cli_mpi_suite(void) {
    Suite *s = suite_create("cli_mpi");
    TCase *tc = tcase_create("mpirun");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_mpi_lora_matches_one_process);
    tcase_add_test(tc, test_mpi_adamoe_aux_matches_one_process);
    tcase_add_test(tc, test_mpi_resume_on_other_rank_count);
    tcase_add_test(tc, test_mpi_batch_not_divisible);
    suite_add_tcase(s, tc);
    return s;
}
