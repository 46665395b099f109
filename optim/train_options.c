/* optim/train_options.c — defaults and the flag table (see train_options.h). */
#include "train_options.h"
#include "../tensor/check.h"
#include "../data/json.h"
#include <stdio.h>
#include <string.h>

void train_options_default(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    o->adapter = "lora";
    o->targets = "all";
    o->schedule = "linear";
    o->split = "dev";
    o->score = "letter";
    o->base_dtype = "f32";
    o->loss_on = "answer";
    o->rank = 8; o->alpha = 16; o->dropout = 0;
    o->epochs = 1; o->batch = 8; o->accum = 1; o->seq = 256; o->seed = 42;
    o->lr = 3e-4; o->min_lr = 0; o->warmup = 0.03; o->weight_decay = 0; o->clip = 1.0;
    o->log_every = 10; o->eval_batch = 16;
    o->experts = 4; o->n_null = 4; o->top_k = 0;
    o->normalize = "true-only"; o->null_kind = "zero"; o->aux = "eq6"; o->aux_schedule = "const";
    o->aux_coef = 0.001; o->aux_coef_end = 0; o->k_baseline = 2;
    o->gate2_init = "copy"; o->upcycle = 0;
    o->routing = "topk"; o->top_p = 0.4;
    o->experts_s = "4"; o->null_s = "4"; o->top_k_s = "0"; o->rank_s = "8";
}

/* what to train on and where the results go */
static int run_flags(TrainOptions *o, Flag *f) {
    Flag t[] = {
        { "model", FLAG_STRING, &o->model, "base model: llama2.c .bin or HF directory", 0 },
        { "tokenizer", FLAG_STRING, &o->tokenizer, "tokenizer.bin or tokenizer.json (default: next to the model)", 0 },
        { "task", FLAG_STRING, &o->task, "rte cola sst2 mrpc qnli arc_easy arc_challenge openbookqa commonsense_qa siqa piqa winogrande hellaswag scienceqa mc_jsonl", 0 },
        { "data", FLAG_STRING, &o->data, "dataset directory (or a file)", 0 },
        { "train", FLAG_STRING, &o->train_file, "explicit training file (instead of --data)", 0 },
        { "dev", FLAG_STRING, &o->dev_file, "explicit dev file (instead of --data)", 0 },
        { "split", FLAG_STRING, &o->split, "eval split", 0 },
        { "out", FLAG_STRING, &o->out, "run directory (metrics.jsonl, report.svg, config.json, checkpoint/, adapter/)", 0 },
        { "adapter", FLAG_STRING, &o->adapter, "lora | molora | adamoe | full | none", 0 },
    };
    memcpy(f, t, sizeof t);
    return (int)(sizeof t / sizeof t[0]);
}

