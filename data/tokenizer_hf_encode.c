/* data/tokenizer_hf_encode.c — encoding and piece decoding for HF tokenizer.json (§4.7).
   1. Added tokens are matched first (leftmost-longest) and emitted as their ids; the text
      between them is processed segment by segment.
   2. SentencePiece kind: ' ' -> "▁"; "▁" prepended (legacy Prepend normalizer: every
      non-empty segment; Metaspace: "always" / "first" = only the segment at offset 0, and only
      when it does not already start with "▁"); Metaspace split=true cuts words before each
      "▁". Each word: one id per code point, missing ones -> <0xXX> byte pieces
      (byte_fallback) or unk (fused when fuse_unk), then BPE by merge rank.
   3. ByteLevel kind: Digits (individual or runs) split, optional prefix space, the GPT-2 regex
      approximated on ASCII (bytes >= 0x80 count as letters), every byte mapped to its
      bytes_to_unicode piece (missing ones are dropped, as HF does), then BPE by merge rank. */
#include "data/tokenizer_hf_impl.h"
#include "data/bpe.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

#define META "\xe2\x96\x81"

typedef struct {
    const Tokenizer *tk;
    const HfImpl *hf;
    int *out;
    int n;
    char *buf;      /* scratch: normalized segment / byte-mapped word (3 * len + 8 bytes) */
    Error *err;
} Enc;

static int hf_pair(const void *ctx, int left, int right, double *priority, int *merged) {
    int rank;
    if (!pairmap_get(&((const HfImpl *)ctx)->merges, left, right, &rank, merged)) return 0;
    *priority = -(double)rank;
    return 1;
}

static void merge_from(Enc *e, int start) {
    e->n = start + bpe_merge(e->out + start, e->n - start, hf_pair, e->hf);
}

static Status emit_unk(Enc *e, int start, const char *what, size_t len) {
    if (e->hf->unk_id < 0)
        return error_set(e->err, STATUS_INVALID, "the tokenizer has no unk_token / byte tokens",
                         "\"%.*s\" is not in the vocab", (int)len, what);
    if (!(e->hf->fuse_unk && e->n > start && e->out[e->n - 1] == e->hf->unk_id))
        e->out[e->n++] = e->hf->unk_id;
    return STATUS_OK;
}

/* ids of the "<0xHH>" pieces of s[0..n) into ids; 0 if one is missing. */
static int byte_ids(const Tokenizer *tk, const char *s, size_t n, int *ids) {
    for (size_t k = 0; k < n; k++) {
        char hex[7] = {'<', '0', 'x', "0123456789ABCDEF"[(unsigned char)s[k] >> 4],
                       "0123456789ABCDEF"[s[k] & 15], '>', 0};
        if ((ids[k] = strmap_get(&tk->vocab, hex, 6)) < 0) return 0;
    }
    return 1;
}

/* One SentencePiece word: code points (byte fallback / unk), then merges. */
static Status spm_word(Enc *e, const char *w, size_t len) {
    const Tokenizer *tk = e->tk;
    int start = e->n, id;
    if (e->hf->ignore_merges && (id = strmap_get(&tk->vocab, w, len)) >= 0) {
        e->out[e->n++] = id;
        return STATUS_OK;
    }
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_char_len(w + i, len - i);
        Status st = STATUS_OK;
        if ((id = strmap_get(&tk->vocab, w + i, cl)) >= 0) e->out[e->n++] = id;
        else if (e->hf->byte_fallback && byte_ids(tk, w + i, cl, e->out + e->n)) e->n += (int)cl;
        else st = emit_unk(e, start, w + i, cl);
        if (st != STATUS_OK) return st;
        i += cl;
    }
    merge_from(e, start);
    return STATUS_OK;
}

static Status spm_segment(Enc *e, const char *s, size_t len, int first) {
    const HfImpl *hf = e->hf;
    if (len == 0) return STATUS_OK;
    int pre = hf->prepend == HF_PREPEND_ALWAYS || (hf->prepend == HF_PREPEND_FIRST && first);
    if (pre && hf->prepend_if_missing &&
        ((hf->replace_spaces && s[0] == ' ') || (len >= 3 && !memcmp(s, META, 3))))
        pre = 0;
    size_t k = 0;
    if (pre) memcpy(e->buf, META, 3), k = 3;
    for (size_t i = 0; i < len; i++) {
        if (hf->replace_spaces && s[i] == ' ') memcpy(e->buf + k, META, 3), k += 3;
        else e->buf[k++] = s[i];
    }
    size_t w0 = 0;
    for (size_t i = 1; hf->metaspace_split && i + 3 <= k; i++) {
        if (memcmp(e->buf + i, META, 3)) continue;
        Status st = spm_word(e, e->buf + w0, i - w0);
        if (st != STATUS_OK) return st;
        w0 = i;
    }
    return spm_word(e, e->buf + w0, k - w0);
}

/* One byte-level pre-token: bytes -> bytes_to_unicode pieces, then merges. */
static Status bl_word(Enc *e, const char *w, size_t len) {
    int start = e->n, id;
    if (e->hf->ignore_merges) {
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            int c = hf_byte_char((unsigned char)w[i]);
            if (c < 0x80) e->buf[k++] = (char)c;
            else e->buf[k++] = (char)(0xC0 | (c >> 6)), e->buf[k++] = (char)(0x80 | (c & 0x3F));
        }
        if ((id = strmap_get(&e->tk->vocab, e->buf, k)) >= 0) {
            e->out[e->n++] = id;
            return STATUS_OK;
        }
    }
    for (size_t i = 0; i < len; i++) {
        id = e->hf->byte_id[(unsigned char)w[i]];
        if (id >= 0) e->out[e->n++] = id;
        else if (e->hf->unk_id >= 0) emit_unk(e, start, w + i, 1);
    }
    merge_from(e, start);
    return STATUS_OK;
}

