/* cli/train_options.c — defaults and the flag table (see train_options.h). */
#include "cli/train_options.h"
#include "cli/recompute_option.h"
#include "cli/model_flags.h"
#include "tensor/check.h"
#include "data/json.h"
#include <stdio.h>
#include <string.h>

void train_options_default(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    adapter_options_default(&o->ad);
    o->schedule = "linear";
    o->split = "dev";
    o->score = "letter";
    o->base_dtype = "auto";
    o->loss_on = "answer";
    o->recompute = "auto";
    o->epochs = 1; o->batch = 8; o->accum = 1; o->seq = 0; o->seed = 42;
    o->lr = 3e-4; o->min_lr = 0; o->warmup = 0.03; o->weight_decay = 0; o->clip = 1.0;
    o->log_every = 10; o->eval_batch = 16;
    o->eval_top_k = "final";
}

/* what to train on and where the results go */
static int run_flags(TrainOptions *o, Flag *f) {
    Flag t[] = {
        { "task", FLAG_STRING, &o->task, "rte cola sst2 mrpc qnli arc_easy arc_challenge openbookqa commonsense_qa siqa piqa winogrande hellaswag scienceqa mc_jsonl", 0 },
        { "data", FLAG_STRING, &o->data, "dataset directory (or a file)", 0 },
        { "train", FLAG_STRING, &o->train_file, "explicit training file (instead of --data)", 0 },
        { "dev", FLAG_STRING, &o->dev_file, "explicit dev file (instead of --data)", 0 },
        { "split", FLAG_STRING, &o->split, "eval split", 0 },
        { "out", FLAG_STRING, &o->out, "run directory (metrics.jsonl, report.svg, config.json, checkpoint/, adapter/)", 0 },
    };
    return model_flags(f, &o->model, &o->tokenizer, NULL, t, (int)(sizeof t / sizeof t[0]));
}

