/* tests/optim/test_faults.c — faults during a run.
   Kills: a short run (6 steps, checkpoints every 2) is killed with SIGKILL at 20
   deterministic-random points out of every "event" of an uninterrupted run (each step, and the
   start, end-of-data and rename of every atomic write: state.safetensors, adapter_config.json,
   adapter_model.safetensors), then resumed (or restarted when no checkpoint was written yet);
   the final adapter file, the trainable values and every logged loss must be bitwise those of
   the uninterrupted run.
   Disk full: ENOSPC injected through the atomic writer at the second checkpoint stops the run
   with a runtime error (exit 2) naming the file; the first checkpoint is kept and loads. The
   probe before training reports an unwritable directory and too little free space. */
#include "tests/support/suites.h"
#include "tests/support/train_fixture.h"
#include "data/atomic_file.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EVENTS 64
typedef struct { long events, kill_at; char kind[MAX_EVENTS]; } Killer;   /* kind: 's' step, 'c' state, 'a' adapter */

static int count_or_kill(Killer *k, char kind) {
    if (k->events < MAX_EVENTS) k->kind[k->events] = kind;
    if (++k->events == k->kill_at) raise(SIGKILL);
    return 0;
}
static int write_event(void *ctx, const char *path, AtomicStage stage) {
    return count_or_kill(ctx, strstr(path, "state.safetensors") ? 'c' : 'a');
}
static TrainAction step_event(void *ctx, const Trainer *tr, double lr) {
    count_or_kill(ctx, 's');
    return TRAIN_CONTINUE;
}

static void fresh_dir(const char *d) {
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", d, d);
    ck_assert_int_eq(system(cmd), 0);
}

static char *adapter_bytes(const char *out, size_t *n) {
    char p[1100];
    snprintf(p, sizeof p, "%s/adapter/adapter_model.safetensors", out);
    return slurp_file(p, n);
}

/* what the uninterrupted run left */
typedef struct { real *params; size_t n; char *losses, *adapter; size_t adapter_n; } Reference;

/* one trial: a child killed at event `at`, then resumed (or restarted) here; 1 if it resumed */
static int kill_and_resume(const TinyRun *r, const char *out, long at, const Reference *ref, real *p) {
    char state[1100];
    snprintf(state, sizeof state, "%s/checkpoint/state.safetensors", out);
    TrainConfig tc;
    Error err;
    fresh_dir(out);
    tiny_run_config(&tc, out);
    pid_t pid = fork();
    if (pid == 0) {
        Killer k = { 0, at, { 0 } };
        atomic_file_set_fault_hook(write_event, &k);
        _exit(tiny_run(r, &tc, 0, step_event, &k, NULL, &err) == STATUS_OK ? 0 : 3);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "event %ld: not killed (status %d)", at, st);
    struct stat sb;
    int have = stat(state, &sb) == 0;
    ck_assert_msg(tiny_run(r, &tc, have, NULL, NULL, p, &err) == STATUS_OK, "event %ld: %s", at, err.message);
    ck_assert_msg(memcmp(p, ref->params, ref->n * sizeof(real)) == 0, "event %ld: trainable values differ", at);
    char *losses = train_loss_lines(out);
    ck_assert_msg(!strcmp(losses, ref->losses), "event %ld: logged losses differ:\n%s\nvs\n%s", at, losses, ref->losses);
    size_t an;
    char *ad = adapter_bytes(out, &an);
    ck_assert_msg(ad && an == ref->adapter_n && !memcmp(ad, ref->adapter, an), "event %ld: adapter file differs", at);
    free(losses);
    free(ad);
    return have;
}

