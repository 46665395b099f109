/* cli/train.c — `./train train`: load model, tokenizer and data, fine-tune, evaluate,
   write OUT/{config.json, metrics.jsonl, report.svg, checkpoint/}. Exit codes: 0 success,
   1 bad input or configuration, 2 runtime failure (e.g. a non-finite loss), 130 interrupted
   (a checkpoint was saved; continue with --resume OUT). */
#include "cli/train.h"
#include "cli/recompute_option.h"
#include "cli/train_options.h"
#include "cli/train_field.h"
#include "optim/trainer.h"
#include "data/atomic_file.h"
#include "cli/report_svg.h"
#include "cli/train_log.h"
#include "cli/train_ranks.h"
#include "cli/model_flags.h"
#include "data/task.h"
#include "data/token_cache.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "tensor/comm.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void on_sigint(int sig) { (void)sig; trainer_request_stop(); }

static Status check_ranges(const TrainOptions *o, Error *err);

/* Parses argv (and --config / the resumed run's config.json) into *o. 1 = help shown. */
static Status parse_options(TrainOptions *o, Flag *flags, int *nf, int argc, char **argv, int *help, Error *err) {
    train_options_default(o);
    *nf = train_options_flags(o, flags);
    Status s = flags_parse(flags, *nf, argc, argv, 1, help, err);
    if (!s && o->config) s = flags_load_config(flags, *nf, o->config, err);
    if (!s && o->resume) {
        char path[1024];
        snprintf(path, sizeof path, "%s/config.json", o->resume);
        s = flags_load_config(flags, *nf, path, err);
        if (!s && !o->out) o->out = o->resume;
    }
    if (s || *help) return s;
    AdapterConfig lists;
    if ((s = adapter_options_lists(&o->ad, &lists, err))) return s;
    if (!o->model) return error_set(err, STATUS_INVALID, "e.g. --model stories260K.bin", "--model is required");
    if (!o->task) return error_set(err, STATUS_INVALID, "e.g. --task rte", "--task is required");
    if (!task_is_known(o->task)) return error_set(err, STATUS_INVALID, "run ./train train --help for the task list", "unknown task '%s'", o->task);
    if (!o->data && (!o->train_file) != (!o->dev_file))
        return error_set(err, STATUS_INVALID, NULL, "without --data, give both --train and --dev");
    if (!o->data && !o->train_file) return error_set(err, STATUS_INVALID, "e.g. --data ../shared/data/glue/RTE", "--data (or --train and --dev) is required");
    if ((s = train_field_resolve(o, flags, *nf, err))) return s;   /* --top-k-schedule, --experts-from */
    return check_ranges(o, err);
}

