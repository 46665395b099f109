/* cli/train_options.h — every option of `./train train`, as one struct and one flag table
   (cli/flags.h), so the CLI, --config files and OUT/config.json agree. The adapter options are
   the ones every command shares (cli/adapter_options.h: train, eval, forward-backward, make-tiny).
   defines: TrainOptions, train_options_default, train_options_flags, train_options_write_json,
            TRAIN_OPTIONS_MAX_FLAGS */
#ifndef TRAIN_OPTIONS_H
#define TRAIN_OPTIONS_H
#include "cli/flags.h"
#include "cli/adapter_options.h"

#define TRAIN_OPTIONS_MAX_FLAGS 80

typedef struct {
    const char *model, *tokenizer, *task, *data, *train_file, *dev_file, *split, *out;
    const char *schedule, *resume, *init_adapter, *adapter_dir, *config, *score;
    const char *base_dtype, *expert_dtype, *loss_on, *max_memory, *recompute;
    AdapterOptions ad;        /* --adapter, --experts, --routing, --aux-schedule, --rank, ... */
    int epochs, max_steps, train_limit, eval_limit, batch, accum, seq, seed, threads;
    int log_every, eval_every, save_every, eval_batch, group_by_length, skip_nonfinite;
    double lr, min_lr, warmup, weight_decay, clip;
    const char *topk_schedule, *eval_top_k, *experts_from;   /* cli/train_field.h */
    char field_text[2][32];   /* resolved --experts / --top-k strings (train_field_resolve) */
} TrainOptions;

void train_options_default(TrainOptions *o);
/* Fills flags[] (at most TRAIN_OPTIONS_MAX_FLAGS) pointing into *o; returns the count. */
int train_options_flags(TrainOptions *o, Flag *flags);
/* The resolved options as a JSON object with the flag names as keys (OUT/config.json). */
void train_options_write_json(FILE *f, const Flag *flags, int n);

#endif
