/* optim/evaluate_choice.c — lm-eval-style multiple-choice scoring (REFERENCE.md §5.1): for each
   choice c the model scores the continuation (" " + choice text, task-specific; see
   prompt_choice_pair) given the context; acc = argmax of the summed log-probabilities, acc_norm =
   argmax of the sum divided by the continuation's length in characters. Continuation tokens are
   the tail of encode(context + continuation) after the tokens it shares with encode(context),
   as lm-eval splits them. A context longer than max_len is trimmed on the left (BOS kept). */
#include "optim/evaluate.h"
#include "data/metrics.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int *ids; int n, n_cont; } ChoiceSeq;

static Status encode_pair(const Tokenizer *tk, const char *ctx, const char *cont, int max_len, ChoiceSeq *cs,
                          Error *err) {
    size_t lc = strlen(ctx), lk = strlen(cont);
    char *full = xmalloc(lc + lk + 1);
    memcpy(full, ctx, lc);
    memcpy(full + lc, cont, lk + 1);
    int cap = (int)(lc + lk) * 4 + 8, nc = 0, nf = 0;
    int *a = xmalloc((size_t)cap * sizeof(int)), *b = xmalloc((size_t)cap * sizeof(int));
    Status s = tokenizer_encode(tk, ctx, 1, 0, a, cap, &nc, err);
    if (!s) s = tokenizer_encode(tk, full, 1, 0, b, cap, &nf, err);
    free(full);
    if (!s) {
        int common = 0;
        while (common < nc && common < nf && a[common] == b[common]) common++;
        if (common == nf) common = nf - 1;          /* at least one continuation token */
        cs->n_cont = nf - common;
        int drop = nf > max_len ? nf - max_len : 0;  /* trim the context after BOS */
        if (drop > common - 1) drop = common - 1;
        cs->n = nf - drop;
        cs->ids = xmalloc((size_t)cs->n * sizeof(int));
        cs->ids[0] = b[0];
        memcpy(cs->ids + 1, b + 1 + drop, (size_t)(cs->n - 1) * sizeof(int));
    }
    free(a);
    free(b);
    return s;
}

/* log P(continuation | context) for every choice of one example, one batch row per choice */
static void score_rows(const LlamaModel *m, ChoiceSeq *cs, int nc, Tape *t, double *score) {
    int T = 0, V = m->cfg.vocab_size;
    for (int c = 0; c < nc; c++) T = cs[c].n - 1 > T ? cs[c].n - 1 : T;
    int *ids = arena_alloc(t->arena, (size_t)nc * T * sizeof(int));
    for (int c = 0; c < nc; c++)
        for (int j = 0; j < T; j++) ids[c * T + j] = j < cs[c].n - 1 ? cs[c].ids[j] : 0;
    Tensor *lg = llama_logits(t, m, llama_hidden(t, m, ids, nc, T, NULL));
    for (int c = 0; c < nc; c++) {
        score[c] = 0;
        for (int k = cs[c].n - 1 - cs[c].n_cont; k < cs[c].n - 1; k++)
            score[c] += eval_log_prob(lg->data + ((size_t)c * T + k) * V, V, cs[c].ids[k + 1]);
    }
}

Status evaluate_choices(const LlamaModel *m, const Tokenizer *tk, const McDataset *ds, int limit, int max_len,
                        Arena *arena, EvalResult *out, double *acc_norm, Error *err) {
    memset(out, 0, sizeof *out);
    Tape t;
    tape_init(&t, arena);
    tape_set_no_grad(&t, 1);
    int n = limit > 0 && limit < ds->n ? limit : ds->n, correct_norm = 0;
    Status s = STATUS_OK;
    for (int i = 0; i < n && !s; i++) {
        const McExample *ex = &ds->ex[i];
        if (ex->label < 0) continue;
        ChoiceSeq cs[MC_MAX_CHOICES];
        const char *texts[MC_MAX_CHOICES];
        double score[MC_MAX_CHOICES];
        int built = 0;
        for (int c = 0; c < ex->n_choices && !s; c++, built++) {
            char *ctx, *cont;
            prompt_choice_pair(ds, ex, c, &ctx, &cont);
            s = encode_pair(tk, ctx, cont, max_len > 0 ? max_len : m->cfg.max_seq_len, &cs[c], err);
            texts[c] = ex->choices[c];
            free(ctx);
            free(cont);
        }
        if (!s) {
            score_rows(m, cs, ex->n_choices, &t, score);
            int pred = score_argmax(score, ex->n_choices), pn = score_argmax_norm(score, texts, ex->n_choices);
            eval_add(out, pred, ex->label, score[ex->label], ds->positive_choice);
            correct_norm += pn == ex->label;
        }
        for (int c = 0; c < built; c++) free(cs[c].ids);
        arena_reset(arena);
        tape_reset(&t);
    }
    tape_free(&t);
    eval_finish(out, ds->positive_choice);
    *acc_norm = out->n ? (double)correct_norm / out->n : 0;
    return s;
}