/* every numeric option against its allowed range, named in the message */
static Status check_ranges(const TrainOptions *o, Error *err) {
    const struct { const char *name; int v, lo; } ints[] = {
        { "batch", o->batch, 1 }, { "accum", o->accum, 1 }, { "epochs", o->epochs, 1 }, { "max-steps", o->max_steps, 0 },
        { "train-limit", o->train_limit, 0 }, { "eval-limit", o->eval_limit, 0 }, { "eval-every", o->eval_every, 0 },
        { "save-every", o->save_every, 0 }, { "eval-batch", o->eval_batch, 1 }, { "log-every", o->log_every, 0 },
        { "threads", o->threads, 0 }, { "skip-nonfinite", o->skip_nonfinite, 0 } };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo)
            return error_set(err, STATUS_INVALID, NULL, "--%s must be >= %d, got %d", ints[i].name, ints[i].lo, ints[i].v);
    if (o->batch % comm_size())   /* the global batch, split evenly over the ranks */
        return error_set(err, STATUS_INVALID, "each rank takes batch/R rows: use a multiple of the rank count",
                         "--batch %d is the global batch and must be a multiple of the %d ranks", o->batch, comm_size());
    if (o->seq != 0 && o->seq < 8) return error_set(err, STATUS_INVALID, NULL, "--seq must be >= 8 (or 0: the model's context), got %d", o->seq);
    if (!(o->lr > 0)) return error_set(err, STATUS_INVALID, NULL, "--lr must be > 0, got %g", o->lr);
    if (!(o->min_lr >= 0) || o->min_lr > o->lr)
        return error_set(err, STATUS_INVALID, NULL, "--min-lr must be in [0, --lr %g], got %g", o->lr, o->min_lr);
    if (!(o->warmup >= 0 && o->warmup <= 1)) return error_set(err, STATUS_INVALID, NULL, "--warmup must be in [0, 1], got %g", o->warmup);
    if (!(o->weight_decay >= 0)) return error_set(err, STATUS_INVALID, NULL, "--weight-decay must be >= 0, got %g", o->weight_decay);
    if (!(o->clip >= 0)) return error_set(err, STATUS_INVALID, NULL, "--clip must be >= 0 (0 = off), got %g", o->clip);
    if (strcmp(o->loss_on, "answer") && strcmp(o->loss_on, "all"))
        return error_set(err, STATUS_INVALID, NULL, "--loss-on must be answer or all, got '%s'", o->loss_on);
    int code;
    Status ds = base_dtype_code(o->base_dtype, o->expert_dtype, 1, &code, err);
    if (ds) return ds;
    if (strcmp(o->score, "letter"))
        return error_set(err, STATUS_INVALID, "use ./train eval --score choice-loglik after training",
                         "training evaluates with --score letter only");
    return STATUS_OK;
}

/* --aux-schedule const uses the adapter's --aux-coef; linear / epoch fill the schedule */
static Status aux_schedule_from_options(const TrainOptions *o, TrainConfig *tc, Error *err) {
    Status s = aux_schedule_parse_kind(o->ad.aux_schedule, &tc->aux.kind, err);
    if (s) return s;
    tc->aux.start = o->ad.aux_coef;
    tc->aux.end = o->ad.aux_coef_end;
    tc->aux_from_adapter = tc->aux.kind == AUX_CONST;
    if (tc->aux.kind == AUX_EPOCH) {
        if (!o->ad.aux_coefs) return error_set(err, STATUS_INVALID, "e.g. --aux-coefs 0.01,0.001", "--aux-schedule epoch needs --aux-coefs");
        s = aux_schedule_parse_values(&tc->aux, o->ad.aux_coefs, err);
    }
    return s;
}

