/* optim/trainer.c — the training loop (see trainer.h). Checkpoints: train_state.c; records and
   progress: the caller's TrainHooks (cli/train_log.c).
   Data parallel (R ranks, tensor/comm.h; trainer.h says what is global): every rank forms the
   same global batches and keeps its rows (data/batch.h shards); the CE divides by the global
   target count (LlamaModel.loss_rows) and the aux loss uses the global router counts
   (MoeState.global_counts), so each rank's loss is its share of the one-process loss and the
   shares' gradients add up to the one-process gradient. Per step: the losses and the trainable
   gradient block are summed over the ranks (one comm_sum_real of the whole block, after the
   last micro-batch), then clipping and AdamW run identically on every rank. */
#include "optim/trainer.h"
#include "optim/clip.h"
#include "autograd/ops.h"
#include "data/token_cache.h"
#include "nn/model_memory.h"
#include "tensor/check.h"
#include "tensor/comm.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_flag = 0;
void trainer_request_stop(void) { stop_flag = 1; }
/* With R ranks a stop must happen after the same step everywhere (a rank that went on would
   wait in the next sum forever): the flags travel with each step's loss sums (step_grads). */
static int stop_all = 0;
static int stopping(void) { return comm_size() > 1 ? stop_all : stop_flag != 0; }
int trainer_stop_requested(void) { return stop_flag != 0 || stop_all; }

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

/* What R ranks can share. The batch splits evenly; LoRA dropout and stochastic routing draw
   from one random stream across the whole batch and expert-choice routing ranks tokens over the
   whole batch, none of which a rank holding part of the batch can reproduce: refused, rather
   than results that change with R. */
