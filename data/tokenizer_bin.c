/* data/tokenizer_bin.c — llama2.c tokenizer.bin (REFERENCE.md §4.2).
   File: int32 max_token_length, then per token: float32 score, int32 len, len bytes (all
   little-endian). The vocab size is not stored: it comes from the model header (hint), or the
   entries are read to EOF (hint 0). Encoding follows llama2.c run.c's encode: a dummy-prefix
   " " when the text is non-empty, one lookup per UTF-8 code point (missing -> byte + 3 per
   byte), then score-greedy merging (highest score, leftmost on ties; a pair whose merged score
   is <= -1e10 never merges, as run.c's initial best score) via bpe_merge. BOS 1, EOS 2. */
#include "data/tokenizer_impl.h"
#include "data/bpe.h"
#include "data/file_read.h"
#include "tensor/check.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BIN_MAX_TOKEN_LENGTH 65536   /* "absurd" beyond this */

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walks the entries: counts them (hint 0) or checks there are exactly `hint`. */
static Status scan_entries(const char *path, const unsigned char *d, size_t size, int mtl,
                           int hint, int *count, size_t *blob, Error *err) {
    size_t off = 4;
    int i = 0;
    *blob = 0;
    while (hint > 0 ? i < hint : off < size) {
        if (size - off < 8)
            return error_set(err, STATUS_FORMAT, "the file is truncated or vocab_size is wrong",
                             "%s: truncated at token %d (byte offset %zu): expected score and "
                             "length (8 bytes), %zu bytes left", path, i, off, size - off);
        int32_t len = (int32_t)rd_u32(d + off + 4);
        if (len < 0 || len > mtl)
            return error_set(err, STATUS_FORMAT, "is this a llama2.c tokenizer.bin?",
                             "%s: token %d (byte offset %zu) has length %d, expected 0..%d "
                             "(max_token_length)", path, i, off + 4, (int)len, mtl);
        if (size - off - 8 < (size_t)len)
            return error_set(err, STATUS_FORMAT, "the file is truncated or vocab_size is wrong",
                             "%s: truncated at token %d (byte offset %zu): expected %d bytes, "
                             "%zu left", path, i, off + 8, (int)len, size - off - 8);
        float score;
        memcpy(&score, d + off, 4);
        if (isnan(score))
            return error_set(err, STATUS_FORMAT, NULL, "%s: token %d (byte offset %zu) has a NaN "
                             "score", path, i, off);
        off += 8 + (size_t)len;
        *blob += (size_t)len + 1;
        if (++i == INT32_MAX) break;
    }
    if (off != size)
        return error_set(err, STATUS_FORMAT, "use the tokenizer that belongs to the model",
                         "%s: %zu bytes left after %d tokens (byte offset %zu): the file has more "
                         "tokens than the model's vocab_size %d", path, size - off, i, off, hint);
    if (i == 0)
        return error_set(err, STATUS_FORMAT, NULL, "%s: no tokens after the header", path);
    *count = i;
    return STATUS_OK;
}

static void fill_entries(Tokenizer *tk, const unsigned char *d) {
    size_t off = 4, b = 0;
    for (int i = 0; i < tk->vocab_size; i++) {
        int32_t len = (int32_t)rd_u32(d + off + 4);
        memcpy(&tk->scores[i], d + off, 4);
        tk->pieces[i] = tk->blob + b;
        tk->piece_len[i] = len;
        memcpy(tk->blob + b, d + off + 8, (size_t)len);
        tk->blob[b + (size_t)len] = '\0';
        strmap_put(&tk->vocab, tk->pieces[i], (size_t)len, i);
        b += (size_t)len + 1;
        off += 8 + (size_t)len;
    }
}

