/* data/tokenizer.c — format detection, the common encode wrapper (BOS/EOS, capacity), decoding
   and cleanup for every tokenizer kind (tokenizer.h). */
#include "data/tokenizer_impl.h"
#include "tensor/check.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tokenizer_alloc(Tokenizer *tk, int vocab_size, size_t blob_size) {
    tk->vocab_size = vocab_size;
    tk->pieces = xcalloc((size_t)vocab_size, sizeof *tk->pieces);
    tk->piece_len = xcalloc((size_t)vocab_size, sizeof *tk->piece_len);
    tk->special = xcalloc((size_t)vocab_size, 1);
    tk->blob = xmalloc(blob_size ? blob_size : 1);
    strmap_init(&tk->vocab, (size_t)vocab_size);
}

static int looks_like_json(const char *path) {
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json")) return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[4] = {0};
    size_t got = fread(b, 1, 4, f);
    int c = b[0], json = 0;
    /* a tokenizer.bin starts with int32 max_token_length: "{\0\0\0" would be 123 */
    if (c == '{') json = !(got == 4 && b[1] == 0 && b[2] == 0 && b[3] == 0);
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t') {}
        json = c == '{';
    }
    fclose(f);
    return json;
}

Status tokenizer_load(Tokenizer *tk, const char *path, int vocab_size_hint, Error *err) {
    if (vocab_size_hint < 0)
        return error_set(err, STATUS_INVALID, NULL, "%s: negative vocab size %d", path,
                         vocab_size_hint);
    if (!looks_like_json(path)) return tokenizer_load_bin(tk, path, vocab_size_hint, err);
    Status s = tokenizer_load_hf(tk, path, err);
    if (s == STATUS_OK && vocab_size_hint > 0 && vocab_size_hint < tk->vocab_size) {
        int v = tk->vocab_size;
        tokenizer_free(tk);
        return error_set(err, STATUS_INVALID, "use the tokenizer that belongs to the model",
                         "%s: tokenizer has %d ids but the model's vocab_size is %d", path, v,
                         vocab_size_hint);
    }
    return s;
}

typedef struct {
    int pre[8], np, post[8], ns;
} Specials;

/* The ids `bos` / `eos` add before / after the text (llama2.c: its BOS, which callers may
   override after loading). */
static Status special_ids(const Tokenizer *tk, int bos, int eos, Specials *sp, Error *err) {
    memset(sp, 0, sizeof *sp);
    if (bos && tk->kind == TOKENIZER_LLAMA2C) {
        if (tk->bos_id < 0)
            return error_set(err, STATUS_INVALID, "set tk->bos_id from the model config",
                             "tokenizer has no BOS token");
        sp->pre[sp->np++] = tk->bos_id;
    } else if (bos) {
        for (int i = 0; i < tk->n_prefix; i++) sp->pre[sp->np++] = tk->prefix_ids[i];
        for (int i = 0; i < tk->n_suffix; i++) sp->post[sp->ns++] = tk->suffix_ids[i];
    }
    if (eos && tk->eos_id < 0)
        return error_set(err, STATUS_INVALID, "set tk->eos_id from the model config",
                         "tokenizer has no EOS token");
    if (eos && !(sp->ns > 0 && sp->post[sp->ns - 1] == tk->eos_id)) sp->post[sp->ns++] = tk->eos_id;
    return STATUS_OK;
}

Status tokenizer_encode_len(const Tokenizer *tk, const char *text, size_t len, int bos, int eos,
                            int *ids, int max_ids, int *n_ids, Error *err) {
    *n_ids = 0;
    Specials sp;
    Status s = special_ids(tk, bos, eos, &sp, err);
    if (s != STATUS_OK) return s;
    if (len >= (size_t)1 << 30)
        return error_set(err, STATUS_INVALID, NULL, "text too long to encode (%zu bytes)", len);
    int *work = NULL, nb = 0;
    size_t n = 0;
    if (tk->kind == TOKENIZER_LLAMA2C) {
        work = xmalloc((2 * len + 8) * sizeof *work);
        s = tokenizer_bin_encode(tk, text, len, work, &nb, err);
        n = (size_t)nb;
    } else {
        s = tokenizer_hf_encode(tk, text, len, &work, &n, err);
    }
    if (s == STATUS_OK && n + 16 > INT_MAX)
        s = error_set(err, STATUS_INVALID, "split the text", "text gives %zu ids (too many)", n);
    if (s != STATUS_OK) {
        free(work);
        return s;
    }
    int total = sp.np + (int)n + sp.ns;
    *n_ids = total;
    if (ids && total > max_ids) {
        free(work);
        return error_set(err, STATUS_INVALID, "raise the sequence length or shorten the text",
                         "encoding needs %d ids but only %d fit", total, max_ids);
    }
    if (ids) {
        memcpy(ids, sp.pre, (size_t)sp.np * sizeof *ids);
        memcpy(ids + sp.np, work, (size_t)n * sizeof *ids);
        memcpy(ids + sp.np + n, sp.post, (size_t)sp.ns * sizeof *ids);
    }
    free(work);
    return STATUS_OK;
}