static Status check_ranks(const LlamaModel *m, const TrainConfig *cfg, int R, Error *err) {
    if (R == 1) return STATUS_OK;
    if (cfg->batch % R)
        return error_set(err, STATUS_INVALID, "each rank takes batch/R rows: use a multiple of the rank count",
                         "--batch %d is the global batch and must be a multiple of the %d ranks", cfg->batch, R);
    int routed = adapter_is_routed(&m->acfg);
    const char *why = m->acfg.dropout > 0 ? "LoRA dropout (--dropout) draws one random stream over the whole batch"
                      : routed && m->acfg.routing == MOE_ROUTING_STOCHASTIC ? "--routing stochastic draws one random "
                                                                              "stream over the whole batch"
                      : routed && m->acfg.routing == MOE_ROUTING_EXPERT_CHOICE ? "--routing expert-choice ranks the "
                                                                                 "tokens of the whole batch"
                      : NULL;
    if (why)
        return error_set(err, STATUS_INVALID, "train this configuration in one process (without mpirun)",
                         "%s, which %d ranks holding parts of the batch cannot reproduce", why, R);
    return STATUS_OK;
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
    Status s = check_ranks(m, cfg, comm_size(), err);
    if (s) return s;
    param_store_enable_packs(&m->ps, MEM_PACK_CACHE_BYTES);   /* frozen panels kept while training */
    BatchConfig bc;
    batch_config_default(&bc);
    bc.batch_size = cfg->batch;
    bc.seed = cfg->seed;
    bc.loss_on_all = cfg->loss_on_all;
    bc.group_by_length = cfg->group_by_length;
    bc.shard = comm_rank();
    bc.n_shards = comm_size();
    if ((s = batch_iter_init(&tr->it, train, &bc, err))) return s;
    if (m->moe) m->moe->global_counts = comm_size() > 1;
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
        if (!o || !o->data) continue;   /* a hook entry (tape_record_hook) without an output */
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

/* What the micro-batches of one step add up (on one rank, then over the ranks). */
typedef struct {
    double loss, ce, aux, tokens;
    int bad;                    /* a micro-batch of this rank had a non-finite loss */
    char where[256];            /* the first one's first non-finite op */
} StepSums;

/* One micro-batch: forward, backward with the loss scaled by 1/accum. A non-finite loss skips
   the backward and is noted in ss; the step decides once the ranks have compared (every rank
   runs every micro-batch: the aux loss's count sums are collective). */
static void micro_step(Trainer *tr, StepSums *ss) {
    Batch b;
    if (!batch_next(&tr->it, &b)) batch_next(&tr->it, &b);   /* epoch boundary */
    tr->model->loss_rows = comm_size() > 1 ? b.n_targets_global : 0;
    LossParts parts;
    Tensor *loss = llama_loss_padded(&tr->tape, tr->model, b.input_ids, b.targets, b.lengths, b.B, b.T,
                                     tr->last_aux_coef, &tr->drop_rng, &parts);
    double l = (double)loss->data[0];
    ss->loss += l;
    ss->ce += parts.ce;
    ss->aux += parts.aux;
    ss->tokens += (double)b.B_global * b.T;
    if (!isfinite(l)) {
        if (!ss->bad) first_non_finite(&tr->tape, ss->where, sizeof ss->where);
        ss->bad = 1;
    } else {
        tensor_grad_ready(loss)[0] = (real)(1.0 / tr->cfg.accum);
        tape_backward_seeded(&tr->tape);
    }
    tape_reset(&tr->tape);
    arena_reset(&tr->arena);
}

/* forward + backward of the step's micro-batches, the sums over the ranks (losses, then the
   gradient block), the gradient norm (clipped) */
static Status step_grads(Trainer *tr, StepSums *ss, Error *err) {
    ParamStore *ps = &tr->model->ps;
    for (int a = 0; a < tr->cfg.accum; a++) micro_step(tr, ss);
    double v[5] = { ss->loss, ss->ce, ss->aux, ss->bad, stop_flag != 0 };
    comm_sum_f64(v, 5);   /* the global batch's loss: the ranks' shares added */
    ss->loss = v[0], ss->ce = v[1], ss->aux = v[2];
    stop_all = v[4] > 0;
    if (v[3] > 0 || !isfinite(ss->loss))
        return error_set(err, STATUS_RUNTIME, "lower --lr, check the data, or skip bad batches with --skip-nonfinite N",
                         "non-finite loss at step %ld: the first non-finite value comes from %s", tr->step + 1,
                         ss->bad ? ss->where : "another rank's part of the batch");
    double t0 = train_now();
    comm_sum_real(ps->train_grad, ps->train_numel);   /* one sum per step, in rank order */
    tr->last_comm_seconds = comm_size() > 1 ? train_now() - t0 : 0;
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
    double t0 = train_now();
    StepSums ss = { 0 };
    param_store_zero_grad(ps);
    if (tr->model->moe) moe_stats_reset(&tr->model->moe->stats);
    tr->last_aux_coef = aux_coef_now(tr);
    tr->last_top_k = topk_schedule_at(&tr->cfg.topk, progress_now(tr), next_batch_epoch(&tr->it));
    if (tr->model->moe) tr->model->moe->k_now = tr->last_top_k;   /* this step only: evals use the adapter's k */
    Status s = step_grads(tr, &ss, err);
    if (tr->model->moe) tr->model->moe->k_now = 0;
    if (tr->model->moe && comm_size() > 1) moe_stats_sum_ranks(&tr->model->moe->stats);   /* global Load */
    if (s && (s != STATUS_RUNTIME || tr->skipped >= tr->cfg.skip_nonfinite)) return s;
    double lr = lr_schedule_at(&tr->sched, tr->step);
    if (s) {
        tr->skipped++;
        tr->last_grad_norm = NAN;
        ss.loss = ss.ce = ss.aux = NAN;
    } else {
        adamw_step(&tr->opt, ps->train, ps->train_grad, lr);
    }
    tr->last_ce = ss.ce / tr->cfg.accum;
    tr->last_aux = ss.aux / tr->cfg.accum;
    tr->step++;
    tr->epoch = tr->it.epoch;
    tr->last_loss = ss.loss / tr->cfg.accum;
    double dt = train_now() - t0;
    tr->seconds += dt;
    tr->tokens += ss.tokens;
    tr->tok_per_s = dt > 0 ? ss.tokens / dt : 0;
    *lr_used = lr;
    return STATUS_OK;
}

static Status run_eval(Trainer *tr, const TrainHooks *h, Error *err) {
    if (!tr->dev || tr->dev->n == 0) return STATUS_OK;
    if (tr->model->moe) moe_stats_reset(&tr->model->moe->stats);
    Status s = evaluate_letters_ranks(tr->model, tr->dev, tr->cfg.positive_choice, tr->cfg.eval_limit,
                                      tr->cfg.eval_batch, &tr->arena, &tr->last_eval, err);
    if (tr->model->moe && comm_size() > 1) moe_stats_sum_ranks(&tr->model->moe->stats);
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

/* Every rank must start from the same state (seed, adapter, checkpoint): a hash of the trainable
   values, the AdamW moments and the position, compared with rank 0's; all ranks learn the
   verdict (one sum), so all stop together. */
static Status check_ranks_agree(const Trainer *tr, Error *err) {
    if (comm_size() == 1) return STATUS_OK;
    const ParamStore *ps = &tr->model->ps;
    size_t bytes = ps->train_numel * sizeof(real);
    long pos[4] = { tr->step, tr->it.epoch, tr->it.pos, tr->opt.step };
    uint64_t h = fnv1a64(ps->train, bytes, FNV64_INIT), h0;
    h = fnv1a64(tr->opt.m, bytes, fnv1a64(tr->opt.v, bytes, fnv1a64(pos, sizeof pos, h)));
    h0 = h;
    comm_broadcast(&h0, sizeof h0, 0);
    double differ = h != h0;
    comm_sum_f64(&differ, 1);
    if (differ > 0)
        return error_set(err, STATUS_INVALID, "every rank must read the same --init-adapter / --resume files (a shared "
                         "filesystem, or copies at the same path)", "%g of %d ranks start from a state (adapter, optimizer "
                         "moments or data position) that differs from rank 0's", differ, comm_size());
    return STATUS_OK;
}

Status trainer_run(Trainer *tr, const TrainHooks *hooks, Error *err) {
    static const TrainHooks none = { 0 };
    const TrainHooks *h = hooks ? hooks : &none;
    Status s = check_ranks_agree(tr, err);
    if (!s && h->start) s = h->start(h->ctx, tr, err);
    TrainAction act = TRAIN_CONTINUE;
    while (!s && tr->step < tr->total_steps && !stopping() && act == TRAIN_CONTINUE) {
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
    int stopped = stopping() || act == TRAIN_STOP;
    if (!s && !stopped) s = run_eval(tr, h, err);
    if (!s && tr->cfg.out_dir) s = save(tr, err);
    if (!s && !stopped && h->finished) h->finished(h->ctx, tr);
    return s;
}

void trainer_free(Trainer *tr) {
    if (tr->model) param_store_disable_packs(&tr->model->ps);
    if (tr->model) tr->model->loss_rows = 0;   /* the model goes back to one-process losses */
    if (tr->model && tr->model->moe) tr->model->moe->global_counts = 0;
    adamw_free(&tr->opt);
    tape_free(&tr->tape);
    arena_free(&tr->arena);
    batch_iter_free(&tr->it);
}