static int is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int char_class(unsigned char c) {     /* 0 space, 1 letter, 2 digit, 3 other */
    return is_ws(c) ? 0 : (is_alpha(c) || c >= 0x80) ? 1 : (c >= '0' && c <= '9') ? 2 : 3;
}

/* End of the GPT-2 regex match starting at s[i] (ASCII approximation, see REFERENCE.md). */
static size_t gpt2_next(const char *s, size_t len, size_t i) {
    if (s[i] == '\'' && i + 1 < len) {
        char a = s[i + 1], b = i + 2 < len ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    size_t j = (s[i] == ' ' && i + 1 < len && !is_ws((unsigned char)s[i + 1])) ? i + 1 : i;
    int cls = char_class((unsigned char)s[j]);
    if (cls != 0) {
        while (j < len && char_class((unsigned char)s[j]) == cls) j++;
        return j;
    }
    size_t k = i;
    while (k < len && is_ws((unsigned char)s[k])) k++;
    return (k == len || k - i == 1) ? k : k - 1;   /* \s+(?!\S) leaves one space for " word" */
}

static Status bl_piece(Enc *e, const char *p, size_t len, char *tmp) {
    if (e->hf->add_prefix_space && p[0] != ' ') {
        tmp[0] = ' ';
        memcpy(tmp + 1, p, len);
        p = tmp;
        len++;
    }
    Status st = STATUS_OK;
    for (size_t i = 0; i < len && st == STATUS_OK;) {
        size_t j = e->hf->use_regex ? gpt2_next(p, len, i) : len;
        st = bl_word(e, p + i, j - i);
        i = j;
    }
    return st;
}

static Status bl_segment(Enc *e, const char *s, size_t len) {
    char *tmp = xmalloc(len + 2);
    Status st = STATUS_OK;
    for (size_t i = 0; i < len && st == STATUS_OK;) {
        size_t j = i + 1;
        int dig = s[i] >= '0' && s[i] <= '9';
        if (!e->hf->digits) j = len;
        else if (!dig || !e->hf->individual_digits)
            while (j < len && (s[j] >= '0' && s[j] <= '9') == dig) j++;
        st = bl_piece(e, s + i, j - i, tmp);
        i = j;
    }
    free(tmp);
    return st;
}

/* Longest added token at s[0..len), 0 if none. */
static size_t match_added(const HfImpl *hf, const char *s, size_t len, int *id) {
    size_t best = 0;
    for (int a = 0; a < hf->n_added; a++) {
        size_t l = (size_t)hf->added[a].len;
        if (l > best && l <= len && !memcmp(s, hf->added[a].content, l)) best = l, *id = hf->added[a].id;
    }
    return best;
}

static Status segment(Enc *e, const char *s, size_t len, int first) {
    return e->tk->kind == TOKENIZER_HF_BYTELEVEL ? bl_segment(e, s, len)
                                                 : spm_segment(e, s, len, first);
}

Status tokenizer_hf_encode(const Tokenizer *tk, const char *text, size_t len, int *out,
                           int *n, Error *err) {
    const HfImpl *hf = tk->impl;
    Enc e = {tk, hf, out, 0, xmalloc(3 * len + 8), err};
    Status st = STATUS_OK;
    size_t seg = 0;
    for (size_t i = 0; i < len && st == STATUS_OK;) {
        int id = -1;
        size_t m = hf->added_first[(unsigned char)text[i]] ? match_added(hf, text + i, len - i, &id) : 0;
        if (m == 0) {
            i++;
            continue;
        }
        st = segment(&e, text + seg, i - seg, seg == 0);
        e.out[e.n++] = id;
        i += m;
        seg = i;
    }
    if (st == STATUS_OK) st = segment(&e, text + seg, len - seg, seg == 0);
    free(e.buf);
    *n = e.n;
    return st;
}

/* Inverse of hf_byte_char: the byte shown as code point cp, or -1. */
static int hf_char_byte(unsigned cp) {
    if (cp < 256) return hf_byte_char((int)cp) == (int)cp ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int k = (int)cp - 256;
    return k <= 32 ? k : k <= 66 ? k - 33 + 127 : 173;
}

static size_t put(char *buf, size_t cap, size_t k, char c) {
    if (k < cap) buf[k] = c;
    return k + 1;
}

size_t tokenizer_hf_piece(const Tokenizer *tk, int id, char *buf, size_t cap) {
    const char *p = tk->pieces[id];
    size_t len = (size_t)tk->piece_len[id], k = 0;
    int b = byte_piece_value(p, len);
    if (tk->kind == TOKENIZER_HF_SPM && b >= 0) return put(buf, cap, 0, (char)b);
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_char_len(p + i, len - i);
        unsigned cp = cl == 2 ? ((unsigned)(p[i] & 0x1F) << 6) | (unsigned)(p[i + 1] & 0x3F)
                              : (unsigned char)p[i];
        int byte = -1;
        if (tk->kind == TOKENIZER_HF_BYTELEVEL && cl <= 2) byte = hf_char_byte(cp);
        if (tk->kind == TOKENIZER_HF_SPM && cl == 3 && !memcmp(p + i, META, 3)) byte = ' ';
        if (byte >= 0) k = put(buf, cap, k, (char)byte);
        else for (size_t c = 0; c < cl; c++) k = put(buf, cap, k, p[i + c]);
        i += cl;
    }
    return k;
}