/* the adapter: LoRA, Mo-LoRA / AdaMoE experts and routing, MoE FFN */
static int adapter_flags(TrainOptions *o, Flag *f) {
    Flag t[] = {
        { "experts", FLAG_STRING, &o->experts_s, "molora/adamoe: LoRA experts per adapted linear (true experts); one value or one per layer: 2,2,4,4", 0 },
        { "null", FLAG_STRING, &o->null_s, "adamoe: null experts per router (molora: ignored); one value or one per layer", 0 },
        { "top-k", FLAG_STRING, &o->top_k_s, "experts chosen per token over true + null (0 = 2 for molora, 4 for adamoe); one value or one per layer", 0 },
        { "normalize", FLAG_STRING, &o->normalize, "true-only (renormalise over selected true experts) | all-selected", 0 },
        { "null-kind", FLAG_STRING, &o->null_kind, "zero | identity (copy; only where in == out) | constant (trainable vector, MoE++)", 0 },
        { "routing", FLAG_STRING, &o->routing, "topk | top-p (mass >= --top-p, no renormalisation) | dense (LoRAMoE) | stochastic (THOR: random expert in training, average at eval) | expert-choice (NON-CAUSAL: experts pick tokens; scoring only)", 0 },
        { "top-p", FLAG_DOUBLE, &o->top_p, "top-p routing threshold", 0 },
        { "entropy-coef", FLAG_DOUBLE, &o->entropy_coef, "router-entropy loss coefficient (top-p routing)", 0 },
        { "shared-experts", FLAG_INT, &o->shared_experts, "always-on shared LoRA experts (DeepSeek), weight 1, not counted in Load", 0 },
        { "aux", FLAG_STRING, &o->aux, "load-balancing loss: eq6 (nulls grouped) | vanilla | none", 0 },
        { "aux-coef", FLAG_DOUBLE, &o->aux_coef, "aux-loss coefficient (start value of a schedule)", 0 },
        { "aux-schedule", FLAG_STRING, &o->aux_schedule, "const | linear (aux-coef -> aux-coef-end) | epoch (--aux-coefs per epoch)", 0 },
        { "aux-coef-end", FLAG_DOUBLE, &o->aux_coef_end, "final coefficient of the linear schedule", 0 },
        { "aux-coefs", FLAG_STRING, &o->aux_coefs, "per-epoch coefficients c1,c2,... (last repeats)", 0 },
        { "k-baseline", FLAG_DOUBLE, &o->k_baseline, "top-k of the dense baseline for %FLOPs saved = 1 - Load/k", 0 },
        { "gate2-init", FLAG_STRING, &o->gate2_init, "moe-ffn: null-expert router gate2 init copy | zeros | random", 0 },
        { "upcycle", FLAG_INT, &o->upcycle, "moe-ffn on a dense model: each FFN becomes this many experts", 0 },
        { "rank", FLAG_STRING, &o->rank_s, "LoRA rank r (molora/adamoe: one value or one per layer)", 0 },
        { "alpha", FLAG_DOUBLE, &o->alpha, "LoRA alpha (scaling alpha/r)", 0 },
        { "rslora", FLAG_BOOL, &o->rslora, "rank-stabilised scaling alpha/sqrt(r)", 0 },
        { "dropout", FLAG_DOUBLE, &o->dropout, "LoRA dropout", 0 },
        { "targets", FLAG_STRING, &o->targets, "adapted linears: q,k,v,o,gate,up,down or all (+ router: Mixtral)", 0 },
    };
    memcpy(f, t, sizeof t);
    return (int)(sizeof t / sizeof t[0]);
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
        { "seq", FLAG_INT, &o->seq, "max tokens per example (prompt trimmed on the left)", 0 },
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
        { "base-dtype", FLAG_STRING, &o->base_dtype, "f32 | bf16 storage of the frozen base weights", 0 },
        { "loss-on", FLAG_STRING, &o->loss_on, "answer | all (tokens that carry the loss)", 0 },
        { "group-by-length", FLAG_BOOL, &o->group_by_length, "batch examples of similar length (less padding)", 0 },
        { "config", FLAG_STRING, &o->config, "JSON file with any of these options", 0 },
    };
    memcpy(f, t, sizeof t);
    return (int)(sizeof t / sizeof t[0]);
}

int train_options_flags(TrainOptions *o, Flag *f) {
    int n = run_flags(o, f);
    n += adapter_flags(o, f + n);
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

/* "4" or "2,2,4,4": the first value into *first, the list into vals (n = 1 for one value) */
static Status one_list(const char *s, const char *what, int lo, int *first, int *vals, int *n, Error *err) {
    Status st = int_list_parse(s, what, lo, vals, n, err);
    if (!st) *first = vals[0];
    return st;
}

Status train_options_lists(TrainOptions *o, AdapterConfig *a, Error *err) {
    int n[4], *lists[4] = { a->layer_n_true, a->layer_n_null, a->layer_top_k, a->layer_rank };
    Status s = one_list(o->experts_s, "experts", 1, &o->experts, lists[0], &n[0], err);
    if (!s) s = one_list(o->null_s, "null", 0, &o->n_null, lists[1], &n[1], err);
    if (!s) s = one_list(o->top_k_s, "top-k", 0, &o->top_k, lists[2], &n[2], err);
    if (!s) s = one_list(o->rank_s, "rank", 0, &o->rank, lists[3], &n[3], err);
    if (s) return s;
    int len = 1;
    for (int i = 0; i < 4; i++) {
        if (n[i] == 1) continue;
        if (len > 1 && n[i] != len)
            return error_set(err, STATUS_INVALID, NULL, "per-layer lists of different lengths (%d and %d values)", len, n[i]);
        len = n[i];
    }
    a->n_layer_values = len > 1 ? len : 0;
    for (int i = 0; i < 4 && len > 1; i++)   /* a single value fills every layer */
        for (int l = 1; l < len; l++) lists[i][l] = n[i] == 1 ? lists[i][0] : lists[i][l];
    for (int i = 0; i < 4 && len <= 1; i++) memset(lists[i], 0, MOE_MAX_LAYERS * sizeof(int));
    return STATUS_OK;   /* entries 0 (top-k 0) mean the scalar / the kind's default */
}