static const char *default_tokenizer(const TrainOptions *o, char *buf, size_t n) {
    if (o->tokenizer) return o->tokenizer;
    struct stat st;
    if (stat(o->model, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(buf, n, "%s/tokenizer.json", o->model);
        return buf;
    }
    return NULL;
}

static Status load_split(const TrainOptions *o, const char *split, const char *file, McDataset *ds, Error *err) {
    Status s = task_load(o->task, file ? file : o->data, split, ds, err);
    if (!s && ds->note[0]) printf("note: %s\n", ds->note);
    return s;
}

/* Tokenized sets are cached in $MOETRAIN_CACHE (default ~/.cache/moetrain), keyed by the
   hashes of the tokenizer file, the data files and the prompt settings: a second run starts
   instantly. Without a usable cache directory the set is simply tokenized. */
static const char *cache_path(const TrainOptions *o, const char *tk_path, const McDataset *ds, const PromptConfig *pc,
                              char *buf, size_t n) {
    const char *env = getenv("MOETRAIN_CACHE"), *home = getenv("HOME");
    char dir[700];
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else if (home && *home) {
        snprintf(dir, sizeof dir, "%s/.cache", home);
        mkdir(dir, 0755);
        snprintf(dir, sizeof dir, "%s/.cache/moetrain", home);
    } else return NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return NULL;
    uint64_t th, dh;
    Error ignored;
    if (token_cache_keys(tk_path, ds, pc, &th, &dh, &ignored)) return NULL;
    snprintf(buf, n, "%s/%s-%016llx-%016llx.tok", dir, o->task, (unsigned long long)th, (unsigned long long)dh);
    return buf;
}

static Status tokenize(const TrainOptions *o, const char *tk_path, const McDataset *ds, const Tokenizer *tk, int limit,
                       TokenizedSet *ts, Error *err) {
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.max_len = o->seq;
    char buf[1024];
    int cached = 0;
    Status s = dataset_tokenize_cached(ds, tk, tk_path, &pc, cache_path(o, tk_path, ds, &pc, buf, sizeof buf), ts,
                                       &cached, err);
    if (!s && cached == TOKEN_CACHE_HIT) printf("note: %s %s examples read from the token cache\n", ds->task, ds->files[0]);
    if (!s && cached == TOKEN_CACHE_REBUILT) printf("note: the token cache was damaged, not used, rebuilt: %s\n", err->message);
    if (!s && limit > 0 && limit < ts->n) ts->n = limit;
    return s;
}

static void print_config(const TrainOptions *o, const LlamaModel *m, const TokenizedSet *tr, const TokenizedSet *dev) {
    const ModelConfig *c = &m->cfg;
    printf("moetrain train: task %s, adapter %s (rank %d, alpha %g, targets %s), seed %d\n", o->task, o->ad.adapter,
           o->ad.rank, o->ad.alpha, o->ad.targets, o->seed);
    const AdapterConfig *a = &m->acfg;
    if (adapter_is_routed(a)) {
        int ffn = m->layers[0].ffn != NULL;
        if (a->n_layer_values > 0)   /* per-layer lists: the values of every layer */
            printf("  experts: --experts %s --null %s --top-k %s (per layer) %s", o->ad.experts_s, o->ad.null_s,
                   o->ad.top_k_s, ffn ? "in the MoE FFN" : "per adapted linear");
        else
            printf("  experts: %d true + %d null %s, top-%d", ffn ? m->layers[0].ffn->n_true : a->n_true,
                   ffn ? m->layers[0].ffn->n_null : a->n_null, ffn ? "in the MoE FFN" : "per adapted linear",
                   ffn ? m->layers[0].ffn->top_k : a->top_k);
        printf(", normalize %s, null %s, aux %s (coef %g, %s)\n", moe_normalize_name(a->normalize),
               moe_null_kind_name(a->null_kind), moe_aux_kind_name(a->aux), a->aux_coef,
               !strcmp(o->ad.aux_schedule, "epoch") && o->ad.aux_coefs ? o->ad.aux_coefs : o->ad.aux_schedule);
        if (a->routing == MOE_ROUTING_EXPERT_CHOICE && a->n_null > 0)
            printf("  note: expert-choice routing never picks null experts: --null %d only adds router columns\n", a->n_null);
    }
    printf("  build: real=%s simd=%s threads=%d", sizeof(real) == 8 ? "double" : "float", gemm_simd_level(), threads_count());
    if (comm_size() > 1) printf(" per rank, %d ranks (%s): batch %d per rank", comm_size(), comm_backend(), o->batch / comm_size());
    printf("\n");
    printf("  model: %s (dim %d, layers %d, heads %d/%d, hidden %d, vocab %d, ctx %d)\n", o->model, c->dim,
           c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim, c->vocab_size, c->max_seq_len);
    size_t fz = param_store_count(&m->ps, PARAM_FROZEN), tn = param_store_count(&m->ps, PARAM_TRAINABLE);
    printf("  parameters: %zu frozen, %zu trainable (%.3f%%); memory ~%.1f MB for weights + optimizer\n", fz, tn,
           100.0 * (double)tn / (double)(fz + tn), (double)(param_store_bytes(&m->ps) + 2 * tn * sizeof(real)) / 1e6);
    if (m->ps.mapped_numel)
        printf("  frozen base: %.1f MB of bf16 matrices mapped from the checkpoint file, not copied\n",
               (double)m->ps.mapped_numel * 2 / 1e6);
    if (m->ps.frozen_quant)
        printf("  frozen base: %s (%.1f MB of codes + scales; embedding, LM head and routers bf16)\n",
               o->base_dtype, (double)m->ps.frozen_q_bytes / 1e6);
    printf("  data: %d train, %d dev examples; batch %d x accum %d, seq %d, epochs %d, lr %g (%s)\n", tr->n,
           dev ? dev->n : 0, o->batch, o->accum, o->seq, o->epochs, o->lr, o->schedule);
}

static Status write_config(const char *out, const Flag *flags, int n, Error *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", out);
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    train_options_write_json(af.f, flags, n);
    return atomic_write_commit(&af, err);
}

typedef struct {
    LlamaModel model;
    Tokenizer tk;
    McDataset train_ds, dev_ds;
    TokenizedSet train, dev;
    int have_model, have_tk, have_train, have_dev;
    MemPlan plan;                 /* the memory estimate and the --recompute decision */
} Run;

static void run_free(Run *r) {
    if (r->have_dev) { tokenized_set_free(&r->dev); mc_dataset_free(&r->dev_ds); }
    if (r->have_train) { tokenized_set_free(&r->train); mc_dataset_free(&r->train_ds); }
    if (r->have_tk) tokenizer_free(&r->tk);
    if (r->have_model) llama_free(&r->model);
}

/* identity null experts pass x through, so they need in == out; a run where no routed linear
   has that would silently get zero nulls */
static Status check_identity_nulls(const LlamaModel *m, Error *err) {
    if (!adapter_is_routed(&m->acfg) || m->acfg.null_kind != MOE_NULL_IDENTITY || m->layers[0].ffn) return STATUS_OK;
    int routed = 0, in = 0, out = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const LoraLinear *lin[7] = { &m->layers[l].q, &m->layers[l].k, &m->layers[l].v, &m->layers[l].o,
                                     &m->layers[l].gate, &m->layers[l].up, &m->layers[l].down };
        for (int j = 0; j < 7; j++) {
            const MoeLinear *x = lin[j]->moe;
            if (!x || x->n_null == 0) continue;
            if (x->identity_nulls) return STATUS_OK;
            routed++, in = x->in, out = x->out;
        }
    }
    if (!routed) return STATUS_OK;
    return error_set(err, STATUS_INVALID, "target square linears (q, o; k, v without GQA), or use --null-kind zero",
                     "identity null experts need in == out, but every targeted linear maps %d -> %d (or similar) values",
                     in, out);
}

