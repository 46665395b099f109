/* data/batch.c — tokenization of prompt + answer letter, left truncation, and padded batches
   with shuffling / length grouping (see batch.h). */
#include "data/batch.h"
#include "tensor/check.h"
#include "tensor/rng.h"
#include <stdlib.h>
#include <string.h>

/* Encodes text (with BOS if asked) into a malloc'ed array (one pass: the tokenizers emit at
   most 2 ids per byte). */
static Status encode_alloc(const Tokenizer *tk, const char *text, int bos, int **ids, int *n, Error *err) {
    int cap = (int)(2 * strlen(text) + 10);
    *ids = xmalloc((size_t)cap * sizeof(int));
    Status st = tokenizer_encode(tk, text, bos, 0, *ids, cap, n, err);
    if (st) free(*ids);
    return st;
}

/* letter tokens: encode("Answer: X") minus the prefix encode("Answer:") */
static Status letter_tokens(const Tokenizer *tk, TokenizedSet *ts, Error *err) {
    int *pre, np;
    Status st = encode_alloc(tk, "Answer:", 0, &pre, &np, err);
    if (st) return st;
    ts->letters_ok = 1;
    for (int c = 0; c < MC_MAX_CHOICES && !st; c++) {
        char text[16] = "Answer: X";
        text[8] = (char)('A' + c);
        int *full, nf;
        if ((st = encode_alloc(tk, text, 0, &full, &nf, err))) break;
        int nl = nf - np;
        if (nl < 1 || nl > MC_LETTER_MAX_TOK || memcmp(full, pre, (size_t)np * sizeof(int)) != 0) {
            st = error_set(err, STATUS_INVALID, "the prompt relies on \" X\" tokenizing on its own after ':'",
                           "tokenizer: \"Answer: %c\" does not split into the tokens of \"Answer:\" + 1..%d letter tokens",
                           'A' + c, MC_LETTER_MAX_TOK);
        } else {
            memcpy(ts->letter_tok[c], full + np, (size_t)nl * sizeof(int));
            ts->letter_ntok[c] = nl;
            ts->letter_ids[c] = full[np];
            if (nl != 1) ts->letters_ok = 0;
            for (int k = 0; k < c; k++)
                if (ts->letter_ids[k] == ts->letter_ids[c]) ts->letters_ok = 0;
        }
        free(full);
    }
    free(pre);
    return st;
}

/* Appends example tokens: the template's prefix (BOS, if the tokenizer adds one: n_prefix ids)
   + prompt (left-truncated) + letter (+ EOS). */
static Status add_example(TokenizedSet *ts, int i, const int *p, int np, int n_prefix, const McExample *ex,
                          int add_eos, size_t *cap, Error *err) {
    int na = ex->label >= 0 ? ts->letter_ntok[ex->label] + (add_eos ? 1 : 0) : 0;
    int keep = np;
    if (ts->max_len > 0 && np + na > ts->max_len) {
        keep = ts->max_len - na;
        if (keep < n_prefix + 1)
            return error_set(err, STATUS_INVALID, "raise --max-len",
                             "example %d (%s): max_len %d cannot hold the tokenizer's %d prefix token(s) (BOS), "
                             "one prompt token and %d answer tokens", i, ex->id, ts->max_len, n_prefix, na);
        ts->n_truncated++;
    }
    size_t need = ts->n_ids + (size_t)(keep + na);
    if (need > *cap) {
        while (*cap < need) *cap *= 2;
        ts->ids = xrealloc(ts->ids, *cap * sizeof(int));
    }
    int *o = ts->ids + ts->n_ids;
    memcpy(o, p, (size_t)n_prefix * sizeof(int));          /* BOS (the template's prefix) */
    memcpy(o + n_prefix, p + (np - keep) + n_prefix, (size_t)(keep - n_prefix) * sizeof(int));
    if (ex->label >= 0) {
        memcpy(o + keep, ts->letter_tok[ex->label], (size_t)ts->letter_ntok[ex->label] * sizeof(int));
        if (add_eos) o[keep + na - 1] = ts->eos_id;
    }
    ts->prompt_len[i] = keep;
    ts->answer_len[i] = na;
    ts->label[i] = ex->label;
    ts->n_choices[i] = ex->n_choices;
    ts->n_ids = need;
    ts->offset[i + 1] = need;
    return STATUS_OK;
}

