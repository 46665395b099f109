/* data/tokenizer_hf_encode.c — encoding with an HF tokenizer.json (§4.7), in the order of the
   reference implementation (Tokenizer.encode_text of @huggingface/tokenizers):
   1. Added tokens that are not "normalized" are matched in the raw text (at each position the
      longest one; else the next position); lstrip / rstrip tokens trim the whitespace of the
      text before / after them. The text between them forms sections.
   2. Each section is normalized (NFC), then split again at the "normalized" added tokens.
   3. SentencePiece kind: ' ' -> "▁"; "▁" prepended (legacy Prepend normalizer: every non-empty
      section; Metaspace: "always" / "first" = only the section at offset 0, and only when it
      does not already start with "▁"); Metaspace split=true cuts words before each "▁";
      without it, when no piece holds a "▁" after another character (spm_cut: true of the
      SentencePiece vocabularies), words are cut before each run of "▁", which cannot change
      the merges but keeps BPE linear on long texts. Each
      word: one id per code point, missing ones -> <0xXX> byte pieces (byte_fallback) or unk
      (fused when fuse_unk), then BPE by merge rank.
   4. ByteLevel kind: the pre-tokenizers in order (Split by a pattern of data/pretok.h, Digits,
      ByteLevel with its prefix space and GPT-2 regex), each applied to every piece of the one
      before; each final piece is mapped byte by byte to the bytes_to_unicode alphabet (missing
      bytes are dropped), looked up whole when ignore_merges, else merged by rank. */
#include "data/tokenizer_hf_impl.h"
#include "data/bpe.h"
#include "data/unicode.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

#define META "\xe2\x96\x81"

typedef struct {
    const Tokenizer *tk;
    const HfImpl *hf;
    int *out;           /* grows as needed */
    size_t n, cap;
    char *buf;          /* scratch, buf_cap bytes */
    size_t buf_cap;
    BpeCache cache;     /* byte-level words already encoded */
    Error *err;
} Enc;

static char *scratch(Enc *e, size_t need) {
    if (need > e->buf_cap) {
        e->buf_cap = need + need / 2 + 64;
        e->buf = xrealloc(e->buf, e->buf_cap);
    }
    return e->buf;
}

/* Room for k more ids. */
static void reserve(Enc *e, size_t k) {
    if (e->n + k > e->cap) {
        e->cap = e->n + k + e->cap / 2 + 64;
        e->out = xrealloc(e->out, e->cap * sizeof *e->out);
    }
}

static int hf_pair(const void *ctx, int left, int right, double *priority, int *merged) {
    int rank;
    if (!pairmap_get(&((const HfImpl *)ctx)->merges, left, right, &rank, merged)) return 0;
    *priority = -(double)rank;
    return 1;
}

static void merge_from(Enc *e, size_t start) {
    e->n = start + (size_t)bpe_merge(e->out + start, (int)(e->n - start), hf_pair, e->hf);
}

static Status emit_unk(Enc *e, size_t start, const char *what, size_t len) {
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
    size_t start = e->n;
    int id, nc;
    reserve(e, len + 1);          /* at most one id per byte */
    const int *cached = bpe_cache_get(&e->cache, w, len, &nc);
    if (cached) {
        memcpy(e->out + e->n, cached, (size_t)nc * sizeof *cached);
        e->n += (size_t)nc;
        return STATUS_OK;
    }
    if (e->hf->ignore_merges && (id = strmap_get(&tk->vocab, w, len)) >= 0) {
        e->out[e->n++] = id;
        return STATUS_OK;
    }
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_char_len(w + i, len - i);
        Status st = STATUS_OK;
        if ((id = strmap_get(&tk->vocab, w + i, cl)) >= 0) e->out[e->n++] = id;
        else if (e->hf->byte_fallback && byte_ids(tk, w + i, cl, e->out + e->n)) e->n += cl;
        else st = emit_unk(e, start, w + i, cl);
        if (st != STATUS_OK) return st;
        i += cl;
    }
    merge_from(e, start);
    bpe_cache_put(&e->cache, w, len, e->out + start, (int)(e->n - start));
    return STATUS_OK;
}