START_TEST(test_kill_anywhere_then_resume_is_bitwise)
{
    threads_init(1);   /* no pool workers across fork */
    TinyRun r;
    tiny_run_init(&r);
    char refdir[1024], out[1024];
    snprintf(refdir, sizeof refdir, "%s/ref", r.dir);
    snprintf(out, sizeof out, "%s/run", r.dir);
    TrainConfig tc;
    Error err;
    Reference ref;
    { LlamaModel m; tiny_run_model(&m); ref.n = m.ps.train_numel; llama_free(&m); }
    ref.params = malloc(ref.n * sizeof(real));
    real *p = malloc(ref.n * sizeof(real));
    Killer count = { 0, 0, { 0 } };
    fresh_dir(refdir);
    tiny_run_config(&tc, refdir);
    atomic_file_set_fault_hook(write_event, &count);
    ck_assert_msg(tiny_run(&r, &tc, 0, step_event, &count, ref.params, &err) == STATUS_OK, "%s", err.message);
    atomic_file_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(count.events, 6 + 4 * 3 * 3);   /* 6 steps; 4 saves (2, 4, 6, end) x 3 files x 3 stages */
    ref.losses = train_loss_lines(refdir);
    ref.adapter = adapter_bytes(refdir, &ref.adapter_n);
    Rng rng = rng_derive(2024, 13);
    int resumed = 0, in_state = 0, in_adapter = 0;
    char used[MAX_EVENTS + 1] = { 0 };
    for (int trial = 0; trial < 20; trial++) {
        long at;
        do at = 1 + (long)rng_int(&rng, (uint64_t)count.events); while (used[at]);   /* 20 distinct points */
        used[at] = 1;
        in_state += count.kind[at - 1] == 'c';
        in_adapter += count.kind[at - 1] == 'a';
        resumed += kill_and_resume(&r, out, at, &ref, p);
    }
    ck_assert_int_ge(resumed, 10);   /* most kills land after the first checkpoint */
    ck_assert_int_ge(in_state, 3);   /* some during checkpoint writes, some during adapter writes */
    ck_assert_int_ge(in_adapter, 3);
    printf("faults: 20 kills (%d during state.safetensors writes, %d during adapter writes, %d resumed from a "
           "checkpoint), all bitwise equal to the uninterrupted run\n", in_state, in_adapter, resumed);
    free(ref.losses); free(ref.adapter); free(ref.params); free(p);
    tiny_run_free(&r);
}
END_TEST

/* ENOSPC on the second write of state.safetensors */
typedef struct { int state_writes; } DiskFull;
static int disk_full(void *ctx, const char *path, AtomicStage stage) {
    DiskFull *d = ctx;
    if (stage == ATOMIC_WRITTEN && strstr(path, "state.safetensors") && ++d->state_writes == 2) return ENOSPC;
    return 0;
}

START_TEST(test_disk_full_keeps_the_previous_checkpoint)
{
    threads_init(1);
    TinyRun r;
    tiny_run_init(&r);
    char out[1024];
    snprintf(out, sizeof out, "%s/run", r.dir);
    fresh_dir(out);
    TrainConfig tc;
    tiny_run_config(&tc, out);
    DiskFull d = { 0 };
    Error err;
    atomic_file_set_fault_hook(disk_full, &d);
    Status s = tiny_run(&r, &tc, 0, NULL, NULL, NULL, &err);
    atomic_file_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(s, STATUS_RUNTIME);   /* exit code 2 */
    ck_assert_msg(strstr(err.message, "state.safetensors") && strstr(err.message, strerror(ENOSPC)), "%s", err.message);
    ck_assert_msg(strstr(err.hint, "previous checkpoint is intact"), "%s", err.hint);
    /* the step-2 checkpoint is still there, whole, and nothing half-written lies beside it */
    LlamaModel m;
    tiny_run_model(&m);
    Trainer tr;
    ck_assert_int_eq(trainer_init(&tr, &m, &r.ts, &r.ts, &tc, &err), STATUS_OK);
    ck_assert_msg(trainer_load_state(&tr, out, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(tr.step, 2);
    trainer_free(&tr);
    llama_free(&m);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls '%s/checkpoint' | grep -q tmp", out);
    ck_assert_int_ne(system(cmd), 0);
    tiny_run_free(&r);
}
END_TEST

static int always_full(void *ctx, const char *path, AtomicStage stage) { return ENOSPC; }

START_TEST(test_probe_before_training)
{
    char *dir = strdup("/tmp/moetrain_probe_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    Error err;
    ck_assert_int_eq(dir_probe_write(dir, 1e3, &err), STATUS_OK);
    ck_assert_int_eq(dir_probe_write(dir, 1e18, &err), STATUS_IO);   /* an exabyte: never free */
    ck_assert_msg(strstr(err.message, dir) && strstr(err.message, "MB free"), "%s", err.message);
    atomic_file_set_fault_hook(always_full, NULL);
    ck_assert_int_eq(dir_probe_write(dir, 1e3, &err), STATUS_IO);
    atomic_file_set_fault_hook(NULL, NULL);
    ck_assert_msg(strstr(err.message, strerror(ENOSPC)), "%s", err.message);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\" && rmdir '%s'", dir, dir);   /* nothing left behind */
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

Suite *faults_suite(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_kill_anywhere_then_resume_is_bitwise);
    tcase_add_test(tc, test_disk_full_keeps_the_previous_checkpoint);
    tcase_add_test(tc, test_probe_before_training);
    suite_add_tcase(s, tc);
    return s;
}
