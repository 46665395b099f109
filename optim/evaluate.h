/* optim/evaluate.h — accuracy of a model on a tokenized multiple-choice set.
   defines: EvalResult, evaluate_letters, evaluate_letters_ranks, evaluate_choices, eval_log_prob, eval_add, eval_finish
   Letter scoring (the default; REFERENCE.md §5.3): one forward pass per example up to its
   prompt; at the last prompt position the logits of the choice letters " A", " B", ... (first
   letter token, TokenizedSet.letter_ids) are compared, restricted to the example's choices;
   argmax (ties -> lowest index) is the prediction. Equals greedy-generation accuracy whenever the
   model emits a valid letter, without a generation loop. Only the answer rows go through the LM
   head. Binary tasks also report MCC on the dataset's original classes (positive_choice).
   Routed adapters accumulate their router statistics (pads excluded) into m->moe->stats; the
   caller resets them before and reads them after. */
#ifndef EVALUATE_H
#define EVALUATE_H
#include "nn/llama.h"
#include "data/batch.h"
#include "data/metrics.h"

typedef struct {
    int n;                    /* examples scored (label >= 0) */
    int correct;
    double acc;
    double mcc;               /* binary tasks only (positive_choice >= 0), else 0 */
    BinaryCounts counts;      /* on the original classes, binary tasks only */
    double loss;              /* mean CE of the correct letter among all V logits */
} EvalResult;

/* limit > 0 scores only the first `limit` examples. Uses `arena` as scratch (reset inside). */
Status evaluate_letters(const LlamaModel *m, const TokenizedSet *ts, int positive_choice, int limit,
                        int batch_size, Arena *arena, EvalResult *out, Error *err);
/* The same in a data-parallel run (tensor/comm.h; collective): each rank scores a contiguous
   run of the whole batches one process would form, then the sums are added over the ranks;
   every rank returns the global result, equal to evaluate_letters' (the loss up to the order
   of a double sum). One process: evaluate_letters. */
Status evaluate_letters_ranks(const LlamaModel *m, const TokenizedSet *ts, int positive_choice, int limit,
                              int batch_size, Arena *arena, EvalResult *out, Error *err);
/* lm-eval-style per-choice log-likelihood (see evaluate_choice.c): acc in out->acc, acc_norm
   (length-normalised by characters) in *acc_norm. max_len <= 0: the model's context. */
Status evaluate_choices(const LlamaModel *m, const Tokenizer *tk, const McDataset *ds, int limit, int max_len,
                        Arena *arena, EvalResult *out, double *acc_norm, Error *err);

/* The steps both scorings share. eval_log_prob: log softmax(row)[id] over V logits, in double.
   eval_add: one scored example (prediction, gold label, log-probability of the gold answer)
   into r; positive >= 0 also counts it for MCC (binary_counts_add). eval_finish: the means
   (acc, loss) and, for binary tasks, metric_mcc of the counts. */
double eval_log_prob(const real *row, int V, int id);
void   eval_add(EvalResult *r, int pred, int label, double gold_log_prob, int positive);
void   eval_finish(EvalResult *r, int positive);

#endif
