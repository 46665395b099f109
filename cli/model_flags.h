/* cli/model_flags.h — the flags that name what a command loads: --model, --tokenizer and
   --adapter-dir, one table for train, eval, generate, route and forward-backward, so the
   commands agree on the names and their help. What a command does without a tokenizer or
   adapter (default, error, ids only) is its own business and is said in its usage line.
   defines: MODEL_FLAGS_MAX, model_flags, base_dtype_code, BASE_DTYPE_HELP, EXPERT_DTYPE_HELP */
#ifndef MODEL_FLAGS_H
#define MODEL_FLAGS_H
#include "cli/flags.h"
#include "tensor/status.h"

#define MODEL_FLAGS_MAX 3

/* Writes to f the flags whose destination is not NULL, in the order --model, --tokenizer,
   --adapter-dir (a command without an adapter passes adapter_dir = NULL), then the command's own
   flags own[0..n_own); returns the count (f holds MODEL_FLAGS_MAX + n_own). */
int model_flags(Flag *f, const char **model, const char **tokenizer, const char **adapter_dir,
                const Flag *own, int n_own);

/* --base-dtype and --expert-dtype of train, eval, generate, route and forward-backward: the
   loaders' storage code (nn/param_store.h BASE_DTYPE_*, nn/checkpoint.h BASE_DTYPE_AUTO).
   base: auto (only if allow_auto) | f32 | bf16 | nf4 (QLoRA: NF4 codes, double-quantised scales) |
   nf4-nodq (f32 block scales) | int8; experts (NULL or "" = as the base): f32 | bf16 | nf4 |
   nf4-nodq | int8, only with a quantised base (MC-MoE's idea: experts at another precision). */
Status base_dtype_code(const char *base, const char *experts, int allow_auto, int *code, Error *err);
#define BASE_DTYPE_HELP "storage of the frozen base: f32 | bf16 | nf4 (4-bit NormalFloat, QLoRA) | nf4-nodq | int8"
#define EXPERT_DTYPE_HELP "Mixtral experts' storage with a nf4 / int8 base: f32 | bf16 | nf4 | nf4-nodq | int8 (default: as the base)"

#endif
