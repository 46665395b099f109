/* tests/optim/test_trainer.c — the training loop: a resumed run (after a clean stop, or after a
   simulated crash between checkpoints) is bitwise identical to an uninterrupted one; losses do
   not depend on the thread count; the loss falls on the demo task. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "cli/demo_task.h"
#include "optim/trainer.h"
#include "cli/train_log.h"
#include "data/task.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *dir; Tokenizer tk; McDataset ds[2]; TokenizedSet ts[2]; } Fixture;

static void fixture_init(Fixture *f) {
    f->dir = tmp_dir_new();
    char p[256];
    Error err;
    snprintf(p, sizeof p, "%s/tokenizer.bin", f->dir);
    ck_assert_int_eq(demo_write_tokenizer(p, &err), STATUS_OK);
    ck_assert_int_eq(tokenizer_load(&f->tk, p, 259, &err), STATUS_OK);
    const char *split[2] = { "train", "dev" };
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s.jsonl", f->dir, split[i]);
        ck_assert_int_eq(demo_write_split(p, i ? 40 : 200, 4, (uint64_t)i + 1, &err), STATUS_OK);
        ck_assert_int_eq(task_load("mc_jsonl", f->dir, split[i], &f->ds[i], &err), STATUS_OK);
        PromptConfig pc;
        prompt_config_default(&pc);
        pc.style = PROMPT_PLAIN;
        pc.instruction = DEMO_INSTRUCTION;
        ck_assert_int_eq(dataset_tokenize(&f->ds[i], &f->tk, &pc, &f->ts[i], &err), STATUS_OK);
    }
}

static void fixture_free(Fixture *f) {
    for (int i = 0; i < 2; i++) { tokenized_set_free(&f->ts[i]); mc_dataset_free(&f->ds[i]); }
    tokenizer_free(&f->tk);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
    free(f->dir);
}

static void model_for(LlamaModel *m) {
    ModelConfig c = tiny_config(0);
    c.vocab_size = 259;
    c.max_seq_len = 64;
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8.0, .dropout = 0.1 };   /* dropout on: RNG state matters */
    tiny_model(m, &c, &a, 5, 0);
}

/* The fault injector: metrics.jsonl through the CLI's hooks, and at step stop_after a clean stop
   (checkpoint saved, as on Ctrl-C) or at step crash_after an abandoned run (nothing saved, like
   SIGKILL between checkpoints). */
typedef struct { TrainLog log; long stop_after, crash_after; } Injector;   /* log first: ctx of both */

static TrainAction inject_step(void *ctx, const Trainer *tr, double lr) {
    Injector *in = ctx;
    train_log_hooks(&in->log).step(&in->log, tr, lr);
    if (in->crash_after && tr->step == in->crash_after) return TRAIN_ABANDON;
    if (in->stop_after && tr->step == in->stop_after) return TRAIN_STOP;
    return TRAIN_CONTINUE;
}

