/* optim/trainer.c — the training loop (see trainer.h). Checkpoints: train_state.c; records and
   progress: the caller's TrainHooks (cli/train_log.c). */
#include "optim/trainer.h"
#include "optim/clip.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_flag = 0;
void trainer_request_stop(void) { stop_flag = 1; }
int trainer_stop_requested(void) { return stop_flag != 0; }

void train_config_default(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->epochs = 1;
    c->batch = 8;
    c->accum = 1;
    c->lr = 3e-4;
    c->min_lr = 0;
    c->weight_decay = 0.0;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->clip = 1.0;
    c->schedule = LR_LINEAR;
    c->warmup_ratio = 0.03;
    c->eval_batch = 16;
    c->seed = 42;
    c->positive_choice = -1;
    c->task = "";
    c->aux.kind = AUX_CONST;
    c->aux_from_adapter = 1;
}

/* the epoch the next batch belongs to (the iterator moves on only when asked past the end) */
static int next_batch_epoch(const BatchIter *it) {
    int rows = it->ts->n - it->pos;
    return rows <= 0 || (it->cfg.drop_last && rows < it->cfg.batch_size) ? it->epoch + 1 : it->epoch;
}

static double progress_now(const Trainer *tr) {
    return tr->total_steps > 0 ? (double)tr->step / (double)tr->total_steps : 0;
}

/* aux-loss coefficient of the current step */
static double aux_coef_now(const Trainer *tr) {
    if (tr->cfg.aux_from_adapter) return tr->model->acfg.aux_coef;
    return aux_schedule_at(&tr->cfg.aux, progress_now(tr), next_batch_epoch(&tr->it));
}

double train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Weight decay only on matrices: not on norms (1-D) nor routers (names with "router"/"gate2"),
   nor on routed LoRA experts frozen by --freeze-experts (they get no gradient: AdamW leaves them). */
static void set_decay_mask(Trainer *tr) {
    const ParamStore *ps = &tr->model->ps;
    int frozen_experts = tr->model->acfg.freeze_experts && tr->model->moe;
    for (int i = 0; i < ps->n; i++) {
        const Tensor *t = ps->params[i];
        if (!t->grad) continue;
        int decay = t->ndim >= 2 && !strstr(t->name, "router") && !strstr(t->name, "gate2") &&
                    !(frozen_experts && strstr(t->name, ".lora_"));
        size_t off = (size_t)(t->data - ps->train);
        memset(tr->opt.decay + off, decay, t->numel);
    }
}

Status trainer_init(Trainer *tr, LlamaModel *m, const TokenizedSet *train, const TokenizedSet *dev,
                    const TrainConfig *cfg, Error *err) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    tr->model = m;
    tr->train = train;
    tr->dev = dev;
    if (m->ps.train_numel == 0)
        return error_set(err, STATUS_INVALID, "choose --adapter lora (or full)", "the model has no trainable parameters");
    if (train->n == 0) return error_set(err, STATUS_INVALID, NULL, "the training set is empty");
    BatchConfig bc;
    batch_config_default(&bc);
    bc.batch_size = cfg->batch;
    bc.seed = cfg->seed;
    bc.loss_on_all = cfg->loss_on_all;
    bc.group_by_length = cfg->group_by_length;
    Status s = batch_iter_init(&tr->it, train, &bc, err);
    if (s) return s;
    long batches_per_epoch = (train->n + cfg->batch - 1) / cfg->batch;
    long steps_per_epoch = (batches_per_epoch + cfg->accum - 1) / cfg->accum;
    tr->total_steps = cfg->max_steps > 0 ? cfg->max_steps : steps_per_epoch * cfg->epochs;
    AdamWConfig ac = { cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay };
    adamw_init(&tr->opt, &ac, m->ps.train_numel);
    set_decay_mask(tr);
    tr->sched = (LrSchedule){ cfg->schedule, cfg->lr, cfg->min_lr, (long)(cfg->warmup_ratio * tr->total_steps),
                              tr->total_steps };
    arena_init(&tr->arena, (size_t)64 << 20);
    tape_init(&tr->tape, &tr->arena);
    tr->drop_rng = rng_derive(cfg->seed, 3);
    tr->best_step = -1;
    return STATUS_OK;
}

