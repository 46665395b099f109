/* cli/train_log.h — what the trainer writes while it runs: OUT/metrics.jsonl (one JSON object
   per step / eval, plus a final summary) and the progress line (an updating line on a terminal,
   a plain line every --log-every steps otherwise).
   defines: train_now, train_log_open, train_log_step, train_log_eval, train_log_summary,
            train_log_progress_end, train_log_close, train_log_moe_fields */
#ifndef TRAIN_LOG_H
#define TRAIN_LOG_H
#include "optim/trainer.h"

double train_now(void);                      /* monotonic seconds */
/* Opens OUT/metrics.jsonl: new runs start it empty; a resumed run keeps the records up to the
   resumed step and drops later ones (they will be written again, identically). */
Status train_log_open(Trainer *tr, Error *err);
void train_log_step(Trainer *tr, double lr);
void train_log_eval(Trainer *tr);
void train_log_summary(Trainer *tr);
void train_log_progress_end(Trainer *tr);
void train_log_close(Trainer *tr);
/* The router fields of a record from m->moe->stats, each with a leading comma: "load",
   "load_per_layer", "flops_saved" (full: also null/bypass fractions, router entropy, per-layer
   lists, "expert_fraction_per_layer", "true_experts_hist"). Without routers: "load": null
   (full: also "load_per_layer": [], "flops_saved": null). */
void train_log_moe_fields(FILE *f, const LlamaModel *m, int full);

#endif
