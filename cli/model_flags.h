/* cli/model_flags.h — the flags that name what a command loads: --model, --tokenizer and
   --adapter-dir, one table for train, eval, generate, route and forward-backward, so the
   commands agree on the names and their help. What a command does without a tokenizer or
   adapter (default, error, ids only) is its own business and is said in its usage line.
   defines: MODEL_FLAGS_MAX, model_flags */
#ifndef MODEL_FLAGS_H
#define MODEL_FLAGS_H
#include "cli/flags.h"

#define MODEL_FLAGS_MAX 3

/* Writes to f, in the order --model, --tokenizer, --adapter-dir, the flags whose destination is
   not NULL (a command without an adapter passes adapter_dir = NULL); returns their count. */
int model_flags(Flag *f, const char **model, const char **tokenizer, const char **adapter_dir);

#endif