static Status spm_segment(Enc *e, const char *s, size_t len, int first) {
    const HfImpl *hf = e->hf;
    int pre = hf->prepend == HF_PREPEND_ALWAYS || (hf->prepend == HF_PREPEND_FIRST && first);
    if (pre && hf->prepend_if_missing &&
        ((hf->replace_spaces && s[0] == ' ') || (len >= 3 && !memcmp(s, META, 3))))
        pre = 0;
    char *buf = xmalloc(3 * len + 4);
    size_t k = 0;
    if (pre) memcpy(buf, META, 3), k = 3;
    for (size_t i = 0; i < len; i++) {
        if (hf->replace_spaces && s[i] == ' ') memcpy(buf + k, META, 3), k += 3;
        else buf[k++] = s[i];
    }
    size_t w0 = 0;
    Status st = STATUS_OK;
    for (size_t i = 1; (hf->metaspace_split || hf->spm_cut) && i + 3 <= k && st == STATUS_OK; i++) {
        if (memcmp(buf + i, META, 3)) continue;
        if (!hf->metaspace_split && (i < 3 || !memcmp(buf + i - 3, META, 3))) continue;
        st = spm_word(e, buf + w0, i - w0);
        w0 = i;
    }
    if (st == STATUS_OK) st = spm_word(e, buf + w0, k - w0);
    free(buf);
    return st;
}

/* One byte-level pre-token: bytes -> bytes_to_unicode pieces, then merges (cached). */
static void bl_word(Enc *e, const char *w, size_t len) {
    size_t start = e->n;
    int id, nc;
    reserve(e, len + 1);
    const int *cached = bpe_cache_get(&e->cache, w, len, &nc);
    if (cached) {
        memcpy(e->out + e->n, cached, (size_t)nc * sizeof *cached);
        e->n += (size_t)nc;
        return;
    }
    if (e->hf->ignore_merges) {
        char *buf = scratch(e, 2 * len);
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            int c = hf_byte_char((unsigned char)w[i]);
            if (c < 0x80) buf[k++] = (char)c;
            else buf[k++] = (char)(0xC0 | (c >> 6)), buf[k++] = (char)(0x80 | (c & 0x3F));
        }
        if ((id = strmap_get(&e->tk->vocab, buf, k)) >= 0) {
            e->out[e->n++] = id;
            return;
        }
    }
    for (size_t i = 0; i < len; i++) {
        id = e->hf->byte_id[(unsigned char)w[i]];
        if (id >= 0) e->out[e->n++] = id;
        else if (e->hf->unk_id >= 0) emit_unk(e, start, w + i, 1);
    }
    merge_from(e, start);
    bpe_cache_put(&e->cache, w, len, e->out + start, (int)(e->n - start));
}

static void pre_step(Enc *e, int k, const char *p, size_t len);

/* ByteLevel pre-tokenizer k on p[0..len): the GPT-2 regex split (use_regex), then step k + 1. */
static void bytelevel_step(Enc *e, int k, const char *p, size_t len) {
    if (!e->hf->pre[k].use_regex) {
        pre_step(e, k + 1, p, len);
        return;
    }
    for (size_t i = 0, j; i < len; i = j) {
        j = pretok_next(PRETOK_GPT2, p, len, i);
        pre_step(e, k + 1, p + i, j - i);
    }
}

/* Pre-tokenizer k (and the ones after it) on the piece p[0..len). */
static void pre_step(Enc *e, int k, const char *p, size_t len) {
    if (len == 0) return;
    if (k == e->hf->n_pre) {
        bl_word(e, p, len);
        return;
    }
    const HfPreStep *st = &e->hf->pre[k];
    if (st->kind == HF_PRE_BYTELEVEL && st->add_prefix_space && p[0] != ' ') {
        char *tmp = xmalloc(len + 1);      /* every piece gets the prefix space */
        tmp[0] = ' ';
        memcpy(tmp + 1, p, len);
        bytelevel_step(e, k, tmp, len + 1);
        free(tmp);
        return;
    }
    if (st->kind == HF_PRE_BYTELEVEL) {
        bytelevel_step(e, k, p, len);
        return;
    }
    for (size_t i = 0, j; i < len; i = j) {
        j = i + 1;
        if (st->kind == HF_PRE_DIGITS) {       /* [^0-9]+ | [0-9]+ (or one digit) */
            int dig = p[i] >= '0' && p[i] <= '9';
            if (!dig || !st->individual_digits)
                while (j < len && (p[j] >= '0' && p[j] <= '9') == dig) j++;
        } else {
            j = pretok_next(st->pattern, p, len, i);
        }
        pre_step(e, k + 1, p + i, j - i);
    }
}