Status dataset_tokenize(const McDataset *ds, const Tokenizer *tk, const PromptConfig *pc, TokenizedSet *out,
                        Error *err) {
    memset(out, 0, sizeof *out);
    if (pc->add_eos && tk->eos_id < 0) return error_set(err, STATUS_INVALID, NULL, "add_eos: the tokenizer has no EOS");
    out->n = ds->n;
    out->max_len = pc->max_len;
    out->bos_id = tk->bos_id;
    out->eos_id = tk->eos_id;
    size_t cap = 1024;
    out->ids = xmalloc(cap * sizeof(int));
    out->offset = xcalloc((size_t)ds->n + 1, sizeof(size_t));
    out->prompt_len = xmalloc(((size_t)ds->n + 1) * sizeof(int));
    out->answer_len = xmalloc(((size_t)ds->n + 1) * sizeof(int));
    out->label = xmalloc(((size_t)ds->n + 1) * sizeof(int));
    out->n_choices = xmalloc(((size_t)ds->n + 1) * sizeof(int));
    Status st = letter_tokens(tk, out, err);
    for (int i = 0; i < ds->n && !st; i++) {
        const McExample *ex = &ds->ex[i];
        CHECK(ex->label < ex->n_choices, "label %d of %d choices", ex->label, ex->n_choices);
        char *text = prompt_build(ds, ex, pc);
        int *p, np;
        st = encode_alloc(tk, text, 1, &p, &np, err);
        free(text);
        if (st) break;
        int n_prefix = tk->kind == TOKENIZER_LLAMA2C ? 1 : tk->n_prefix;   /* what bos = 1 put first */
        if (n_prefix > np) n_prefix = np;
        st = add_example(out, i, p, np, n_prefix, ex, pc->add_eos, &cap, err);
        free(p);
    }
    if (st) tokenized_set_free(out);
    return st;
}

void tokenized_set_free(TokenizedSet *ts) {
    free(ts->ids);
    free(ts->offset);
    free(ts->prompt_len);
    free(ts->answer_len);
    free(ts->label);
    free(ts->n_choices);
    memset(ts, 0, sizeof *ts);
}

/* ---- batches ---------------------------------------------------------------------------- */

void batch_config_default(BatchConfig *bc) {
    memset(bc, 0, sizeof *bc);
    bc->batch_size = 8;
    bc->shuffle = 1;
    bc->pad_multiple = 1;
    bc->n_shards = 1;
}

static int example_len(const TokenizedSet *ts, int i) { return (int)(ts->offset[i + 1] - ts->offset[i]) - 1; }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* stable sort of order[s..s+m) by length, longest first: keys (MAX - len, position) */
static void sort_window(BatchIter *it, int s, int m) {
    int *old = it->rank;
    uint64_t *keys = it->keys;
    for (int k = 0; k < m; k++) {
        old[k] = it->order[s + k];
        keys[k] = ((uint64_t)(0x7fffffff - example_len(it->ts, old[k])) << 32) | (uint32_t)k;
    }
    qsort(keys, (size_t)m, sizeof *keys, cmp_u64);
    for (int k = 0; k < m; k++) it->order[s + k] = old[keys[k] & 0xffffffffu];
}

static void make_order(BatchIter *it) {
    int n = it->ts->n;
    for (int i = 0; i < n; i++) it->order[i] = i;
    if (it->cfg.shuffle) {
        Rng r = rng_derive(it->cfg.seed, (uint64_t)it->epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rng_int(&r, (uint64_t)i + 1);
            int t = it->order[i];
            it->order[i] = it->order[j];
            it->order[j] = t;
        }
    }
    if (it->cfg.group_by_length) {
        int win = 50 * it->cfg.batch_size;
        for (int st = 0; st < n; st += win) sort_window(it, st, n - st < win ? n - st : win);
    }
}

Status batch_iter_init(BatchIter *it, const TokenizedSet *ts, const BatchConfig *cfg, Error *err) {
    memset(it, 0, sizeof *it);
    if (cfg->batch_size < 1 || cfg->pad_multiple < 1)
        return error_set(err, STATUS_INVALID, NULL, "batch_size %d and pad_multiple %d must be >= 1",
                         cfg->batch_size, cfg->pad_multiple);
    if (cfg->n_shards > 1 && (cfg->shard < 0 || cfg->shard >= cfg->n_shards))
        return error_set(err, STATUS_INVALID, NULL, "shard %d outside 0..%d", cfg->shard, cfg->n_shards - 1);
    it->ts = ts;
    it->cfg = *cfg;
    int max_l = 1;
    for (int i = 0; i < ts->n; i++)
        if (example_len(ts, i) > max_l) max_l = example_len(ts, i);
    it->max_T = (max_l + cfg->pad_multiple - 1) / cfg->pad_multiple * cfg->pad_multiple;
    size_t bt = (size_t)cfg->batch_size * (size_t)it->max_T, b = (size_t)cfg->batch_size;
    it->order = xmalloc((size_t)(ts->n > 0 ? ts->n : 1) * sizeof(int));
    it->rank = xmalloc((size_t)(ts->n > 0 ? ts->n : 1) * sizeof(int));
    it->keys = xmalloc((size_t)(ts->n > 0 ? ts->n : 1) * sizeof(uint64_t));
    it->buf.input_ids = xmalloc(bt * sizeof(int));
    it->buf.targets = xmalloc(bt * sizeof(int));
    it->buf.lengths = xmalloc(b * sizeof(int));
    it->buf.answer_pos = xmalloc(b * sizeof(int));
    it->buf.label = xmalloc(b * sizeof(int));
    it->buf.index = xmalloc(b * sizeof(int));
    make_order(it);
    return STATUS_OK;
}