/* The module a tape entry belongs to: the nearest parameter (a name with a '.', e.g.
   "layers.1.attn.wq") among its inputs or those of the entries before it. */
static const char *entry_module(const Tape *t, int i) {
    for (; i >= 0; i--)
        for (int k = 0; k < t->entries[i].n_in; k++) {
            const char *n = t->entries[i].in[k] ? t->entries[i].in[k]->name : NULL;
            if (n && strchr(n, '.')) return n;
        }
    return "the embedding";
}

/* "op 'X' near MODULE": the first recorded op whose output holds a NaN or inf */
static void first_non_finite(const Tape *t, char *buf, size_t n) {
    for (int i = 0; i < t->n; i++) {
        const Tensor *o = t->entries[i].out;
        for (size_t j = 0; j < o->numel; j++)
            if (!isfinite(o->data[j])) {
                snprintf(buf, n, "op '%s' in %s", t->entries[i].op, entry_module(t, i));
                return;
            }
    }
    snprintf(buf, n, "the loss");
}

/* the first trainable tensor whose gradient is not finite */
static const char *first_bad_grad(const ParamStore *ps) {
    for (int i = 0; i < ps->n; i++) {
        const Tensor *p = ps->params[i];
        if (p->grad)
            for (size_t j = 0; j < p->numel; j++)
                if (!isfinite(p->grad[j])) return p->name;
    }
    return "?";
}

/* One micro-batch: forward, backward with the loss scaled by 1/accum. Returns the loss. */
static Status micro_step(Trainer *tr, double *loss_out, LossParts *parts, int *tokens, Error *err) {
    Batch b;
    if (!batch_next(&tr->it, &b)) batch_next(&tr->it, &b);   /* epoch boundary */
    Tensor *loss = llama_loss_padded(&tr->tape, tr->model, b.input_ids, b.targets, b.lengths, b.B, b.T,
                                     tr->last_aux_coef, &tr->drop_rng, parts);
    *loss_out = (double)loss->data[0];
    *tokens += b.B * b.T;
    Status s = STATUS_OK;
    if (!isfinite(*loss_out)) {
        char where[256];
        first_non_finite(&tr->tape, where, sizeof where);
        s = error_set(err, STATUS_RUNTIME, "lower --lr, check the data, or skip bad batches with --skip-nonfinite N",
                      "non-finite loss at step %ld: the first non-finite value comes from %s", tr->step + 1, where);
    } else {
        loss->grad[0] = (real)(1.0 / tr->cfg.accum);
        tape_backward_seeded(&tr->tape);
    }
    tape_reset(&tr->tape);
    arena_reset(&tr->arena);
    return s;
}

/* forward + backward of the step's micro-batches; the gradient norm (clipped) */
static Status step_grads(Trainer *tr, double *loss_sum, double *ce_sum, double *aux_sum, int *tokens, Error *err) {
    ParamStore *ps = &tr->model->ps;
    for (int a = 0; a < tr->cfg.accum; a++) {
        double l;
        LossParts parts;
        Status s = micro_step(tr, &l, &parts, tokens, err);
        *loss_sum += l;
        if (s) return s;
        *ce_sum += parts.ce;
        *aux_sum += parts.aux;
    }
    tr->last_grad_norm = clip_grad_norm(ps->train_grad, ps->train_numel, tr->cfg.clip);
    if (!isfinite(tr->last_grad_norm))
        return error_set(err, STATUS_RUNTIME, "lower --lr, or skip bad batches with --skip-nonfinite N",
                         "non-finite gradient at step %ld: first in %s", tr->step + 1, first_bad_grad(ps));
    return STATUS_OK;
}

/* One optimizer step. A non-finite loss or gradient stops the run, unless --skip-nonfinite
   still allows: then the step makes no update (the data and the schedule move on) and counts
   in tr->skipped. */
