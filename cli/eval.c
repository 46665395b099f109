/* cli/eval.c — `./train eval`: score a model (optionally with an adapter) on a task split
   and print the eval record as one JSON line on stdout; with --out it is also appended to
   OUT/metrics.jsonl. --score letter (restricted answer-letter likelihood at the answer position,
   the trainer's metric) or choice-loglik (lm-eval: per-choice log-likelihood, acc + acc_norm).
   The adapter options are train's (cli/adapter_options.h): with --adapter-dir they start from the
   directory's adapter_config.json and the given ones override it (e.g. --routing dense to score
   a top-k adapter densely; the expert layout must match the files); without it --adapter X
   scores a fresh adapter from --seed (B = 0) and the default, none, the base model. */
#include "cli/eval.h"
#include "optim/evaluate.h"
#include "cli/train.h"
#include "cli/train_log.h"
#include "cli/model_flags.h"
#include "nn/checkpoint.h"
#include "data/json.h"
#include "data/task.h"
#include "nn/adapter_io.h"
#include "cli/adapter_options.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *model, *tokenizer, *adapter_dir, *task, *data, *split, *score, *out, *config;
    const char *base_dtype, *expert_dtype;
    int eval_limit, seq, batch, threads, seed;
    AdapterOptions ad;
    AdapterOptionsText ad_text;
} EvalOpts;

/* split: the split actually scored (ARC has no dev file: its test split stands in) */
static void write_record(FILE *f, const EvalOpts *o, const char *split, const LlamaModel *m, const EvalResult *r,
                         double acc_norm, int have_norm, int binary) {
    fprintf(f, "{\"type\":\"eval\",\"step\":0,\"epoch\":0,\"split\":");
    json_write_string(f, split, strlen(split));
    fprintf(f, ",\"task\":");
    json_write_string(f, o->task, strlen(o->task));
    fprintf(f, ",\"score\":\"%s\",\"acc\":", o->score);
    json_write_number(f, "%.6f", r->acc);
    fprintf(f, ",\"acc_norm\":");
    json_write_number(f, "%.6f", have_norm ? acc_norm : NAN);
    fprintf(f, ",\"mcc\":");
    json_write_number(f, "%.6f", binary ? r->mcc : NAN);
    fputc(',', f);
    fprintf(f, "\"n\":%d", r->n);
    train_log_moe_fields(f, m, 1);
    fprintf(f, "}\n");
}