static Status run_load(Run *r, TrainOptions *o, Error *err) {
    AdapterConfig acfg;
    Status s = adapter_options_config(&o->ad, NULL, &acfg, err);   /* shared with eval, forward-backward, make-tiny */
    if (!s && o->init_adapter) {   /* the saved adapter's shape wins over --rank/--targets */
        s = adapter_read_config(o->init_adapter, &acfg, err);
        if (!s) printf("starting from adapter %s (rank %d, alpha %g)\n", o->init_adapter, acfg.rank, acfg.alpha);
    }
    MemBudget budget = { .limit = 0, .batch = o->batch, .seq = o->seq, .limit_name = "--max-memory", .plan = &r->plan };
    if (!s) s = recompute_option_parse(o->recompute, &budget.recompute, err);
    if (!s && o->max_memory && !memory_parse_size(o->max_memory, &budget.limit))
        s = error_set(err, STATUS_INVALID, "e.g. --max-memory 12G (k, M, G, T; > 0)", "--max-memory: '%s' is not a size",
                      o->max_memory);
    int dtype = BASE_DTYPE_AUTO;
    if (!s) s = base_dtype_code(o->base_dtype, o->expert_dtype, 1, &dtype, err);
    if (!s) s = model_load_budget(&r->model, o->model, &acfg, dtype, &budget, err);
    if (!s && (s = adapter_moe_check_layers(&acfg, r->model.cfg.n_layers, err))) llama_free(&r->model);
    if (s) return s;
    r->have_model = 1;
    r->model.recompute = r->plan.recompute;
    if ((s = check_identity_nulls(&r->model, err))) return s;
    int ctx = r->model.cfg.max_seq_len;
    if (o->seq > ctx)
        return error_set(err, STATUS_INVALID, NULL, "--seq %d is above the model's context of %d tokens (allowed 8..%d)", o->seq,
                         ctx, ctx);
    if (o->seq == 0) o->seq = ctx < 256 ? ctx : 256;
    char buf[1024];
    const char *tkp = default_tokenizer(o, buf, sizeof buf);
    if (!tkp) return error_set(err, STATUS_INVALID, "e.g. --tokenizer tok512.bin", "--tokenizer is required for a llama2.c model");
    s = tokenizer_load(&r->tk, tkp, r->model.cfg.vocab_size, err);
    if (s) return s;
    r->have_tk = 1;
    s = load_split(o, "train", o->train_file, &r->train_ds, err);   /* task_load frees what it read on failure */
    if (s) return s;
    r->have_train = 1;                                               /* run_free frees the set and the tokens */
    if ((s = tokenize(o, tkp, &r->train_ds, &r->tk, o->train_limit, &r->train, err))) return s;
    s = load_split(o, o->split, o->dev_file, &r->dev_ds, err);
    if (s) return s;
    r->have_dev = 1;
    s = tokenize(o, tkp, &r->dev_ds, &r->tk, 0, &r->dev, err);
    if (!s && r->train.n_truncated) printf("note: %d training prompts were trimmed on the left to fit --seq %d\n", r->train.n_truncated, o->seq);
    return s;
}

