/* data/tokenizer_hf.c — loading an HF tokenizer.json (REFERENCE.md §4.7) into a Tokenizer:
   the BPE model (vocab {piece: id}, merges "a b" or ["a", "b"], byte_fallback, unk_token,
   fuse_unk, ignore_merges) and added_tokens (special, normalized, lstrip, rstrip; single_word
   is refused). The normalizer, pre_tokenizer, post_processor and decoder are read by
   tokenizer_hf_pipeline.c. BOS/EOS come from the post_processor template, else from added
   tokens named <s> </s> <|begin_of_text|> <|end_of_text|> <|endoftext|>. Anything else is
   rejected with the file, line and column of the offending value. */
#include "data/tokenizer_hf_impl.h"
#include "tensor/check.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META "\xe2\x96\x81"   /* U+2581 "▁" */

typedef HfLoader Loader;

Status hf_bad(Loader *L, const JsonValue *v, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(L->err, STATUS_FORMAT, "see REFERENCE.md 4.7 for the supported subset",
                     "%s:%d:%d: %s", L->path, v ? v->line : 0, v ? v->col : 0, msg);
}

const char *hf_type_of(const JsonValue *v) {
    const char *t = NULL;
    return v && v->type == JSON_OBJECT && json_get_string(v, "type", &t) ? t : "";
}

static const char *blob_copy(Loader *L, const char *s, size_t len) {
    char *d = L->tk->blob + L->blob_used;
    memcpy(d, s, len);
    d[len] = '\0';
    L->blob_used += len + 1;
    return d;
}

static Status get_id(Loader *L, const JsonValue *v, int *id) {
    if (!v || v->type != JSON_NUMBER || v->number < 0 || v->number > 1e8 ||
        v->number != (double)(int)v->number)
        return hf_bad(L, v, "expected a token id (integer 0..1e8)");
    *id = (int)v->number;
    return STATUS_OK;
}

/* Vocab + added tokens: sizes the tokenizer and fills pieces / the vocab map. */
static Status load_vocab(Loader *L, const JsonValue *vocab, const JsonValue *added) {
    int max_id = -1, id = 0;
    size_t blob = 0;
    for (size_t i = 0; i < vocab->count; i++) {
        Status st = get_id(L, &vocab->items[i], &id);
        if (st != STATUS_OK) return st;
        if (id > max_id) max_id = id;
        blob += strlen(vocab->keys[i]) + 1;
    }
    for (size_t i = 0; added && i < added->count; i++) {
        const JsonValue *a = &added->items[i];
        const JsonValue *c = json_get(a, "content");
        if (!c || c->type != JSON_STRING || c->string_len == 0)
            return hf_bad(L, a, "added token needs a non-empty \"content\" string");
        Status st = get_id(L, json_get(a, "id"), &id);
        if (st != STATUS_OK) return st;
        if (id > max_id) max_id = id;
        blob += c->string_len + 1;
    }
    if (max_id < 0) return hf_bad(L, vocab, "empty vocab");
    /* the tables are sized by the largest id: bound it by what the file holds (ids are dense in
       practice; twice the entry count leaves room for gaps) so one stray id cannot reserve GBs */
    size_t entries = vocab->count + (added ? added->count : 0), limit = 2 * entries + 256;
    if ((size_t)max_id >= limit)
        return hf_bad(L, vocab, "token id %d is far past the %zu tokens the file holds (expected ids below %zu)", max_id,
                   entries, limit);
    tokenizer_alloc(L->tk, max_id + 1, blob);
    for (size_t i = 0; i < vocab->count; i++) {
        get_id(L, &vocab->items[i], &id);
        if (L->tk->pieces[id]) return hf_bad(L, &vocab->items[i], "id %d appears twice in vocab", id);
        size_t len = strlen(vocab->keys[i]);
        L->tk->pieces[id] = (char *)blob_copy(L, vocab->keys[i], len);
        L->tk->piece_len[id] = (int)len;
        strmap_put(&L->tk->vocab, L->tk->pieces[id], len, id);
        if ((int)len > L->tk->max_token_length) L->tk->max_token_length = (int)len;
    }
    return STATUS_OK;
}

