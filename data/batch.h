/* data/batch.h — tokenized examples and padded training / evaluation batches.
   defines: IGNORE_INDEX, MC_LETTER_MAX_TOK, TokenizedSet, dataset_tokenize,
            tokenized_set_free, BatchConfig, batch_config_default, Batch, BatchIter,
            batch_iter_init, batch_next, batch_iter_seek, batch_iter_free
   Tokens of example i: [BOS] + encode(prompt) + letter_tok[label] (+ [EOS] with add_eos).
   The letter tokens are what the tokenizer gives " X" right after "Answer:" (computed once per
   set as encode("Answer: X") minus encode("Answer:")): so the letter is always its own
   token(s) after the prompt, and equals the joint encoding of prompt + " X" for vocabularies
   with no piece spanning ':' and " X" (Llama SentencePiece, GPT-2 ByteLevel). letter_ids[c] =
   the first letter token, used for restricted letter scoring (letters_ok = 1 when all letters
   are single, distinct tokens). Labels -1 (test) have no answer tokens.
   Truncation (max_len): the answer is kept whole and BOS stays first; prompt tokens are
   dropped from the LEFT (right after BOS). If even BOS + 1 prompt token + answer does not fit,
   dataset_tokenize fails with STATUS_INVALID.
   Batch row b of example i with n tokens uses L = n - 1 positions: input_ids[t] = tok[t],
   targets[t] = tok[t+1] for answer tokens (or for every t with loss_on_all), else
   IGNORE_INDEX; positions L..T-1 are padding (pad_id, IGNORE_INDEX). answer_pos[b] =
   prompt_len - 1 = the last prompt token, whose next-token logits score the letters. Right
   padding: causal attention keeps padding out of every real position.
   Order: epoch e's permutation depends only on (seed, e) (Fisher-Yates with
   rng_derive(seed, e)), so resuming needs (epoch, pos) only (batch_iter_seek). Length grouping
   stable-sorts windows of 50 batches by length, longest first. The iterator owns its buffers
   (sized once at init): batch_next does no allocation.
   Shards (data-parallel training, n_shards = R ranks): every rank walks the SAME global order
   and forms the same global batch (rows, and T = the longest of ALL its rows, as one process
   pads it), then keeps only its rows [rows·s/R, rows·(s+1)/R): disjoint, in order, together
   the whole batch. n_targets_global counts the targets of the whole batch (the loss divides by
   it). A shard left empty by a short final batch (rows < R) gets one all-pad row (length 0,
   no targets, label -1, index -1), which adds exactly nothing to the loss, the gradients or the
   router statistics, so every rank still runs the same forward and backward. */
#ifndef BATCH_H
#define BATCH_H
#include <stddef.h>
#include <stdint.h>
#include "data/example.h"
#include "data/prompt.h"
#include "data/tokenizer.h"
#include "tensor/status.h"

#define IGNORE_INDEX (-100)
#define MC_LETTER_MAX_TOK 4

typedef struct {
    int n;                        /* examples */
    int *ids;                     /* all tokens, example after example */
    size_t n_ids;
    size_t *offset;               /* [n+1]: example i is ids[offset[i] .. offset[i+1]) */
    int *prompt_len;              /* [n] tokens before the answer, incl. BOS, after truncation */
    int *answer_len;              /* [n] letter tokens (+ EOS); 0 when label = -1 */
    int *label;                   /* [n] */
    int *n_choices;               /* [n] */
    int n_truncated;              /* examples whose prompt was cut on the left */
    int max_len;                  /* the PromptConfig's max_len (0 = none) */
    int bos_id, eos_id;
    int letter_tok[MC_MAX_CHOICES][MC_LETTER_MAX_TOK];
    int letter_ntok[MC_MAX_CHOICES];
    int letter_ids[MC_MAX_CHOICES];   /* first token of " A", " B", ... */
    int letters_ok;               /* every letter one token, all distinct */
} TokenizedSet;

Status dataset_tokenize(const McDataset *ds, const Tokenizer *tk, const PromptConfig *pc, TokenizedSet *out,
                        Error *err);
void tokenized_set_free(TokenizedSet *ts);

typedef struct {
    int batch_size;          /* rows per batch (8) */
    int shuffle;             /* new permutation each epoch (1); 0 = dataset order */
    uint64_t seed;           /* data-order seed */
    int group_by_length;     /* 0 */
    int drop_last;           /* drop a final partial batch (0) */
    int pad_id;              /* 0 */
    int pad_multiple;        /* round T up to a multiple of this (1) */
    int loss_on_all;         /* targets on every token, not only the answer (0) */
    int shard, n_shards;     /* keep shard `shard` of n_shards of every batch (0, 1 = all rows) */
} BatchConfig;

void batch_config_default(BatchConfig *bc);

typedef struct {
    int B, T;                /* rows in this batch, padded length */
    int *input_ids;          /* [B*T] */
    int *targets;            /* [B*T], IGNORE_INDEX = no loss */
    int *lengths;            /* [B] used positions L */
    int *answer_pos;         /* [B] last prompt position */
    int *label;              /* [B] */
    int *index;              /* [B] example index in the TokenizedSet */
    int n_targets;           /* targets != IGNORE_INDEX */
    int B_global;            /* rows of the whole batch (== B without shards) */
    int n_targets_global;    /* targets of the whole batch (== n_targets without shards) */
} Batch;

typedef struct {
    const TokenizedSet *ts;
    BatchConfig cfg;
    int *order;              /* permutation of the current epoch */
    int *rank;               /* scratch for length grouping */
    uint64_t *keys;          /* scratch for length grouping */
    int epoch, pos;          /* next batch starts at order[pos] */
    int max_T;
    Batch buf;               /* owned storage handed out by batch_next */
} BatchIter;

Status batch_iter_init(BatchIter *it, const TokenizedSet *ts, const BatchConfig *cfg, Error *err);
/* Fills *b (pointing into the iterator's buffers, valid until the next call) and returns 1;
   at the end of an epoch returns 0 and moves to the next epoch (next call starts it). */
int  batch_next(BatchIter *it, Batch *b);
/* Positions the iterator at (epoch, pos) as if batches had been drawn up to there. */
void batch_iter_seek(BatchIter *it, int epoch, int pos);
void batch_iter_free(BatchIter *it);

#endif
