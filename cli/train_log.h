/* cli/train_log.h — what a training run shows and records: OUT/metrics.jsonl (one JSON object per
   step / eval, plus a final summary) and the progress line (an updating line on a terminal, a
   plain line every --log-every steps otherwise), driven by the trainer's TrainHooks.
   defines: TrainLog, train_log_hooks, train_log_close, train_log_moe_fields */
#ifndef CLI_TRAIN_LOG_H
#define CLI_TRAIN_LOG_H
#include <stdio.h>
#include "optim/trainer.h"

typedef struct {
    const char *out_dir;   /* metrics.jsonl goes here; NULL: no file */
    int quiet;             /* no progress line or eval lines */
    int log_every;         /* plain progress line every N steps when stdout is not a terminal */
    FILE *metrics;         /* open while the run lasts */
} TrainLog;

/* Hooks that write through `log`. start opens OUT/metrics.jsonl: a new run starts it empty; a
   resumed run keeps the records up to the resumed step and drops later ones (they will be
   written again, identically). */
TrainHooks train_log_hooks(TrainLog *log);
void train_log_close(TrainLog *log);
/* The router fields of a record from m->moe->stats, each with a leading comma: "load",
   "load_per_layer", "flops_saved" (full: also null/bypass fractions, router entropy, per-layer
   lists, "expert_fraction_per_layer", "true_experts_hist"). Without routers: "load": null
   (full: also "load_per_layer": [], "flops_saved": null). */
void train_log_moe_fields(FILE *f, const LlamaModel *m, int full);

#endif