static Status load_added(Loader *L, const JsonValue *added) {
    if (!added || added->type == JSON_NULL) return STATUS_OK;
    HfImpl *hf = L->hf;
    hf->added = xcalloc(added->count ? added->count : 1, sizeof *hf->added);
    hf->is_added = xcalloc((size_t)L->tk->vocab_size, 1);
    for (size_t i = 0; i < added->count; i++) {
        const JsonValue *a = &added->items[i], *c = json_get(a, "content");
        int id = 0, special = 0, single_word = 0;
        get_id(L, json_get(a, "id"), &id);
        json_get_bool(a, "special", &special);
        json_get_bool(a, "single_word", &single_word);
        if (single_word) return hf_bad(L, a, "added token \"single_word\": true is not supported");
        const char *s = blob_copy(L, c->string, c->string_len);
        if (!L->tk->pieces[id]) {
            L->tk->pieces[id] = (char *)s;
            L->tk->piece_len[id] = (int)c->string_len;
        }
        strmap_put(&L->tk->vocab, s, c->string_len, id);
        if ((int)c->string_len > L->tk->max_token_length) L->tk->max_token_length = (int)c->string_len;
        L->tk->special[id] = (unsigned char)(special != 0);
        hf->is_added[id] = 1;
        HfAdded *t = &hf->added[hf->n_added++];
        *t = (HfAdded){s, (int)c->string_len, id, !special, 0, 0};
        json_get_bool(a, "normalized", &t->normalized);     /* default: not special */
        json_get_bool(a, "lstrip", &t->lstrip);
        json_get_bool(a, "rstrip", &t->rstrip);
        hf->added_first[(unsigned char)s[0]] = 1;
    }
    return STATUS_OK;
}

/* "normalized" only means something with a normalizer; with NFC the token is matched in the
   normalized text (NFC leaves the ASCII contents of real files as they are). */
static Status check_normalized(Loader *L, const JsonValue *added) {
    HfImpl *hf = L->hf;
    for (int i = 0; i < hf->n_added; i++) {
        HfAdded *t = &hf->added[i];
        if (!hf->has_normalizer) t->normalized = 0;
        if (t->normalized && (hf->prepend || hf->replace_spaces))
            return hf_bad(L, &added->items[i], "added token \"%s\": \"normalized\": true with a "
                          "Prepend / Replace normalizer is not supported", t->content);
    }
    return STATUS_OK;
}

/* One merge: "a b" or ["a", "b"]; rank = its index. */
static Status load_merge(Loader *L, const JsonValue *m, int rank, char *buf) {
    const char *a, *b;
    size_t la, lb;
    if (m->type == JSON_STRING) {
        const char *sp = memchr(m->string, ' ', m->string_len);
        if (!sp || memchr(sp + 1, ' ', m->string_len - (size_t)(sp - m->string) - 1))
            return hf_bad(L, m, "merge %d: expected \"left right\" with exactly one space", rank);
        a = m->string;
        la = (size_t)(sp - a);
        b = sp + 1;
        lb = m->string_len - la - 1;
    } else if (m->type == JSON_ARRAY && m->count == 2 && m->items[0].type == JSON_STRING &&
               m->items[1].type == JSON_STRING) {
        a = m->items[0].string, la = m->items[0].string_len;
        b = m->items[1].string, lb = m->items[1].string_len;
    } else {
        return hf_bad(L, m, "merge %d: expected \"a b\" or [\"a\", \"b\"]", rank);
    }
    int ia = strmap_get(&L->tk->vocab, a, la), ib = strmap_get(&L->tk->vocab, b, lb), im = -1;
    if (ia >= 0 && ib >= 0) {      /* both are pieces, so buf (2 * max_token_length) fits */
        memcpy(buf, a, la);
        memcpy(buf + la, b, lb);
        im = strmap_get(&L->tk->vocab, buf, la + lb);
    }
    if (ia < 0 || ib < 0 || im < 0)
        return hf_bad(L, m, "merge %d: \"%.*s\" + \"%.*s\": %s not in vocab", rank, (int)la, a,
                   (int)lb, b, ia < 0 ? "left part" : ib < 0 ? "right part" : "merged piece");
    pairmap_put(&L->hf->merges, ia, ib, rank, im);
    return STATUS_OK;
}