static void trainer_config_from(const TrainOptions *o, const McDataset *dev, TrainConfig *tc) {
    train_config_default(tc);
    tc->epochs = o->epochs;
    tc->max_steps = o->max_steps;
    tc->batch = o->batch;
    tc->accum = o->accum;
    tc->lr = o->lr;
    tc->min_lr = o->min_lr;
    tc->weight_decay = o->weight_decay;
    tc->clip = o->clip;
    tc->warmup_ratio = o->warmup;
    tc->eval_every = o->eval_every;
    tc->save_every = o->save_every;
    tc->eval_limit = o->eval_limit;
    tc->eval_batch = o->eval_batch;
    tc->seed = (uint64_t)o->seed;
    tc->positive_choice = dev->positive_choice;
    tc->out_dir = o->out;
    tc->task = o->task;
    tc->eval_split = !strcmp(dev->split, "test") ? "test" : !strcmp(dev->split, "train") ? "train" : "dev";
    tc->model_name = o->model;
    tc->loss_on_all = !strcmp(o->loss_on, "all");
    tc->group_by_length = o->group_by_length;
    tc->skip_nonfinite = o->skip_nonfinite;
}

/* Everything before the first step: options into tc, --out, the adapter, the trainer, the
   resume. *done = 1 when a resumed run has nothing left to do. Rank 0 alone touches --out. */