static int is_trim_space(const char *s, size_t len, size_t i, size_t *next) {
    uint32_t cp;
    *next = i + utf8_decode(s + i, len - i, &cp);
    return uni_is_js_space(cp);      /* String.prototype.trim's white space */
}

/* Longest added token of the given "normalized" kind at s[0..len), 0 if none. */
static size_t match_added(const HfImpl *hf, const char *s, size_t len, int normalized, int *which) {
    size_t best = 0;
    for (int a = 0; a < hf->n_added; a++) {
        size_t l = (size_t)hf->added[a].len;
        if (hf->added[a].normalized == normalized && l > best && l <= len &&
            !memcmp(s, hf->added[a].content, l))
            best = l, *which = a;
    }
    return best;
}

static Status split_added(Enc *e, const char *s, size_t len, int normalized, int first);

/* A section between added tokens: normalize, then split at the normalized ones, then encode. */
static Status section(Enc *e, const char *s, size_t len, int normalized, int first) {
    if (len == 0) return STATUS_OK;
    if (!normalized) {
        if (!e->hf->nfc) return split_added(e, s, len, 1, first);
        char *norm = xmalloc(3 * len + 8);
        Status st = split_added(e, norm, uni_nfc(s, len, norm), 1, first);
        free(norm);
        return st;
    }
    if (e->tk->kind == TOKENIZER_HF_SPM) return spm_segment(e, s, len, first);
    pre_step(e, 0, s, len);
    return STATUS_OK;
}

/* Splits s[0..len) at the added tokens of one "normalized" kind (lstrip / rstrip trim the
   neighbouring text); the rest goes to section(). */
static Status split_added(Enc *e, const char *s, size_t len, int normalized, int first) {
    const HfImpl *hf = e->hf;
    Status st = STATUS_OK;
    size_t seg = 0;
    for (size_t i = 0; i < len && st == STATUS_OK;) {
        int a = -1;
        size_t m = hf->added_first[(unsigned char)s[i]] ? match_added(hf, s + i, len - i, normalized, &a) : 0;
        if (m == 0) {
            i++;
            continue;
        }
        size_t end = i, next;
        if (hf->added[a].lstrip) {                /* trimEnd of the text before */
            end = seg;
            for (size_t k = seg; k < i; k = next)
                if (!is_trim_space(s, i, k, &next)) end = next;
        }
        /* Metaspace "first": the first raw section (all of its normalized sub-sections) */
        st = section(e, s + seg, end - seg, normalized, normalized ? first : seg == 0);
        reserve(e, 1);
        e->out[e->n++] = hf->added[a].id;
        i += m;
        if (hf->added[a].rstrip)
            while (i < len && is_trim_space(s, len, i, &next)) i = next;
        seg = i;
    }
    if (st == STATUS_OK) st = section(e, s + seg, len - seg, normalized, normalized ? first : seg == 0);
    return st;
}

Status tokenizer_hf_encode(const Tokenizer *tk, const char *text, size_t len, int **out,
                           size_t *n, Error *err) {
    Enc e = {.tk = tk, .hf = tk->impl, .err = err};
    reserve(&e, len / 3 + 16);
    if (len > 256) bpe_cache_init(&e.cache);
    Status st = split_added(&e, text, len, 0, 1);
    if (e.cache.keys) bpe_cache_free(&e.cache);
    free(e.buf);
    *out = e.out;
    *n = e.n;
    return st;
}
