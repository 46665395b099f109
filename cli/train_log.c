/* cli/train_log.c — metrics records and progress output (see train_log.h). */
#include "cli/train_log.h"
#include "data/json.h"
#include "tensor/comm.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ,"key":v (null when v is not finite: metrics.jsonl stays JSON whatever the run does) */
static void num(FILE *f, const char *key, const char *fmt, double v) {
    fprintf(f, ",\"%s\":", key);
    json_write_number(f, fmt, v);
}

/* Keeps the lines of `path` whose "step" is <= max_step (resume). */
static Status keep_records_upto(const char *path, long max_step, Error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return STATUS_OK;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "w");
    if (!o) { fclose(f); return error_set(err, STATUS_IO, NULL, "cannot write %s: %s", tmp, strerror(errno)); }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        const char *p = strstr(line, "\"step\":");
        size_t len = strlen(line);   /* a line cut by a kill has no newline: dropped */
        if (p && len && line[len - 1] == '\n' && atol(p + 7) <= max_step && !strstr(line, "\"type\":\"summary\""))
            fputs(line, o);
    }
    free(line);
    fclose(f);
    if (fclose(o) != 0 || rename(tmp, path) != 0)
        return error_set(err, STATUS_IO, NULL, "cannot rewrite %s", path);
    return STATUS_OK;
}

static Status log_start(void *ctx, const Trainer *tr, Error *err) {
    TrainLog *log = ctx;
    if (!log->out_dir) return STATUS_OK;
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", log->out_dir);
    if (tr->step > 0) {
        Status s = keep_records_upto(path, tr->step, err);
        if (s) return s;
    }
    log->metrics = fopen(path, tr->step > 0 ? "a" : "w");
    if (!log->metrics)
        return error_set(err, STATUS_IO, "check that --out is a writable directory", "cannot open %s: %s", path, strerror(errno));
    return STATUS_OK;
}

/* ,"key":[v0,v1,...] with one value per layer of the router statistics */
static void layer_list(FILE *f, const MoeStats *st, const char *key, int what) {
    fprintf(f, ",\"%s\":[", key);
    for (int l = 0; l < st->n_layers; l++) {
        MoeSummary s;
        moe_summary_layer(st, l, &s);
        double v = what == 0 ? s.load : what == 1 ? s.null_fraction : what == 2 ? s.bypass_fraction : s.entropy;
        if (l) fputc(',', f);
        json_write_number(f, "%.6g", v);
    }
    fputc(']', f);
}

/* ,"load_per_module":{"q":[per layer, null where not routed], ...}: the modules routed anywhere
   (slot MOE_FFN_SLOT is "ffn" on MoE FFN models, whose FFN router records there) */