static Status load_model(Loader *L, const JsonValue *model) {
    HfImpl *hf = L->hf;
    const JsonValue *merges = json_get(model, "merges");
    if (strcmp(hf_type_of(model), "BPE") && !(model && !json_get(model, "type") && merges))
        return hf_bad(L, model, "model type \"%s\": only BPE is supported", hf_type_of(model));
    if (!merges || merges->type != JSON_ARRAY) return hf_bad(L, model, "BPE model needs \"merges\"");
    const char *s = NULL;
    json_get_bool(model, "byte_fallback", &hf->byte_fallback);
    json_get_bool(model, "fuse_unk", &hf->fuse_unk);
    json_get_bool(model, "ignore_merges", &hf->ignore_merges);
    hf->unk_id = json_get_string(model, "unk_token", &s) ? strmap_get(&L->tk->vocab, s, strlen(s)) : -1;
    if ((json_get_string(model, "continuing_subword_prefix", &s) && *s) ||
        (json_get_string(model, "end_of_word_suffix", &s) && *s))
        return hf_bad(L, model, "continuing_subword_prefix / end_of_word_suffix are not supported");
    pairmap_init(&hf->merges, merges->count);
    char *buf = xmalloc(2 * (size_t)L->tk->max_token_length + 2);
    Status st = STATUS_OK;
    for (size_t i = 0; i < merges->count && st == STATUS_OK; i++)
        st = load_merge(L, &merges->items[i], (int)i, buf);
    free(buf);
    return st;
}

static int first_present(const Tokenizer *tk, const char *const *names) {
    for (; *names; names++) {
        int id = strmap_get(&tk->vocab, *names, strlen(*names));
        if (id >= 0) return id;
    }
    return -1;
}

/* 1 when no piece holds "▁" right after a character other than "▁": then no merge can join
   a symbol to a following run of "▁", and words can be cut before such runs. */
static int spm_cut_ok(const Tokenizer *tk) {
    for (int id = 0; id < tk->vocab_size; id++) {
        const char *p = tk->pieces[id];
        for (int i = 1; p && i + 3 <= tk->piece_len[id]; i++)
            if (!memcmp(p + i, META, 3) && (i < 3 || memcmp(p + i - 3, META, 3))) return 0;
    }
    return 1;
}

static void set_defaults(Tokenizer *tk, HfImpl *hf) {
    hf->spm_cut = tk->kind == TOKENIZER_HF_SPM && spm_cut_ok(tk);
    static const char *const bos[] = {"<s>", "<|begin_of_text|>", "<|endoftext|>", NULL};
    static const char *const eos[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", NULL};
    if (tk->bos_id < 0) tk->bos_id = first_present(tk, bos);
    if (tk->eos_id < 0) tk->eos_id = first_present(tk, eos);
    for (int b = 0; b < 256; b++) {
        char u[3];
        int c = hf_byte_char(b), n = 1;
        if (c < 0x80) u[0] = (char)c;
        else u[0] = (char)(0xC0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3F)), n = 2;
        hf->byte_id[b] = strmap_get(&tk->vocab, u, (size_t)n);
    }
}

static Status load_doc(Loader *L, const JsonValue *root) {
    Tokenizer *tk = L->tk;
    const JsonValue *model = json_get(root, "model"), *added = json_get(root, "added_tokens");
    const JsonValue *vocab = json_get(model, "vocab");
    if (!vocab || vocab->type != JSON_OBJECT) return hf_bad(L, model ? model : root,
                                                         "expected \"model\": {\"vocab\": {...}}");
    if (added && added->type != JSON_ARRAY && added->type != JSON_NULL)
        return hf_bad(L, added, "\"added_tokens\" must be an array");
    Status st = load_vocab(L, vocab, added == NULL || added->type == JSON_NULL ? NULL : added);
    if (st != STATUS_OK) return st;
    tk->impl = L->hf;
    tk->bos_id = tk->eos_id = -1;
    if ((st = load_added(L, added)) != STATUS_OK || (st = load_model(L, model)) != STATUS_OK)
        return st;
    if ((st = hf_load_pipeline(L, root)) != STATUS_OK || (st = check_normalized(L, added)) != STATUS_OK)
        return st;
    set_defaults(tk, L->hf);
    return STATUS_OK;
}

Status tokenizer_load_hf(Tokenizer *tk, const char *path, Error *err) {
    memset(tk, 0, sizeof *tk);
    JsonDoc doc;
    Status st = json_parse_file(&doc, path, err);
    if (st != STATUS_OK) return st;
    HfImpl *hf = xcalloc(1, sizeof *hf);
    hf->unk_id = -1;
    Loader L = {path, tk, hf, 0, err};
    tk->kind = TOKENIZER_HF_SPM;        /* so tokenizer_free releases hf on failure */
    tk->impl = hf;
    st = load_doc(&L, doc.root);
    json_doc_free(&doc);
    if (st != STATUS_OK) tokenizer_free(tk);
    return st;
}

void tokenizer_hf_free(Tokenizer *tk) {
    HfImpl *hf = tk->impl;
    if (!hf) return;
    pairmap_free(&hf->merges);
    free(hf->added);
    free(hf->is_added);
    free(hf);
    tk->impl = NULL;
}