Status tokenizer_load_bin(Tokenizer *tk, const char *path, int vocab_size_hint, Error *err) {
    memset(tk, 0, sizeof *tk);
    char *data;
    size_t size;
    Status s = file_read_all(path, &data, &size, err);
    if (s != STATUS_OK) return s;
    const unsigned char *d = (const unsigned char *)data;
    if (size < 4) {
        free(data);
        return error_set(err, STATUS_FORMAT, NULL, "%s: truncated header: %zu bytes, expected "
                         "at least 4 (int32 max_token_length)", path, size);
    }
    int32_t mtl = (int32_t)rd_u32(d);
    if (mtl <= 0 || mtl > BIN_MAX_TOKEN_LENGTH) {
        free(data);
        return error_set(err, STATUS_FORMAT, "is this a llama2.c tokenizer.bin?",
                         "%s: max_token_length %d at byte offset 0, expected 1..%d", path,
                         (int)mtl, BIN_MAX_TOKEN_LENGTH);
    }
    int count = 0;
    size_t blob = 0;
    s = scan_entries(path, d, size, mtl, vocab_size_hint, &count, &blob, err);
    if (s != STATUS_OK) {
        free(data);
        return s;
    }
    tk->kind = TOKENIZER_LLAMA2C;
    tk->max_token_length = mtl;
    tokenizer_alloc(tk, count, blob);
    tk->scores = xmalloc((size_t)count * sizeof *tk->scores);
    fill_entries(tk, d);
    free(data);
    tk->bos_id = count > 1 ? 1 : -1;
    tk->eos_id = count > 2 ? 2 : -1;
    tk->add_bos = 1;
    if (tk->bos_id >= 0) tk->special[tk->bos_id] = 1;
    if (tk->eos_id >= 0) tk->special[tk->eos_id] = 1;
    return STATUS_OK;
}

typedef struct {
    const Tokenizer *tk;
    char *buf;     /* 2 * max_token_length bytes */
} BinCtx;

static int bin_pair(const void *vctx, int left, int right, double *priority, int *merged) {
    const BinCtx *c = vctx;
    const Tokenizer *tk = c->tk;
    size_t a = (size_t)tk->piece_len[left], b = (size_t)tk->piece_len[right];
    memcpy(c->buf, tk->pieces[left], a);
    memcpy(c->buf + a, tk->pieces[right], b);
    int id = strmap_get(&tk->vocab, c->buf, a + b);
    if (id < 0 || !(tk->scores[id] > -1e10f)) return 0;
    *priority = tk->scores[id];
    *merged = id;
    return 1;
}

/* Appends the id of code point s[0..len), or its bytes + 3. */
static Status push_code_point(const Tokenizer *tk, const char *s, size_t len, int *out, int *n,
                              Error *err) {
    int id = strmap_get(&tk->vocab, s, len);
    if (id >= 0) {
        out[(*n)++] = id;
        return STATUS_OK;
    }
    for (size_t k = 0; k < len; k++) {
        int b = (unsigned char)s[k] + 3;
        if (b >= tk->vocab_size)
            return error_set(err, STATUS_INVALID, "the tokenizer has no <0xXX> byte tokens",
                             "byte 0x%02X of the text is not in the %d-token vocab",
                             (unsigned char)s[k], tk->vocab_size);
        out[(*n)++] = b;
    }
    return STATUS_OK;
}

Status tokenizer_bin_encode(const Tokenizer *tk, const char *text, size_t len, int *out,
                            int *n, Error *err) {
    *n = 0;
    if (len == 0) return STATUS_OK;
    Status s = push_code_point(tk, " ", 1, out, n, err);    /* dummy prefix */
    for (size_t i = 0; i < len && s == STATUS_OK;) {
        size_t cl = utf8_char_len(text + i, len - i);
        s = push_code_point(tk, text + i, cl, out, n, err);
        i += cl;
    }
    if (s != STATUS_OK) return s;
    BinCtx ctx = {tk, xmalloc(2 * (size_t)tk->max_token_length + 1)};
    *n = bpe_merge(out, *n, bin_pair, &ctx);
    free(ctx.buf);
    return STATUS_OK;
}
