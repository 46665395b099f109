/* optim/train_options.h — every option of `./train train` / `./train eval`, as one struct and
   one flag table (data/flags.h), so the CLI, --config files and OUT/config.json agree.
   defines: TrainOptions, train_options_default, train_options_flags, train_options_write_json, train_options_lists,
            TRAIN_OPTIONS_MAX_FLAGS */
#ifndef TRAIN_OPTIONS_H
#define TRAIN_OPTIONS_H
#include "../data/flags.h"
#include "../nn/model_config.h"

#define TRAIN_OPTIONS_MAX_FLAGS 64

typedef struct {
    const char *model, *tokenizer, *task, *data, *train_file, *dev_file, *split, *out;
    const char *adapter, *targets, *schedule, *resume, *init_adapter, *adapter_dir, *config, *score;
    const char *base_dtype, *loss_on;
    const char *normalize, *null_kind, *aux, *aux_schedule, *aux_coefs;   /* molora / adamoe */
    int experts, n_null, top_k;
    const char *routing;                 /* topk | top-p | dense | stochastic | expert-choice */
    double top_p, entropy_coef;
    int shared_experts;
    const char *experts_s, *null_s, *top_k_s, *rank_s;   /* the flags: one value or one per layer */
    double aux_coef, aux_coef_end, k_baseline;
    int rank, epochs, max_steps, train_limit, eval_limit, batch, accum, seq, seed, threads;
    int log_every, eval_every, save_every, rslora, eval_batch, group_by_length;
    double alpha, dropout, lr, min_lr, warmup, weight_decay, clip;
    const char *gate2_init;   /* moe-ffn: copy | zeros | random */
    int upcycle;              /* moe-ffn on a dense model: experts per FFN */
} TrainOptions;

void train_options_default(TrainOptions *o);
/* Fills flags[] (at most TRAIN_OPTIONS_MAX_FLAGS) pointing into *o; returns the count. */
int train_options_flags(TrainOptions *o, Flag *flags);
/* The resolved options as a JSON object with the flag names as keys (OUT/config.json). */
void train_options_write_json(FILE *f, const Flag *flags, int n);
/* Parses --experts/--null/--top-k/--rank ("4" or "2,2,4,4"): sets o->experts, n_null, top_k,
   rank to the first values and a's per-layer lists (n_layer_values = 0 when every flag has
   one value). */
Status train_options_lists(TrainOptions *o, AdapterConfig *a, Error *err);

#endif