static Status train_step(Trainer *tr, double *lr_used, Error *err) {
    ParamStore *ps = &tr->model->ps;
    double t0 = train_now(), loss_sum = 0, ce_sum = 0, aux_sum = 0;
    int tokens = 0;
    param_store_zero_grad(ps);
    if (tr->model->moe) moe_stats_reset(&tr->model->moe->stats);
    tr->last_aux_coef = aux_coef_now(tr);
    tr->last_top_k = topk_schedule_at(&tr->cfg.topk, progress_now(tr), next_batch_epoch(&tr->it));
    if (tr->model->moe) tr->model->moe->k_now = tr->last_top_k;   /* this step only: evals use the adapter's k */
    Status s = step_grads(tr, &loss_sum, &ce_sum, &aux_sum, &tokens, err);
    if (tr->model->moe) tr->model->moe->k_now = 0;
    if (s && (s != STATUS_RUNTIME || tr->skipped >= tr->cfg.skip_nonfinite)) return s;
    double lr = lr_schedule_at(&tr->sched, tr->step);
    if (s) {
        tr->skipped++;
        tr->last_grad_norm = NAN;
        loss_sum = ce_sum = aux_sum = NAN;
    } else {
        adamw_step(&tr->opt, ps->train, ps->train_grad, lr);
    }
    tr->last_ce = ce_sum / tr->cfg.accum;
    tr->last_aux = aux_sum / tr->cfg.accum;
    tr->step++;
    tr->epoch = tr->it.epoch;
    tr->last_loss = loss_sum / tr->cfg.accum;
    double dt = train_now() - t0;
    tr->seconds += dt;
    tr->tokens += tokens;
    tr->tok_per_s = dt > 0 ? tokens / dt : 0;
    *lr_used = lr;
    return STATUS_OK;
}

static Status run_eval(Trainer *tr, const TrainHooks *h, Error *err) {
    if (!tr->dev || tr->dev->n == 0) return STATUS_OK;
    if (tr->model->moe) moe_stats_reset(&tr->model->moe->stats);
    Status s = evaluate_letters(tr->model, tr->dev, tr->cfg.positive_choice, tr->cfg.eval_limit,
                                tr->cfg.eval_batch, &tr->arena, &tr->last_eval, err);
    if (s) return s;
    if (tr->best_step < 0 || tr->last_eval.acc > tr->best_eval.acc) {
        tr->best_eval = tr->last_eval;
        tr->best_step = tr->step;
    }
    if (h->eval) h->eval(h->ctx, tr);
    return STATUS_OK;
}

/* A failed save (a full disk, say) is a runtime failure: the atomic writer left the previous
   checkpoint as it was. */
static Status save(const Trainer *tr, Error *err) {
    Status s = trainer_save_state(tr, tr->cfg.out_dir, err);
    if (s == STATUS_IO) {
        snprintf(err->hint, sizeof err->hint, "free disk space, then continue with --resume: the previous checkpoint is intact");
        err->status = s = STATUS_RUNTIME;
    }
    return s;
}

Status trainer_run(Trainer *tr, const TrainHooks *hooks, Error *err) {
    static const TrainHooks none = { 0 };
    const TrainHooks *h = hooks ? hooks : &none;
    Status s = h->start ? h->start(h->ctx, tr, err) : STATUS_OK;
    TrainAction act = TRAIN_CONTINUE;
    while (!s && tr->step < tr->total_steps && !stop_flag && act == TRAIN_CONTINUE) {
        double lr = 0;
        s = train_step(tr, &lr, err);
        if (!s && h->step) act = h->step(h->ctx, tr, lr);
        if (!s && act == TRAIN_ABANDON) return STATUS_OK;
        if (!s && act == TRAIN_CONTINUE && tr->cfg.eval_every > 0 && tr->step % tr->cfg.eval_every == 0 &&
            tr->step < tr->total_steps)
            s = run_eval(tr, h, err);
        if (!s && act == TRAIN_CONTINUE && tr->cfg.out_dir && tr->cfg.save_every > 0 && tr->step % tr->cfg.save_every == 0)
            s = save(tr, err);
    }
    if (h->steps_done) h->steps_done(h->ctx, tr);
    int stopped = stop_flag || act == TRAIN_STOP;
    if (!s && !stopped) s = run_eval(tr, h, err);
    if (!s && tr->cfg.out_dir) s = save(tr, err);
    if (!s && !stopped && h->finished) h->finished(h->ctx, tr);
    return s;
}

void trainer_free(Trainer *tr) {
    adamw_free(&tr->opt);
    tape_free(&tr->tape);
    arena_free(&tr->arena);
    batch_iter_free(&tr->it);
}
