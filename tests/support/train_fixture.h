/* tests/support/train_fixture.h — a tiny fine-tuning run for the fault tests (resume checkpoints,
   kills, disk full, non-finite losses): the synthetic parity set on tiny_config's model with a
   rank-4 LoRA on every linear and dropout on (so the RNG state matters), metrics.jsonl through
   the CLI's hooks.
   defines: TinyRun, tiny_run_init, tiny_run_model, tiny_run_config, tiny_run, tiny_run_free,
            slurp_file, train_loss_lines */
#ifndef TRAIN_FIXTURE_H
#define TRAIN_FIXTURE_H
#include "optim/trainer.h"

typedef struct {
    char *dir;                /* temp directory, removed by tiny_run_free */
    TokenizedSet ts;          /* training (and dev) set */
} TinyRun;

void tiny_run_init(TinyRun *r);
void tiny_run_free(TinyRun *r);
/* the model of every run (same seed: same initial adapter) */
void tiny_run_model(LlamaModel *m);
/* 6 steps of batch 4, checkpoints every 2 steps, evaluation every 3, into out */
void tiny_run_config(TrainConfig *tc, const char *out);
/* Trains a fresh model with tc (resuming from tc->out_dir when resume) and `step` as the step
   hook after the metrics hook (NULL: none; ctx = step_ctx). Returns trainer_run's status;
   params (may be NULL) gets the final trainable values. */
Status tiny_run(const TinyRun *r, const TrainConfig *tc, int resume, TrainAction (*step)(void *, const Trainer *, double),
                void *step_ctx, real *params, Error *err);
/* whole file as a malloc'd string (NULL if missing); *n its size (n may be NULL) */
char *slurp_file(const char *path, size_t *n);
/* the "train" records of DIR/metrics.jsonl without their timing field, concatenated */
char *train_loss_lines(const char *dir);

#endif