/* optimisation, evaluation, checkpoints */
static int training_flags(TrainOptions *o, Flag *f) {
    Flag t[] = {
        { "epochs", FLAG_INT, &o->epochs, "epochs", 0 },
        { "max-steps", FLAG_INT, &o->max_steps, "stop after this many optimizer steps (0 = epochs decide)", 0 },
        { "train-limit", FLAG_INT, &o->train_limit, "use the first N training examples (0 = all)", 0 },
        { "eval-limit", FLAG_INT, &o->eval_limit, "score the first N dev examples (0 = all)", 0 },
        { "batch", FLAG_INT, &o->batch, "micro-batch size", 0 },
        { "accum", FLAG_INT, &o->accum, "gradient accumulation steps (effective batch = batch x accum)", 0 },
        { "seq", FLAG_INT, &o->seq, "max tokens per example, prompt trimmed on the left (0 = the model's context, at most 256)", 0 },
        { "lr", FLAG_DOUBLE, &o->lr, "peak learning rate", 0 },
        { "min-lr", FLAG_DOUBLE, &o->min_lr, "final learning rate (linear / cosine)", 0 },
        { "schedule", FLAG_STRING, &o->schedule, "constant | linear | cosine", 0 },
        { "warmup", FLAG_DOUBLE, &o->warmup, "warmup as a fraction of all steps", 0 },
        { "weight-decay", FLAG_DOUBLE, &o->weight_decay, "AdamW decoupled weight decay (not on norms/routers)", 0 },
        { "clip", FLAG_DOUBLE, &o->clip, "global gradient-norm clip (0 = off)", 0 },
        { "seed", FLAG_INT, &o->seed, "seed for adapter init, data order and dropout", 0 },
        { "threads", FLAG_INT, &o->threads, "worker threads (0 = $MOETRAIN_THREADS or all CPUs)", 0 },
        { "log-every", FLAG_INT, &o->log_every, "progress line every N steps when not on a terminal", 0 },
        { "eval-every", FLAG_INT, &o->eval_every, "evaluate every N steps (0 = at the end only)", 0 },
        { "eval-batch", FLAG_INT, &o->eval_batch, "evaluation batch size", 0 },
        { "save-every", FLAG_INT, &o->save_every, "checkpoint every N steps (0 = at the end only)", 0 },
        { "init-adapter", FLAG_STRING, &o->init_adapter, "start from a saved adapter directory", 0 },
        { "resume", FLAG_STRING, &o->resume, "continue the run in this directory (reads its config.json)", 0 },
        { "score", FLAG_STRING, &o->score, "letter (restricted answer-letter likelihood)", 0 },
        { "base-dtype", FLAG_STRING, &o->base_dtype, "auto | f32 | bf16 | nf4 | nf4-nodq | int8 storage of the frozen base (auto: bf16 when the checkpoint is bf16; nf4 = QLoRA's 4-bit NormalFloat)", 0 },
        { "expert-dtype", FLAG_STRING, &o->expert_dtype, EXPERT_DTYPE_HELP, 0 },
        { "max-memory", FLAG_STRING, &o->max_memory, "refuse to start when the estimate exceeds this (e.g. 12G, 800M; default: available RAM)", 0 },
        { "recompute", FLAG_STRING, &o->recompute, RECOMPUTE_HELP, 0 },
        { "skip-nonfinite", FLAG_INT, &o->skip_nonfinite, "skip up to N steps with a non-finite loss or gradient instead of stopping", 0 },
        { "loss-on", FLAG_STRING, &o->loss_on, "answer | all (tokens that carry the loss)", 0 },
        { "group-by-length", FLAG_BOOL, &o->group_by_length, "batch examples of similar length (less padding)", 0 },
        { "top-k-schedule", FLAG_STRING, &o->topk_schedule, "active experts per training step: linear:K0:K1 | epoch:k1,k2,... (SMoE-Dropout; evaluation uses --eval-top-k)", 0 },
        { "eval-top-k", FLAG_STRING, &o->eval_top_k, "with --top-k-schedule, the adapter's top-k (evaluation, saved adapter): final | all | N", 0 },
        { "experts-from", FLAG_STRING, &o->experts_from, "DIR1,DIR2,...: initialise LoRA expert e of every routed linear from PEFT LoRA adapter e (fresh router)", 0 },
        { "config", FLAG_STRING, &o->config, "JSON file with any of these options", 0 },
    };
    memcpy(f, t, sizeof t);
    return (int)(sizeof t / sizeof t[0]);
}

int train_options_flags(TrainOptions *o, Flag *f) {
    int n = run_flags(o, f);
    n += adapter_options_flags(&o->ad, f + n);   /* the options every command shares */
    n += training_flags(o, f + n);
    CHECK(n <= TRAIN_OPTIONS_MAX_FLAGS, "%d train options exceed TRAIN_OPTIONS_MAX_FLAGS", n);
    return n;
}

void train_options_write_json(FILE *f, const Flag *flags, int n) {
    fprintf(f, "{\n");
    int first = 1;
    for (int i = 0; i < n; i++) {
        const Flag *g = &flags[i];
        if (!strcmp(g->name, "config") || !strcmp(g->name, "resume")) continue;
        if (g->type == FLAG_STRING && !*(const char **)g->ptr) continue;
        fprintf(f, "%s  \"%s\": ", first ? "" : ",\n", g->name);
        first = 0;
        switch (g->type) {
        case FLAG_INT: fprintf(f, "%d", *(int *)g->ptr); break;
        case FLAG_DOUBLE: fprintf(f, "%.17g", *(double *)g->ptr); break;
        case FLAG_BOOL: fprintf(f, "%s", *(int *)g->ptr ? "true" : "false"); break;
        case FLAG_STRING: {
            const char *s = *(const char **)g->ptr;
            json_write_string(f, s, strlen(s));
            break;
        }
        }
    }
    fprintf(f, "\n}\n");
}