static Status run_setup(Run *r, const TrainOptions *o, const Flag *flags, int nf, Trainer *tr, int *have_tr, int *done,
                        Error *err) {
    TrainConfig tc;
    trainer_config_from(o, &r->dev_ds, &tc);
    const char *out = comm_rank() == 0 ? o->out : NULL;
    tc.out_dir = out;
    Status s = lr_schedule_parse(o->schedule, &tc.schedule, err);
    if (!s) s = aux_schedule_from_options(o, &tc, err);
    if (s) return s;
    if (out && mkdir(out, 0755) != 0 && errno != EEXIST)
        return error_set(err, STATUS_IO, NULL, "cannot create --out %s: %s", out, strerror(errno));
    /* a full disk or an unwritable --out is found now, not at the first checkpoint */
    double ckpt_bytes = 5.0 * (double)r->model.ps.train_numel * sizeof(real) + 1e6;
    if (out && (s = dir_probe_write(out, ckpt_bytes, err))) return err->status = STATUS_RUNTIME;
    if (out && !o->resume && (s = write_config(out, flags, nf, err))) return s;
    llama_init_adapter(&r->model, (uint64_t)o->seed);
    if (o->init_adapter && (s = adapter_load(&r->model, o->init_adapter, err))) return s;
    print_config(o, &r->model, &r->train, &r->dev);
    recompute_option_print(&r->plan);
    if ((s = train_field_apply(&r->model, o, &tc, err))) return s;
    if ((s = trainer_init(tr, &r->model, &r->train, &r->dev, &tc, err))) return s;
    *have_tr = 1;
    if (!o->resume) return STATUS_OK;
    if ((s = trainer_load_state(tr, o->resume, err))) return s;
    printf("resumed %s at step %ld of %ld\n", o->resume, tr->step, tr->total_steps);
    if (tr->step >= tr->total_steps) {
        printf("nothing to do: %s already finished its %ld steps (raise --max-steps or --epochs to go on)\n",
               o->resume, tr->total_steps);
        *done = 1;
    }
    return STATUS_OK;
}

static Status run_train(Run *r, const TrainOptions *o, const Flag *flags, int nf, Error *err) {
    Trainer tr;
    int have_tr = 0, done = 0;
    Status s = run_setup(r, o, flags, nf, &tr, &have_tr, &done, err);
    s = train_ranks_agree(s, err);   /* every rank, failed or not: all start, or none */
    const char *out = comm_rank() == 0 ? o->out : NULL;
    if (!s && !done) {
        TrainLog log = { .out_dir = out, .log_every = o->log_every, .quiet = comm_rank() > 0 };
        TrainHooks hooks = train_log_hooks(&log);
        void (*before)(int) = signal(SIGINT, on_sigint);
        s = trainer_run(&tr, &hooks, err);
        signal(SIGINT, before);
        train_log_close(&log);
    }
    if (!s && !done && out) {
        char m[1024], svg[1024];
        snprintf(m, sizeof m, "%s/metrics.jsonl", out);
        snprintf(svg, sizeof svg, "%s/report.svg", out);
        s = report_svg_write(m, svg, out, err);
        if (!s) printf("wrote %s/{metrics.jsonl, report.svg, config.json, checkpoint/, adapter/}\n", out);
    }
    if (!s && !done && trainer_stop_requested())
        printf("interrupted at step %ld: checkpoint saved; continue with ./train train --resume %s\n", tr.step, o->out ? o->out : "OUT");
    else if (!s && !done)
        printf("done: %ld steps, final loss %.4f, dev acc %.4f (best %.4f at step %ld)\n", tr.step, tr.last_loss,
               tr.last_eval.acc, tr.best_eval.acc, tr.best_step);
    if (have_tr) trainer_free(&tr);
    return s;
}

int train_cli(int argc, char **argv) {
    TrainOptions o;
    Flag flags[TRAIN_OPTIONS_MAX_FLAGS];
    int nf, help;
    Error err;
    train_ranks_begin();   /* first: the flag checks know R */
    Status s = parse_options(&o, flags, &nf, argc, argv, &help, &err);
    if (help) {
        flags_print_help(stdout, "usage: ./train train --model M --tokenizer T --task TASK --data DIR --out OUT [options]", flags, nf);
        return 0;
    }
    if (!s) threads_init(train_ranks_threads(o.threads));
    Run r;
    memset(&r, 0, sizeof r);
    if (!s) s = run_load(&r, &o, &err);
    if (!s) s = run_train(&r, &o, flags, nf, &err);   /* takes part in the ranks' agreement */
    else s = train_ranks_agree(s, &err);               /* failed before: still takes part */
    run_free(&r);
    if (s) return train_ranks_fail(&err, s);
    if (trainer_stop_requested()) return 130;
    return 0;
}
