/* optim/evaluate.c — letter scoring (see evaluate.h). */
#include "optim/evaluate.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include "tensor/comm.h"
#include <math.h>
#include <string.h>

double eval_log_prob(const real *row, int V, int id) {
    double mx = row[0], sum = 0;
    for (int v = 1; v < V; v++) mx = fmax(mx, row[v]);
    for (int v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    return (double)row[id] - mx - log(sum);
}

void eval_add(EvalResult *r, int pred, int label, double gold_log_prob, int positive) {
    r->loss += -gold_log_prob;
    r->n++;
    r->correct += pred == label;
    if (positive >= 0) binary_counts_add(&r->counts, pred, label, positive);
}

void eval_finish(EvalResult *r, int positive) {
    r->acc = r->n ? (double)r->correct / r->n : 0;
    r->loss = r->n ? r->loss / r->n : 0;
    r->mcc = positive >= 0 ? metric_mcc(&r->counts) : 0;
}

/* The letters " A", " B", ... may be several tokens (a small vocabulary splits "▁" and "A"). If
   they all have n tokens that agree except the last, the last token is scored at position
   answer_pos + n - 1, where the (shared) prefix has been fed. Sets ids[c] and returns n, or 0. */
static int letter_layout(const TokenizedSet *ts, int ids[MC_MAX_CHOICES]) {
    int n = ts->letter_ntok[0];
    for (int c = 0; c < MC_MAX_CHOICES; c++) {
        if (ts->letter_ntok[c] != n || n < 1) return 0;
        for (int j = 0; j + 1 < n; j++)
            if (ts->letter_tok[c][j] != ts->letter_tok[0][j]) return 0;
        ids[c] = ts->letter_tok[c][n - 1];
        for (int d = 0; d < c; d++)
            if (ids[d] == ids[c]) return 0;
    }
    return n;
}

/* Scores one batch: hidden at the letter position -> logits -> restricted argmax. */
static void score_batch(const LlamaModel *m, const TokenizedSet *ts, const Batch *b, int positive,
                        Tape *t, EvalResult *r) {
    int V = m->cfg.vocab_size, letter[MC_MAX_CHOICES];
    int shift = letter_layout(ts, letter) - 1;
    Tensor *h = llama_hidden_padded(t, m, b->input_ids, b->lengths, b->B, b->T, NULL);
    int *rows = arena_alloc(t->arena, (size_t)b->B * sizeof(int));
    for (int i = 0; i < b->B; i++) rows[i] = i * b->T + b->answer_pos[i] + (b->label[i] >= 0 ? shift : 0);
    Tensor *lg = llama_logits(t, m, op_gather_rows(t, h, rows, b->B));
    for (int i = 0; i < b->B; i++) {
        int label = b->label[i];
        if (label < 0) continue;
        const real *row = lg->data + (size_t)i * V;
        int nc = ts->n_choices[b->index[i]], pred = 0;
        for (int c = 1; c < nc; c++)
            if (row[letter[c]] > row[letter[pred]]) pred = c;
        eval_add(r, pred, label, eval_log_prob(row, V, letter[label]), positive);
    }
}

/* General path: each (example, choice) is its own row, prompt + letter tokens of the choice, and
   the choice's score is the summed log-probability of its letter tokens. Costs n_choices
   forward passes per example; used when letters are tokenized unevenly. */
static void score_example_multi(const LlamaModel *m, const TokenizedSet *ts, int ex, int positive, Tape *t,
                                EvalResult *r) {
    int V = m->cfg.vocab_size, nc = ts->n_choices[ex], P = ts->prompt_len[ex], T = 0, label = ts->label[ex];
    for (int c = 0; c < nc; c++) T = T > P + ts->letter_ntok[c] - 1 ? T : P + ts->letter_ntok[c] - 1;
    int *ids = arena_alloc(t->arena, (size_t)nc * T * sizeof(int));
    const int *tok = ts->ids + ts->offset[ex];
    for (int c = 0; c < nc; c++)
        for (int j = 0; j < T; j++) {
            int k = j - P;   /* index into the letter tokens of c */
            ids[c * T + j] = j < P ? tok[j] : k < ts->letter_ntok[c] ? ts->letter_tok[c][k] : ts->letter_tok[c][0];
        }
    Tensor *lg = llama_logits(t, m, llama_hidden(t, m, ids, nc, T, NULL));
    double best = -INFINITY, gold = 0;
    int pred = 0;
    for (int c = 0; c < nc; c++) {
        double sc = 0;
        for (int k = 0; k < ts->letter_ntok[c]; k++)
            sc += eval_log_prob(lg->data + ((size_t)c * T + P - 1 + k) * V, V, ts->letter_tok[c][k]);
        if (sc > best) { best = sc; pred = c; }
        if (c == label) gold = sc;
    }
    eval_add(r, pred, label, gold, positive);
}

static void evaluate_multi(const LlamaModel *m, const TokenizedSet *ts, int positive, int limit, Arena *arena,
                           EvalResult *out) {
    Tape t;
    tape_init(&t, arena);
    tape_set_no_grad(&t, 1);
    int n = limit > 0 && limit < ts->n ? limit : ts->n;
    for (int i = 0; i < n; i++) {
        if (ts->label[i] < 0) continue;
        score_example_multi(m, ts, i, positive, &t, out);
        arena_reset(arena);
        tape_reset(&t);
    }
    tape_free(&t);
}

/* evaluate_letters without the final means: out holds raw sums (n, correct, loss, counts) */
static Status score_letters(const LlamaModel *m, const TokenizedSet *ts, int positive_choice, int limit,
                            int batch_size, Arena *arena, EvalResult *out, Error *err) {
    memset(out, 0, sizeof *out);
    int letter[MC_MAX_CHOICES];
    if (!letter_layout(ts, letter)) {
        evaluate_multi(m, ts, positive_choice, limit, arena, out);
        return STATUS_OK;
    }
    BatchConfig bc;
    batch_config_default(&bc);
    bc.batch_size = batch_size;
    bc.shuffle = 0;
    BatchIter it;
    Status s = batch_iter_init(&it, ts, &bc, err);
    if (s) return s;
    Tape t;
    tape_init(&t, arena);
    tape_set_no_grad(&t, 1);
    Batch b;
    int seen = 0;
    while ((limit <= 0 || seen < limit) && batch_next(&it, &b)) {
        if (limit > 0 && seen + b.B > limit) b.B = limit - seen;   /* rows are independent */
        seen += b.B;
        score_batch(m, ts, &b, positive_choice, &t, out);
        arena_reset(arena);
        tape_reset(&t);
    }
    tape_free(&t);
    batch_iter_free(&it);
    return STATUS_OK;
}

Status evaluate_letters(const LlamaModel *m, const TokenizedSet *ts, int positive_choice, int limit,
                        int batch_size, Arena *arena, EvalResult *out, Error *err) {
    Status s = score_letters(m, ts, positive_choice, limit, batch_size, arena, out, err);
    if (!s) eval_finish(out, positive_choice);
    return s;
}

/* examples [lo, hi) of ts as a set of their own (pointers into ts: offset[] values index ts->ids,
   so shifting the per-example arrays is enough) */
static TokenizedSet set_slice(const TokenizedSet *ts, int lo, int hi) {
    TokenizedSet v = *ts;
    v.n = hi - lo;
    v.offset += lo;
    v.prompt_len += lo;
    v.answer_len += lo;
    v.label += lo;
    v.n_choices += lo;
    return v;
}

/* Rank r scores whole batches [nb·r/R, nb·(r+1)/R) of the nb batches one process would form
   (same rows, same padding, so every prediction is the one-process prediction, even for
   batch-dependent routing such as expert-choice); the raw sums are then added over the ranks. */
Status evaluate_letters_ranks(const LlamaModel *m, const TokenizedSet *ts, int positive_choice, int limit,
                              int batch_size, Arena *arena, EvalResult *out, Error *err) {
    int n = limit > 0 && limit < ts->n ? limit : ts->n, R = comm_size(), r = comm_rank();
    long nb = (n + batch_size - 1) / batch_size;
    long lo = nb * r / R * batch_size, hi = nb * (r + 1) / R * batch_size;
    lo = lo < n ? lo : n;
    /* the slice ends where the set ends, and the limit cuts its last batch as evaluate_letters
       cuts it (after padding to the whole batch) */
    TokenizedSet part = set_slice(ts, (int)lo, (int)(hi < ts->n ? hi : ts->n));
    Status s = lo < n && hi > lo ? score_letters(m, &part, positive_choice, (int)(n - lo), batch_size, arena, out, err)
                       : (memset(out, 0, sizeof *out), STATUS_OK);
    double v[8] = { s ? 1 : 0, out->n, out->correct, out->loss, (double)out->counts.tp, (double)out->counts.tn,
                    (double)out->counts.fp, (double)out->counts.fn };
    comm_sum_f64(v, 8);   /* every rank gets here, failed or not */
    if (s) return s;
    if (v[0] > 0) return error_set(err, STATUS_RUNTIME, NULL, "the evaluation failed on another rank");
    out->n = (int)v[1];
    out->correct = (int)v[2];
    out->loss = v[3];
    out->counts = (BinaryCounts){ .tp = (long)v[4], .tn = (long)v[5], .fp = (long)v[6], .fn = (long)v[7] };
    eval_finish(out, positive_choice);
    return STATUS_OK;
}