void batch_iter_seek(BatchIter *it, int epoch, int pos) {
    it->epoch = epoch;
    it->pos = pos;
    make_order(it);
}

/* row b of the batch from example i */
static void fill_row(BatchIter *it, int b, int i, int T) {
    const TokenizedSet *ts = it->ts;
    const int *tok = ts->ids + ts->offset[i];
    int L = example_len(ts, i), first_target = it->cfg.loss_on_all ? 0 : ts->prompt_len[i] - 1;
    int *in = it->buf.input_ids + (size_t)b * T, *tg = it->buf.targets + (size_t)b * T;
    for (int t = 0; t < T; t++) {
        in[t] = t < L ? tok[t] : it->cfg.pad_id;
        tg[t] = t < L && t >= first_target ? tok[t + 1] : IGNORE_INDEX;
        if (tg[t] != IGNORE_INDEX) it->buf.n_targets++;
    }
    it->buf.lengths[b] = L;
    it->buf.answer_pos[b] = ts->prompt_len[i] - 1;
    it->buf.label[b] = ts->label[i];
    it->buf.index[b] = i;
}

/* targets of example i's row (fill_row's rule, without filling) */
static int row_targets(const BatchIter *it, int i) {
    int L = example_len(it->ts, i), first = it->cfg.loss_on_all ? 0 : it->ts->prompt_len[i] - 1;
    return L > first ? L - first : 0;
}

/* a shard's stand-in when the batch has no rows for it: all pads, no targets (batch.h) */
static void fill_empty_row(BatchIter *it, int T) {
    for (int t = 0; t < T; t++) {
        it->buf.input_ids[t] = it->cfg.pad_id;
        it->buf.targets[t] = IGNORE_INDEX;
    }
    it->buf.lengths[0] = 0;
    it->buf.answer_pos[0] = 0;
    it->buf.label[0] = -1;
    it->buf.index[0] = -1;
}

int batch_next(BatchIter *it, Batch *b) {
    int n = it->ts->n, bs = it->cfg.batch_size;
    int rows = n - it->pos < bs ? n - it->pos : bs;
    if (rows <= 0 || (it->cfg.drop_last && rows < bs)) {
        batch_iter_seek(it, it->epoch + 1, 0);
        return 0;
    }
    int T = 1, all_targets = 0;
    for (int r = 0; r < rows; r++) {   /* T and the target count of the whole (global) batch */
        int l = example_len(it->ts, it->order[it->pos + r]);
        if (l > T) T = l;
        all_targets += row_targets(it, it->order[it->pos + r]);
    }
    T = (T + it->cfg.pad_multiple - 1) / it->cfg.pad_multiple * it->cfg.pad_multiple;
    int R = it->cfg.n_shards > 1 ? it->cfg.n_shards : 1, s = R > 1 ? it->cfg.shard : 0;
    int lo = (int)((long)rows * s / R), hi = (int)((long)rows * (s + 1) / R);   /* this shard's rows */
    it->buf.B = hi > lo ? hi - lo : 1;
    it->buf.T = T;
    it->buf.n_targets = 0;
    it->buf.B_global = rows;
    it->buf.n_targets_global = all_targets;
    if (hi == lo) fill_empty_row(it, T);
    for (int r = lo; r < hi; r++) fill_row(it, r - lo, it->order[it->pos + r], T);
    it->pos += rows;
    *b = it->buf;
    return 1;
}

void batch_iter_free(BatchIter *it) {
    free(it->order);
    free(it->rank);
    free(it->keys);
    free(it->buf.input_ids);
    free(it->buf.targets);
    free(it->buf.lengths);
    free(it->buf.answer_pos);
    free(it->buf.label);
    free(it->buf.index);
    memset(it, 0, sizeof *it);
}
