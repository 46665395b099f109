/* optim/trainer.h — the fine-tuning loop: batches -> loss -> backward -> clip -> AdamW, with
   periodic evaluation, checkpoints and exact resume. It prints nothing: what happens is reported
   through TrainHooks (cli/train_log.c turns it into metrics.jsonl and the progress line; tests use
   the step hook to stop or abandon a run at a chosen step).
   defines: TrainConfig, train_config_default, Trainer, TrainAction, TrainHooks, trainer_init,
            trainer_run, trainer_free, trainer_request_stop, trainer_stop_requested, train_now,
            trainer_save_state, trainer_load_state, train_state_load_params
   One optimizer step = `accum` micro-batches (effective batch = batch x accum); the step's loss
   is the mean of their losses, and their gradients are averaged. The arena is reset after
   every micro-batch: after the first step nothing is malloc'ed. Everything that decides the
   next step (trainable values, AdamW moments, step, data position, dropout RNG) is in the
   checkpoint, so resuming reproduces an uninterrupted run bit for bit. With routed adapters the
   loss is CE + coef(step)·Σ_layers aux; router statistics (model->moe->stats) are reset at the
   start of every step and of every evaluation, so each record reports its own Load. Pad
   positions are excluded from routing, statistics and the aux loss (llama_loss_padded lengths).
   Data parallel (R ranks of tensor/comm.h, e.g. mpirun -np R with make MPI=1; trainer.c says
   how): `batch` is the GLOBAL batch (batch/R rows per rank; trainer_init refuses a batch that
   R does not divide, and LoRA dropout, stochastic and expert-choice routing, which need the
   whole batch). Global on every rank, whatever R: the losses (last_loss, last_ce, last_aux),
   the aux loss itself (formed from the router counts summed over the ranks), the gradient and
   its norm, the update, the router statistics after each step and each evaluation (summed over
   the ranks), the evaluation (sharded by whole batches, summed), tokens and tok_per_s. Per
   rank: last_comm_seconds, the arena, the tape. Saving is the caller's choice: give ranks > 0
   no out_dir (cli/train.c), so rank 0 alone writes. The checkpoint holds global state only
   (the data position counts global rows), so a run may resume on a different R. */
#ifndef TRAINER_H
#define TRAINER_H
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
    int eval_every, save_every;   /* steps; 0 = only at the end */
    int eval_limit;            /* dev examples per evaluation (0 = all) */
    int eval_batch;
    uint64_t seed;
    int positive_choice;       /* binary tasks: class for MCC (-1 = none) */
    const char *out_dir;       /* checkpoints and the adapter go here; NULL: nothing is saved */
    const char *task;          /* for records */
    const char *eval_split;    /* the held-out split's name in eval records (NULL: "dev") */
    const char *model_name;    /* base model path, recorded in the adapter config */
    int loss_on_all;           /* targets on every token, not only the answer */
    int group_by_length;       /* batches of similar lengths */
    AuxSchedule aux;           /* aux-loss coefficient over the run (molora / adamoe) */
    int aux_from_adapter;      /* 1 (default): constant = the adapter's aux_coef, ignore `aux` */
    int skip_nonfinite;        /* steps with a non-finite loss / gradient to skip before stopping (0) */
    TopKSchedule topk;         /* routers' top-k per training step (SMoE-Dropout); evaluations use
                                  the adapter's own top_k. TOPK_NONE (default): always the adapter's */
} TrainConfig;

void train_config_default(TrainConfig *c);

typedef struct Trainer {
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
    double last_comm_seconds;  /* the last step's gradient sum over the ranks (0 for one process) */
    double tokens;             /* token positions processed (incl. padding) */
    int skipped;               /* steps skipped for a non-finite loss / gradient (in the checkpoint) */
    int last_top_k;            /* the scheduled top-k of the last step (0: no schedule) */
} Trainer;

/* What the step hook asks of the loop: go on; stop as if interrupted (no final evaluation, the
   checkpoint is saved, `finished` is not called); or abandon the run at once, saving nothing, as
   a crash would (tests of resume use it). */
typedef enum { TRAIN_CONTINUE, TRAIN_STOP, TRAIN_ABANDON } TrainAction;

/* The loop's reports to its caller, in order: start (once, after a resume the step is > 0),
   step (after every optimizer step; lr is the rate it used), eval (after every evaluation),
   steps_done (the last step of this run is behind), finished (the run completed: not after a
   stop). Every member may be NULL; ctx is passed back. */
typedef struct {
    void *ctx;
    Status (*start)(void *ctx, const Trainer *tr, Error *err);
    TrainAction (*step)(void *ctx, const Trainer *tr, double lr);
    void (*eval)(void *ctx, const Trainer *tr);
    void (*steps_done)(void *ctx, const Trainer *tr);
    void (*finished)(void *ctx, const Trainer *tr);
} TrainHooks;

Status trainer_init(Trainer *tr, LlamaModel *m, const TokenizedSet *train, const TokenizedSet *dev,
                    const TrainConfig *cfg, Error *err);
/* Runs to the end (or until trainer_request_stop / a TRAIN_STOP from the step hook); writes a
   checkpoint at the end if out_dir. hooks may be NULL (a silent run). */
Status trainer_run(Trainer *tr, const TrainHooks *hooks, Error *err);
void trainer_free(Trainer *tr);
/* async-signal-safe: the loop stops after the current step and saves a checkpoint */
void trainer_request_stop(void);
int trainer_stop_requested(void);
/* monotonic seconds */
double train_now(void);

/* checkpoint of everything needed to resume (optim/train_state.c) */
Status trainer_save_state(const Trainer *tr, const char *dir, Error *err);
Status trainer_load_state(Trainer *tr, const char *dir, Error *err);
/* Only the trained values of PATH (a checkpoint/state.safetensors) into m's trainable block, after
   checking it was written for m's shape, adapter kind and trainable layout (`export --adapter full`). */
Status train_state_load_params(LlamaModel *m, const char *path, Error *err);

#endif