/* Runs a trainer (fresh model each time) and returns its final loss; params copied to out. */
static double run(Fixture *f, const char *out, long stop_after, long crash_after, int resume, real *params) {
    LlamaModel m;
    model_for(&m);
    TrainConfig tc;
    train_config_default(&tc);
    tc.max_steps = 8;
    tc.batch = 8;
    tc.lr = 5e-3;
    tc.save_every = 3;
    tc.eval_every = 4;
    tc.out_dir = out;
    Injector in = { .log = { .out_dir = out, .quiet = 1 }, .stop_after = stop_after, .crash_after = crash_after };
    TrainHooks hooks = train_log_hooks(&in.log);
    hooks.step = inject_step;
    Trainer tr;
    Error err;
    ck_assert_int_eq(trainer_init(&tr, &m, &f->ts[0], &f->ts[1], &tc, &err), STATUS_OK);
    if (resume) ck_assert_msg(trainer_load_state(&tr, out, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(trainer_run(&tr, &hooks, &err) == STATUS_OK, "%s", err.message);
    train_log_close(&in.log);
    double loss = tr.last_loss;
    if (params) memcpy(params, m.ps.train, m.ps.train_numel * sizeof(real));
    trainer_free(&tr);
    llama_free(&m);
    return loss;
}

static char *slurp_train_losses(const char *dir) {
    char p[300], line[1024];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char *acc = calloc(1, 1 << 16);
    while (fgets(line, sizeof line, f))
        if (strstr(line, "\"type\":\"train\"")) {
            char *tok = strstr(line, "\"tok_per_s\"");   /* timing differs between runs */
            if (tok) *tok = 0;
            strcat(acc, line);
        }
    fclose(f);
    return acc;
}

START_TEST(test_resume_is_bitwise_identical)
{
    threads_init(2);
    Fixture f;
    fixture_init(&f);
    char a[300], b[300], c[300];
    snprintf(a, sizeof a, "%s/a", f.dir);
    snprintf(b, sizeof b, "%s/b", f.dir);
    snprintf(c, sizeof c, "%s/c", f.dir);
    for (int i = 0; i < 3; i++) { char *d = i == 0 ? a : i == 1 ? b : c; char cmd[400]; snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d); ck_assert_int_eq(system(cmd), 0); }
    size_t n;
    { LlamaModel m; model_for(&m); n = m.ps.train_numel; llama_free(&m); }
    real *pa = malloc(n * sizeof(real)), *pb = malloc(n * sizeof(real)), *pc = malloc(n * sizeof(real));
    double la = run(&f, a, 0, 0, 0, pa);
    run(&f, b, 4, 0, 0, NULL);                    /* clean stop at step 4 (checkpoint written) */
    double lb = run(&f, b, 0, 0, 1, pb);
    run(&f, c, 0, 5, 0, NULL);                    /* "killed" after step 5: last checkpoint at 3 */
    double lc = run(&f, c, 0, 0, 1, pc);
    ck_assert_msg(la == lb && la == lc, "final losses differ: %.17g %.17g %.17g", la, lb, lc);
    ck_assert_msg(memcmp(pa, pb, n * sizeof(real)) == 0, "parameters differ after a clean resume");
    ck_assert_msg(memcmp(pa, pc, n * sizeof(real)) == 0, "parameters differ after a crash resume");
    char *ma = slurp_train_losses(a), *mb = slurp_train_losses(b), *mc = slurp_train_losses(c);
    ck_assert_str_eq(ma, mb);                     /* every step's loss, no duplicate records */
    ck_assert_str_eq(ma, mc);
    free(ma); free(mb); free(mc); free(pa); free(pb); free(pc);
    fixture_free(&f);
}
END_TEST

START_TEST(test_threads_do_not_change_losses)
{
    Fixture f;
    fixture_init(&f);
    threads_init(1);
    double l1 = run(&f, NULL, 0, 0, 0, NULL);
    threads_init(2);
    double l2 = run(&f, NULL, 0, 0, 0, NULL);
    threads_init(3);
    double l3 = run(&f, NULL, 0, 0, 0, NULL);
    ck_assert_msg(l1 == l2 && l1 == l3, "losses differ with threads: %.17g %.17g %.17g", l1, l2, l3);
    threads_init(0);
    fixture_free(&f);
}
END_TEST

/* A diverging run stops with STATUS_RUNTIME, naming the step (and the first bad op). */
START_TEST(test_non_finite_loss_is_reported)
{
    Fixture f;
    fixture_init(&f);
    LlamaModel m;
    model_for(&m);
    TrainConfig tc;
    train_config_default(&tc);
    tc.max_steps = 20;
    tc.batch = 8;
    tc.lr = REAL_IS_DOUBLE ? 1e300 : 1e30;   /* the first update sends the adapter near the type's limit */
    tc.clip = 0;
    tc.warmup_ratio = 0;
    tc.schedule = LR_CONSTANT;
    Trainer tr;
    Error err;
    ck_assert_int_eq(trainer_init(&tr, &m, &f.ts[0], &f.ts[1], &tc, &err), STATUS_OK);
    ck_assert_int_eq(trainer_run(&tr, NULL, &err), STATUS_RUNTIME);
    ck_assert_msg(strstr(err.message, "non-finite") && strstr(err.message, "step"), "%s", err.message);
    ck_assert_int_lt(tr.step, 20);
    trainer_free(&tr);
    llama_free(&m);
    fixture_free(&f);
}
END_TEST

Suite *trainer_suite(void) {
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("loop");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_resume_is_bitwise_identical);
    tcase_add_test(tc, test_threads_do_not_change_losses);
    tcase_add_test(tc, test_non_finite_loss_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
