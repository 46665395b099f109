/* cli/adapter_tool.h — what the commands that rework a trained adapter share (`merge-experts`,
   `compress-adapter`): the flags --model --tokenizer --adapter-dir --task --data --split
   --eval-limit --seq --batch --threads --out, loading a task split tokenized for the model, and a
   scored evaluation (letter accuracy, Load and %FLOPs as train's records compute them).
   defines: ToolOpts, ToolSplit, ToolScore, TOOL_N_FLAGS, tool_flags, tool_check, tool_split_load,
            tool_split_free, tool_score, tool_print_score */
#ifndef ADAPTER_TOOL_H
#define ADAPTER_TOOL_H
#include "cli/flags.h"
#include "cli/model_flags.h"
#include "data/batch.h"
#include "data/task.h"
#include "data/tokenizer.h"
#include "nn/llama.h"

#define TOOL_N_FLAGS (MODEL_FLAGS_MAX + 8)

typedef struct {
    const char *model, *tokenizer, *adapter_dir, *task, *data, *split, *out;
    int eval_limit, seq, batch, threads;
} ToolOpts;

typedef struct {
    Tokenizer tk;
    McDataset ds;
    TokenizedSet ts;
    int have_tk, have_ds, have_ts;
} ToolSplit;

typedef struct { double acc, mcc, load, flops_saved; int n; } ToolScore;

/* defaults (split dev, seq 256, batch 16) + the shared flags into f; returns their count */
int tool_flags(ToolOpts *o, Flag *f);
/* --model, --adapter-dir, --task, --data, --out given, the task known */
Status tool_check(const ToolOpts *o, const char *command, Error *err);
/* the tokenizer (--tokenizer, or MODEL/tokenizer.json) and `split` of the task, tokenized; limit
   > 0 keeps the first `limit` examples */
Status tool_split_load(const ToolOpts *o, const LlamaModel *m, const char *split, int limit, ToolSplit *s, Error *err);
void tool_split_free(ToolSplit *s);
/* letter accuracy of m on s (the first o->eval_limit examples), with Load and %FLOPs saved */
Status tool_score(LlamaModel *m, const ToolSplit *s, const ToolOpts *o, ToolScore *out, Error *err);
void tool_print_score(const char *label, const ToolScore *r);

#endif
