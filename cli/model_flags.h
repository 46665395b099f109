/* cli/model_flags.h — the flags that name what a command loads: --model, --tokenizer and
   --adapter-dir, one table for train, eval, generate, route and forward-backward, so the
   commands agree on the names and their help. What a command does without a tokenizer or
   adapter (default, error, ids only) is its own business and is said in its usage line.
   defines: MODEL_FLAGS_MAX, model_flags */
#ifndef MODEL_FLAGS_H
#define MODEL_FLAGS_H
#include "cli/flags.h"

#define MODEL_FLAGS_MAX 3

/* Writes to f the flags whose destination is not NULL, in the order --model, --tokenizer,
   --adapter-dir (a command without an adapter passes adapter_dir = NULL), then the command's own
   flags own[0..n_own); returns the count (f holds MODEL_FLAGS_MAX + n_own). */
int model_flags(Flag *f, const char **model, const char **tokenizer, const char **adapter_dir,
                const Flag *own, int n_own);

#endif
