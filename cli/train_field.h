/* cli/train_field.h — the training options of the field around AdaMoE: --top-k-schedule and
   --eval-top-k (SMoE-Dropout's growing number of active experts) and --experts-from (experts
   initialised from existing LoRA adapters). The adapter options --router frozen-random,
   --pregate and --freeze-experts are cli/adapter_options.h's.
   defines: train_field_resolve, train_field_apply
   With --top-k-schedule the adapter's top-k (every evaluation, the saved adapter) is
   --eval-top-k: final (the schedule's last k, default), all (every expert, nulls included) or N;
   --top-k itself is then not given. With --experts-from and no --experts, --experts is the
   number of directories. */
#ifndef TRAIN_FIELD_H
#define TRAIN_FIELD_H
#include "cli/train_options.h"
#include "optim/trainer.h"

/* after parsing, before the model is built: checks the options and resolves --experts / --top-k
   (strings kept in o->field_text) */
Status train_field_resolve(TrainOptions *o, const Flag *flags, int n, Error *err);
/* after llama_init_adapter: the schedule into tc, the experts from --experts-from (prints what it did) */
Status train_field_apply(LlamaModel *m, const TrainOptions *o, TrainConfig *tc, Error *err);

#endif