static void module_lists(FILE *f, const LlamaModel *m) {
    static const char *const names[MOE_MODULES] = { "q", "k", "v", "o", "gate", "up", "down" };
    const MoeStats *st = &m->moe->stats;
    int first = 1;
    fprintf(f, ",\"load_per_module\":{");
    for (int j = 0; j < MOE_MODULES; j++) {
        int used = 0;
        for (int l = 0; l < st->n_layers; l++) used |= st->mod[l * MOE_MODULES + j].tokens > 0;
        if (!used) continue;
        const char *name = j == MOE_FFN_SLOT && m->layers[0].ffn ? "ffn" : names[j];
        fprintf(f, "%s\"%s\":[", first ? "" : ",", name);
        first = 0;
        for (int l = 0; l < st->n_layers; l++) {
            MoeSummary s;
            moe_summary_module(st, l, j, &s);
            if (l) fputc(',', f);
            json_write_number(f, "%.6g", s.tokens > 0 ? s.load : NAN);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

void train_log_moe_fields(FILE *f, const LlamaModel *m, int full) {
    if (!m->moe) {
        fprintf(f, ",\"load\":null");
        if (full) fprintf(f, ",\"load_per_layer\":[],\"flops_saved\":null");
        return;
    }
    const MoeStats *st = &m->moe->stats;
    MoeSummary ms;
    moe_summary_model(st, &ms);
    num(f, "load", "%.6g", ms.load);
    layer_list(f, st, "load_per_layer", 0);
    num(f, "flops_saved", "%.6g", ms.flops_saved);
    if (!full) return;
    num(f, "null_fraction", "%.6g", ms.null_fraction);
    num(f, "bypass_fraction", "%.6g", ms.bypass_fraction);
    num(f, "router_entropy", "%.6g", ms.entropy);
    layer_list(f, st, "null_fraction_per_layer", 1);
    layer_list(f, st, "bypass_fraction_per_layer", 2);
    module_lists(f, m);
    fprintf(f, ",\"expert_fraction_per_layer\":[");
    for (int l = 0; l < st->n_layers; l++) {
        MoeSummary s;
        moe_summary_layer(st, l, &s);
        fprintf(f, "%s[", l ? "," : "");
        for (int i = 0; i < s.n_experts; i++) {
            if (i) fputc(',', f);
            json_write_number(f, "%.6g", s.expert_fraction[i]);
        }
        fputc(']', f);
    }
    fprintf(f, "],\"true_experts_hist\":[");
    int last = st->top_k;   /* top-p / dense / expert-choice may use more than k true experts */
    for (int j = st->top_k + 1; j <= st->n_true; j++) if (ms.true_hist[j] > 0) last = j;
    for (int j = 0; j <= last; j++) {
        if (j) fputc(',', f);
        json_write_number(f, "%.6g", ms.true_hist[j]);
    }
    fputc(']', f);
}

static void progress(const TrainLog *log, const Trainer *tr, double lr) {
    if (log->quiet) return;
    double eta = tr->tok_per_s > 0 ? tr->seconds / (double)tr->step * (double)(tr->total_steps - tr->step) : 0;
    int tty = isatty(fileno(stderr));
    if (!tty && log->log_every > 0 && tr->step % log->log_every != 0 && tr->step != tr->total_steps) return;
    char load[48] = "";
    if (tr->model->moe) {
        MoeSummary ms;
        moe_summary_model(&tr->model->moe->stats, &ms);
        int n = snprintf(load, sizeof load, " load %.2f aux %.3f", ms.load, tr->last_aux);
        if (tr->last_top_k > 0) snprintf(load + n, sizeof load - (size_t)n, " k %d", tr->last_top_k);
    }
    char ranks[48] = "";   /* data parallel: R, and the share of the step spent summing gradients */
    if (comm_size() > 1)
        snprintf(ranks, sizeof ranks, " on %d ranks (sum %.0f ms)", comm_size(), 1e3 * tr->last_comm_seconds);
    fprintf(tty ? stderr : stdout, "%sepoch %d step %ld/%ld loss %.4f%s lr %.2e grad %.3f %.0f tok/s%s ETA %dm%02ds%s",
            tty ? "\r" : "", tr->epoch + 1, tr->step, tr->total_steps, tr->last_loss, load, lr, tr->last_grad_norm,
            tr->tok_per_s, ranks, (int)eta / 60, (int)eta % 60, tty ? "   " : "\n");
    fflush(tty ? stderr : stdout);
}

static void log_steps_done(void *ctx, const Trainer *tr) {
    const TrainLog *log = ctx;
    if (!log->quiet && isatty(fileno(stderr)) && tr->step > 0) fputc('\n', stderr);
}

static TrainAction log_step(void *ctx, const Trainer *tr, double lr) {
    TrainLog *log = ctx;
    progress(log, tr, lr);
    if (!log->metrics) return TRAIN_CONTINUE;
    FILE *f = log->metrics;
    fprintf(f, "{\"type\":\"train\",\"step\":%ld,\"epoch\":%d", tr->step, tr->epoch);
    num(f, "loss", "%.9g", tr->last_loss);
    num(f, "ce", "%.9g", tr->last_ce);
    num(f, "aux", "%.9g", tr->last_aux);
    num(f, "aux_coef", "%.9g", tr->model->moe ? tr->last_aux_coef : 0.0);
    num(f, "lr", "%.9g", lr);
    num(f, "grad_norm", "%.9g", tr->last_grad_norm);
    if (tr->skipped > 0) fprintf(f, ",\"skipped_nonfinite\":%d", tr->skipped);
    if (tr->last_top_k > 0) fprintf(f, ",\"top_k\":%d", tr->last_top_k);   /* --top-k-schedule */
    num(f, "tok_per_s", "%.1f", tr->tok_per_s);
    train_log_moe_fields(log->metrics, tr->model, 0);
    fprintf(log->metrics, "}\n");
    fflush(log->metrics);
    return TRAIN_CONTINUE;
}

static void log_eval(void *ctx, const Trainer *tr) {
    TrainLog *log = ctx;
    const EvalResult *e = &tr->last_eval;
    if (!log->quiet)
        printf("eval step %ld: acc %.4f%s (n=%d, letter loss %.4f)\n", tr->step, e->acc,
               tr->cfg.positive_choice >= 0 ? "" : "", e->n, e->loss);
    if (tr->cfg.positive_choice >= 0 && !log->quiet)
        printf("  mcc %.4f (tp %ld tn %ld fp %ld fn %ld)\n", e->mcc, e->counts.tp, e->counts.tn, e->counts.fp, e->counts.fn);
    if (tr->model->moe && !log->quiet) {
        MoeSummary ms;
        moe_summary_model(&tr->model->moe->stats, &ms);
        printf("  load %.3f (%.1f%% expert FLOPs saved vs top-%g), null fraction %.3f, bypass %.3f\n", ms.load,
               100 * ms.flops_saved, tr->model->moe->stats.k_baseline, ms.null_fraction, ms.bypass_fraction);
    }
    if (!log->metrics) return;
    fprintf(log->metrics, "{\"type\":\"eval\",\"step\":%ld,\"epoch\":%d,\"split\":\"%s\",\"task\":", tr->step, tr->epoch,
            tr->cfg.eval_split ? tr->cfg.eval_split : "dev");
    json_write_string(log->metrics, tr->cfg.task, strlen(tr->cfg.task));
    num(log->metrics, "acc", "%.6f", e->acc);
    fprintf(log->metrics, ",\"acc_norm\":null");
    num(log->metrics, "mcc", "%.6f", e->mcc);
    fprintf(log->metrics, ",\"n\":%d", e->n);
    num(log->metrics, "loss", "%.6f", e->loss);
    train_log_moe_fields(log->metrics, tr->model, 1);
    fprintf(log->metrics, "}\n");
    fflush(log->metrics);
}

static void log_finished(void *ctx, const Trainer *tr) {
    TrainLog *log = ctx;
    if (!log->metrics) return;
    FILE *f = log->metrics;
    fprintf(f, "{\"type\":\"summary\",\"step\":%ld", tr->step);
    num(f, "best_acc", "%.6f", tr->best_eval.acc);
    fprintf(f, ",\"best_step\":%ld", tr->best_step);
    num(f, "final_acc", "%.6f", tr->last_eval.acc);
    num(f, "final_mcc", "%.6f", tr->last_eval.mcc);
    num(f, "final_loss", "%.9g", tr->last_loss);
    num(f, "seconds", "%.3f", tr->seconds);
    if (tr->skipped > 0) fprintf(f, ",\"skipped_nonfinite\":%d", tr->skipped);
    train_log_moe_fields(log->metrics, tr->model, 0);     /* of the last evaluation */
    fprintf(log->metrics, "}\n");
    fflush(log->metrics);
}

void train_log_close(TrainLog *log) {
    if (log->metrics) fclose(log->metrics);
    log->metrics = NULL;
}

TrainHooks train_log_hooks(TrainLog *log) {
    return (TrainHooks){ .ctx = log, .start = log_start, .step = log_step, .eval = log_eval,
                         .steps_done = log_steps_done, .finished = log_finished };
}
