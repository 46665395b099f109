/* tests/support/train_fixture.c — see train_fixture.h. */
#include "tests/support/train_fixture.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "cli/train_log.h"
#include "tensor/check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tiny_run_init(TinyRun *r) {
    r->dir = tmp_dir_new();
    synthetic_parity_set(&r->ts, 3);
}

void tiny_run_free(TinyRun *r) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    free(r->dir);
    tokenized_set_free(&r->ts);
}

void tiny_run_model(LlamaModel *m) {
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8.0, .dropout = 0.1 };
    tiny_model(m, &c, &a, 7, 0);
}

void tiny_run_config(TrainConfig *tc, const char *out) {
    train_config_default(tc);
    tc->max_steps = 6;
    tc->batch = 4;
    tc->lr = 5e-3;
    tc->save_every = 2;
    tc->eval_every = 3;
    tc->eval_batch = 8;
    tc->out_dir = out;
}

typedef struct { TrainLog log; TrainAction (*step)(void *, const Trainer *, double); void *ctx; } Chain;

static TrainAction chain_step(void *ctx, const Trainer *tr, double lr) {
    Chain *c = ctx;
    train_log_hooks(&c->log).step(&c->log, tr, lr);
    return c->step ? c->step(c->ctx, tr, lr) : TRAIN_CONTINUE;
}

Status tiny_run(const TinyRun *r, const TrainConfig *tc, int resume, TrainAction (*step)(void *, const Trainer *, double),
                void *step_ctx, real *params, Error *err) {
    LlamaModel m;
    tiny_run_model(&m);
    Chain c = { .log = { .out_dir = tc->out_dir, .quiet = 1 }, .step = step, .ctx = step_ctx };
    TrainHooks hooks = train_log_hooks(&c.log);
    hooks.ctx = &c;                 /* log is Chain's first member: the log hooks see their TrainLog */
    hooks.step = chain_step;
    Trainer tr;
    Status s = trainer_init(&tr, &m, &r->ts, &r->ts, tc, err);
    if (!s && resume) s = trainer_load_state(&tr, tc->out_dir, err);
    if (!s) s = trainer_run(&tr, &hooks, err);
    train_log_close(&c.log);
    if (params) memcpy(params, m.ps.train, m.ps.train_numel * sizeof(real));
    trainer_free(&tr);
    llama_free(&m);
    return s;
}

char *slurp_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xmalloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    buf[got] = 0;
    fclose(f);
    if (n) *n = got;
    return buf;
}

char *train_loss_lines(const char *dir) {
    char p[1024], line[4096];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    FILE *f = fopen(p, "r");
    char *acc = xmalloc(1 << 16);
    acc[0] = 0;
    size_t used = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "\"type\":\"train\"")) {
            char *tok = strstr(line, "\"tok_per_s\"");   /* timing differs between runs */
            if (tok) *tok = 0;
            size_t l = strlen(line);
            CHECK(used + l + 1 < (1 << 16), "train_loss_lines: too many records");
            memcpy(acc + used, line, l + 1);
            used += l;
        }
    if (f) fclose(f);
    return acc;
}