Status tokenizer_encode(const Tokenizer *tk, const char *text, int bos, int eos, int *ids,
                        int max_ids, int *n_ids, Error *err) {
    return tokenizer_encode_len(tk, text, strlen(text), bos, eos, ids, max_ids, n_ids, err);
}

int byte_piece_value(const char *p, size_t len) {
    if (len != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Bytes of one token into buf[0..cap) (returns the full count); strip = drop a leading ' '. */
static size_t piece_bytes(const Tokenizer *tk, int id, int strip, char *buf, size_t cap) {
    if (id < 0 || id >= tk->vocab_size || !tk->pieces[id] || tk->special[id]) return 0;
    size_t n;
    if (tk->kind == TOKENIZER_LLAMA2C) {
        const char *p = tk->pieces[id];
        size_t len = (size_t)tk->piece_len[id];
        int b = byte_piece_value(p, len);
        if (b >= 0) {
            if (cap > 0) buf[0] = (char)b;
            return 1;
        }
        n = len;
        memcpy(buf, p, n < cap ? n : cap);
    } else {
        n = tokenizer_hf_piece(tk, id, buf, cap);
    }
    if (strip && tk->kind != TOKENIZER_HF_BYTELEVEL && n > 0 && cap > 0 && buf[0] == ' ') {   /* SPM */
        size_t keep = (n < cap ? n : cap) - 1;
        memmove(buf, buf + 1, keep);
        n--;
    }
    return n;
}

const char *tokenizer_piece(const Tokenizer *tk, int prev_id, int id, char *buf, size_t n) {
    CHECK(n > 0, "tokenizer_piece needs a buffer");
    int strip = prev_id >= 0 && prev_id == tk->bos_id;
    size_t len = piece_bytes(tk, id, strip, buf, n - 1);
    buf[len < n - 1 ? len : n - 1] = '\0';
    return buf;
}

size_t tokenizer_decode(const Tokenizer *tk, const int *ids, int n, char *out, size_t out_size) {
    if (tk->kind != TOKENIZER_LLAMA2C) return tokenizer_hf_decode(tk, ids, n, out, out_size);
    size_t total = 0, cap = (size_t)tk->max_token_length + 8;   /* decoded <= stored length */
    char *tmp = xmalloc(cap);
    for (int i = 0; i < n; i++) {
        /* as if preceded by BOS: the first piece and every piece after BOS drop a space */
        int strip = i == 0 || (tk->bos_id >= 0 && ids[i - 1] == tk->bos_id);
        size_t len = piece_bytes(tk, ids[i], strip, tmp, cap);
        if (len > cap) len = cap;
        for (size_t k = 0; k < len; k++, total++)
            if (out_size > 0 && total < out_size - 1) out[total] = tmp[k];
    }
    free(tmp);
    if (out_size > 0) out[total < out_size - 1 ? total : out_size - 1] = '\0';
    return total;
}

int tokenizer_id(const Tokenizer *tk, const char *piece, size_t len) {
    return strmap_get(&tk->vocab, piece, len);
}

void tokenizer_free(Tokenizer *tk) {
    if (tk->kind == TOKENIZER_HF_SPM || tk->kind == TOKENIZER_HF_BYTELEVEL) tokenizer_hf_free(tk);
    strmap_free(&tk->vocab);
    free(tk->pieces);
    free(tk->piece_len);
    free(tk->special);
    free(tk->scores);
    free(tk->blob);
    memset(tk, 0, sizeof *tk);
}