static Status run_eval(const EvalOpts *o, Error *err) {
    LlamaModel m;
    Tokenizer tk;
    McDataset ds;
    TokenizedSet ts;
    int have_tk = 0, have_ds = 0, have_ts = 0;
    AdapterConfig acfg;
    int dtype = BASE_DTYPE_AUTO;
    Status s = adapter_options_config(&o->ad, NULL, &acfg, err);
    if (!s) s = base_dtype_code(o->base_dtype, o->expert_dtype, 1, &dtype, err);
    if (!s) s = adapter_options_load_model(&m, o->model, o->adapter_dir, &acfg, (uint64_t)(int64_t)o->seed, dtype, err);
    if (s) return s;
    char tkbuf[1024];
    const char *tkp = o->tokenizer;
    struct stat st;
    if (!tkp && stat(o->model, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(tkbuf, sizeof tkbuf, "%s/tokenizer.json", o->model);
        tkp = tkbuf;
    }
    if (!tkp) s = error_set(err, STATUS_INVALID, "e.g. --tokenizer tok512.bin", "--tokenizer is required for a llama2.c model");
    if (!s && !(s = tokenizer_load(&tk, tkp, m.cfg.vocab_size, err))) have_tk = 1;
    if (!s && !(s = task_load(o->task, o->data, o->split, &ds, err))) have_ds = 1;
    if (!s && ds.note[0]) fprintf(stderr, "note: %s\n", ds.note);
    EvalResult r;
    double acc_norm = 0;
    int have_norm = !strcmp(o->score, "choice-loglik");
    Arena a;
    arena_init(&a, (size_t)16 << 20);
    if (!s && have_norm) s = evaluate_choices(&m, &tk, &ds, o->eval_limit, o->seq, &a, &r, &acc_norm, err);
    else if (!s) {
        PromptConfig pc;
        prompt_config_default(&pc);
        pc.max_len = o->seq;
        if (!(s = dataset_tokenize(&ds, &tk, &pc, &ts, err))) have_ts = 1;
        if (!s) s = evaluate_letters(&m, &ts, ds.positive_choice, o->eval_limit, o->batch, &a, &r, err);
    }
    if (!s) {
        write_record(stdout, o, ds.split[0] ? ds.split : o->split, &m, &r, acc_norm, have_norm, ds.positive_choice >= 0);
        if (o->out) {
            char path[1024];
            snprintf(path, sizeof path, "%s/metrics.jsonl", o->out);
            if (mkdir(o->out, 0755) != 0 && errno != EEXIST)
                s = error_set(err, STATUS_IO, NULL, "cannot create %s: %s", o->out, strerror(errno));
            FILE *f = s ? NULL : fopen(path, "a");
            if (!s && !f) s = error_set(err, STATUS_IO, NULL, "cannot open %s: %s", path, strerror(errno));
            if (f) { write_record(f, o, ds.split[0] ? ds.split : o->split, &m, &r, acc_norm, have_norm, ds.positive_choice >= 0); fclose(f); }
        }
    }
    arena_free(&a);
    if (have_ts) tokenized_set_free(&ts);
    if (have_ds) mc_dataset_free(&ds);
    if (have_tk) tokenizer_free(&tk);
    llama_free(&m);
    return s;
}

#define EVAL_MAX_FLAGS (18 + ADAPTER_OPTIONS_N_FLAGS)

static int eval_flags(EvalOpts *o, Flag *f) {
    Flag t[] = {
        { "task", FLAG_STRING, &o->task, "task name (see ./train train --help)", 0 },
        { "data", FLAG_STRING, &o->data, "dataset directory or file", 0 },
        { "split", FLAG_STRING, &o->split, "train | dev | test", 0 },
        { "score", FLAG_STRING, &o->score, "letter | choice-loglik", 0 },
        { "out", FLAG_STRING, &o->out, "append the record to OUT/metrics.jsonl", 0 },
        { "eval-limit", FLAG_INT, &o->eval_limit, "score the first N examples (0 = all)", 0 },
        { "seq", FLAG_INT, &o->seq, "max tokens per example", 0 },
        { "batch", FLAG_INT, &o->batch, "batch size (letter scoring)", 0 },
        { "threads", FLAG_INT, &o->threads, "worker threads (0 = all CPUs)", 0 },
        { "base-dtype", FLAG_STRING, &o->base_dtype, "auto | " BASE_DTYPE_HELP, 0 },
        { "expert-dtype", FLAG_STRING, &o->expert_dtype, EXPERT_DTYPE_HELP, 0 },
        { "seed", FLAG_INT, &o->seed, "seed of a fresh adapter (--adapter without --adapter-dir), as train --seed", 0 },
        { "config", FLAG_STRING, &o->config, "JSON file with any of these options", 0 },
    };
    int n = model_flags(f, &o->model, &o->tokenizer, &o->adapter_dir, t, (int)(sizeof t / sizeof t[0]));
    n += adapter_options_flags(&o->ad, f + n);   /* the adapter options of train / forward-backward / make-tiny */
    CHECK(n <= EVAL_MAX_FLAGS, "%d eval options exceed EVAL_MAX_FLAGS", n);
    return n;
}

int eval_cli(int argc, char **argv) {
    EvalOpts o;
    memset(&o, 0, sizeof o);
    o.split = "dev"; o.score = "letter"; o.base_dtype = "auto"; o.seq = 256; o.batch = 16; o.seed = 42;
    adapter_options_default(&o.ad);
    o.ad.adapter = "none";   /* the base model unless --adapter-dir or --adapter says otherwise */
    Flag flags[EVAL_MAX_FLAGS];
    int n = eval_flags(&o, flags), help = 0;
    Error err;
    Status s = adapter_options_parse(flags, n, argc, argv, &o.ad, &o.ad_text, &o.adapter_dir, &o.config, &help, &err);
    if (!s && help) {
        flags_print_help(stdout, "usage: ./train eval --model M --tokenizer T [--adapter-dir D] --task TASK --data DIR [options]\n"
                         "       (adapter options as ./train train; with --adapter-dir, given ones override the directory's)", flags, n);
        return 0;
    }
    if (!s && (!o.model || !o.task || !o.data))
        s = error_set(&err, STATUS_INVALID, "see ./train eval --help", "--model, --task and --data are required");
    if (!s && !task_is_known(o.task)) s = error_set(&err, STATUS_INVALID, NULL, "unknown task '%s'", o.task);
    if (!s && strcmp(o.score, "letter") && strcmp(o.score, "choice-loglik"))
        s = error_set(&err, STATUS_INVALID, NULL, "--score must be letter or choice-loglik, got '%s'", o.score);
    if (!s) threads_init(o.threads);
    if (!s) s = run_eval(&o, &err);
    if (s) error_print(&err);
    return cli_exit_code(s);
}
