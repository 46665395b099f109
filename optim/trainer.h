/* optim/trainer.h — the fine-tuning loop: batches -> loss -> backward -> clip -> AdamW, with
   periodic evaluation, metrics.jsonl, a progress line, checkpoints and exact resume.
   defines: TrainConfig, train_config_default, Trainer, trainer_init, trainer_run, trainer_free,
            trainer_request_stop
   One optimizer step = `accum` micro-batches (effective batch = batch x accum); the step's loss
   is the mean of their losses, and their gradients are averaged. The arena is reset after
   every micro-batch: after the first step nothing is malloc'ed. Everything that decides the
   next step (trainable values, AdamW moments, step, data position, dropout RNG) is in the
   checkpoint, so resuming reproduces an uninterrupted run bit for bit. With routed adapters the
   loss is CE + coef(step)·Σ_layers aux; router statistics (model->moe->stats) are reset at the
   start of every step and of every evaluation, so each record reports its own Load. Pad
   positions are excluded from routing, statistics and the aux loss (llama_loss_padded lengths). */
#ifndef TRAINER_H
#define TRAINER_H
#include <stdio.h>
#include "optim/adamw.h"
#include "optim/evaluate.h"
#include "optim/schedule.h"
#include "nn/llama.h"
#include "data/batch.h"

typedef struct {
    int epochs;
    long max_steps;            /* 0 = epochs decide */
    int batch, accum;
    double lr, min_lr, weight_decay, beta1, beta2, eps, clip;
    LrScheduleKind schedule;
    double warmup_ratio;       /* warmup steps = ratio x total steps */
    int log_every, eval_every, save_every;   /* steps; 0 = only at the end */
    int eval_limit;            /* dev examples per evaluation (0 = all) */
    int eval_batch;
    uint64_t seed;
    int positive_choice;       /* binary tasks: class for MCC (-1 = none) */
    const char *out_dir;       /* NULL: no files (tests, the demo's inner runs) */
    const char *task;          /* for records */
    const char *eval_split;    /* the held-out split's name in eval records (NULL: "dev") */
    const char *model_name;    /* base model path, recorded in the adapter config */
    int quiet;                 /* no progress output */
    int loss_on_all;           /* targets on every token, not only the answer */
    int group_by_length;       /* batches of similar lengths */
    long stop_after;           /* stop after this step (checkpoint saved), as if interrupted; 0 = off */
    long crash_after;          /* tests: return right after this step, saving nothing (like SIGKILL) */
    AuxSchedule aux;           /* aux-loss coefficient over the run (molora / adamoe) */
    int aux_from_adapter;      /* 1 (default): constant = the adapter's aux_coef, ignore `aux` */
} TrainConfig;

void train_config_default(TrainConfig *c);

typedef struct {
    TrainConfig cfg;
    LlamaModel *model;
    const TokenizedSet *train, *dev;
    AdamW opt;
    LrSchedule sched;
    Arena arena;
    Tape tape;
    BatchIter it;
    Rng drop_rng;
    long step, total_steps;
    int epoch;
    double last_loss, last_grad_norm, tok_per_s;
    double last_ce, last_aux, last_aux_coef;   /* parts of last_loss (aux unscaled, Σ layers) */
    EvalResult last_eval, best_eval;
    long best_step;
    double seconds;            /* training time so far (excluding evals) */
    double tokens;             /* token positions processed (incl. padding) */
    FILE *metrics;
} Trainer;

Status trainer_init(Trainer *tr, LlamaModel *m, const TokenizedSet *train, const TokenizedSet *dev,
                    const TrainConfig *cfg, Error *err);
/* Runs to the end (or until trainer_request_stop); writes a checkpoint at the end if out_dir. */
Status trainer_run(Trainer *tr, Error *err);
void trainer_free(Trainer *tr);
/* async-signal-safe: the loop stops after the current step and saves a checkpoint */
void trainer_request_stop(void);
int trainer_stop_requested(void);

/* checkpoint of everything needed to resume (optim/train_state.c) */
Status trainer_save_state(const Trainer *tr, const char *dir, Error *err);
Status trainer_load_state(Trainer *tr, const char *dir, Error *err);

#endif
