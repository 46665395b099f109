/* data/tokenizer_hf.c — loading an HF tokenizer.json (REFERENCE.md §4.7) into a Tokenizer.
   Supported: model BPE (vocab {piece: id}, merges "a b" or ["a", "b"], byte_fallback,
   unk_token, fuse_unk, ignore_merges); added_tokens; normalizer null / NFC (treated as
   identity) / Prepend("▁") / Replace(" " -> "▁") / Sequence of those; pre_tokenizer null /
   Metaspace / ByteLevel / Digits / Sequence of those; BOS/EOS from a TemplateProcessing
   post_processor, else from added tokens named <s> </s> <|endoftext|> ... The kind is
   ByteLevel when a ByteLevel pre-tokenizer is present, else SentencePiece-style.
   Anything else is rejected with the file, line and column of the offending value. */
#include "data/tokenizer_hf_impl.h"
#include "data/json.h"
#include "tensor/check.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META "\xe2\x96\x81"   /* U+2581 "▁" */

typedef struct {
    const char *path;
    Tokenizer *tk;
    HfImpl *hf;
    size_t blob_used;
    Error *err;
} Loader;

static Status bad(Loader *L, const JsonValue *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static Status bad(Loader *L, const JsonValue *v, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(L->err, STATUS_FORMAT, "see REFERENCE.md 4.7 for the supported subset",
                     "%s:%d:%d: %s", L->path, v ? v->line : 0, v ? v->col : 0, msg);
}

static const char *type_of(const JsonValue *v) {
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
        return bad(L, v, "expected a token id (integer 0..1e8)");
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
            return bad(L, a, "added token needs a non-empty \"content\" string");
        Status st = get_id(L, json_get(a, "id"), &id);
        if (st != STATUS_OK) return st;
        if (id > max_id) max_id = id;
        blob += c->string_len + 1;
    }
    if (max_id < 0) return bad(L, vocab, "empty vocab");
    /* the tables are sized by the largest id: bound it by what the file holds (ids are dense in
       practice; twice the entry count leaves room for gaps) so one stray id cannot reserve GBs */
    size_t entries = vocab->count + (added ? added->count : 0), limit = 2 * entries + 256;
    if ((size_t)max_id >= limit)
        return bad(L, vocab, "token id %d is far past the %zu tokens the file holds (expected ids below %zu)", max_id,
                   entries, limit);
    tokenizer_alloc(L->tk, max_id + 1, blob);
    for (size_t i = 0; i < vocab->count; i++) {
        get_id(L, &vocab->items[i], &id);
        if (L->tk->pieces[id]) return bad(L, &vocab->items[i], "id %d appears twice in vocab", id);
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
    for (size_t i = 0; i < added->count; i++) {
        const JsonValue *a = &added->items[i], *c = json_get(a, "content");
        int id = 0, special = 0;
        get_id(L, json_get(a, "id"), &id);
        json_get_bool(a, "special", &special);
        const char *s = blob_copy(L, c->string, c->string_len);
        if (!L->tk->pieces[id]) {
            L->tk->pieces[id] = (char *)s;
            L->tk->piece_len[id] = (int)c->string_len;
        }
        strmap_put(&L->tk->vocab, s, c->string_len, id);
        if ((int)c->string_len > L->tk->max_token_length) L->tk->max_token_length = (int)c->string_len;
        L->tk->special[id] = (unsigned char)(special != 0);
        hf->added[hf->n_added++] = (HfAdded){s, (int)c->string_len, id};
        hf->added_first[(unsigned char)s[0]] = 1;
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
            return bad(L, m, "merge %d: expected \"left right\" with exactly one space", rank);
        a = m->string;
        la = (size_t)(sp - a);
        b = sp + 1;
        lb = m->string_len - la - 1;
    } else if (m->type == JSON_ARRAY && m->count == 2 && m->items[0].type == JSON_STRING &&
               m->items[1].type == JSON_STRING) {
        a = m->items[0].string, la = m->items[0].string_len;
        b = m->items[1].string, lb = m->items[1].string_len;
    } else {
        return bad(L, m, "merge %d: expected \"a b\" or [\"a\", \"b\"]", rank);
    }
    int ia = strmap_get(&L->tk->vocab, a, la), ib = strmap_get(&L->tk->vocab, b, lb), im = -1;
    if (ia >= 0 && ib >= 0) {      /* both are pieces, so buf (2 * max_token_length) fits */
        memcpy(buf, a, la);
        memcpy(buf + la, b, lb);
        im = strmap_get(&L->tk->vocab, buf, la + lb);
    }
    if (ia < 0 || ib < 0 || im < 0)
        return bad(L, m, "merge %d: \"%.*s\" + \"%.*s\": %s not in vocab", rank, (int)la, a,
                   (int)lb, b, ia < 0 ? "left part" : ib < 0 ? "right part" : "merged piece");
    pairmap_put(&L->hf->merges, ia, ib, rank, im);
    return STATUS_OK;
}

static Status load_model(Loader *L, const JsonValue *model) {
    HfImpl *hf = L->hf;
    const JsonValue *merges = json_get(model, "merges");
    if (strcmp(type_of(model), "BPE") && !(model && !json_get(model, "type") && merges))
        return bad(L, model, "model type \"%s\": only BPE is supported", type_of(model));
    if (!merges || merges->type != JSON_ARRAY) return bad(L, model, "BPE model needs \"merges\"");
    const char *s = NULL;
    json_get_bool(model, "byte_fallback", &hf->byte_fallback);
    json_get_bool(model, "fuse_unk", &hf->fuse_unk);
    json_get_bool(model, "ignore_merges", &hf->ignore_merges);
    hf->unk_id = json_get_string(model, "unk_token", &s) ? strmap_get(&L->tk->vocab, s, strlen(s)) : -1;
    if ((json_get_string(model, "continuing_subword_prefix", &s) && *s) ||
        (json_get_string(model, "end_of_word_suffix", &s) && *s))
        return bad(L, model, "continuing_subword_prefix / end_of_word_suffix are not supported");
    pairmap_init(&hf->merges, merges->count);
    char *buf = xmalloc(2 * (size_t)L->tk->max_token_length + 2);
    Status st = STATUS_OK;
    for (size_t i = 0; i < merges->count && st == STATUS_OK; i++)
        st = load_merge(L, &merges->items[i], (int)i, buf);
    free(buf);
    return st;
}

static const JsonValue *seq_items(const JsonValue *v, const char *key, size_t *n) {
    const JsonValue *list = json_get(v, key);
    if (!strcmp(type_of(v), "Sequence") && list && list->type == JSON_ARRAY) {
        *n = list->count;
        return list->items;
    }
    *n = v && v->type == JSON_OBJECT ? 1 : 0;
    return v;
}

static Status load_normalizer(Loader *L, const JsonValue *norm) {
    size_t n;
    const JsonValue *it = seq_items(norm, "normalizers", &n);
    for (size_t i = 0; i < n; i++) {
        const char *t = type_of(&it[i]), *s = NULL, *c = NULL;
        const JsonValue *pat = json_get(&it[i], "pattern");
        if (!strcmp(t, "Prepend") && json_get_string(&it[i], "prepend", &s) && !strcmp(s, META))
            L->hf->prepend = HF_PREPEND_ALWAYS;
        else if (!strcmp(t, "Replace") && json_get_string(pat, "String", &s) && !strcmp(s, " ") &&
                 json_get_string(&it[i], "content", &c) && !strcmp(c, META))
            L->hf->replace_spaces = 1;
        else if (strcmp(t, "NFC"))
            return bad(L, &it[i], "unsupported normalizer \"%s\"", t);
    }
    return STATUS_OK;
}

static Status load_metaspace(Loader *L, const JsonValue *p) {
    const char *s = NULL;
    int b = 1;
    if (json_get_string(p, "replacement", &s) && strcmp(s, META))
        return bad(L, p, "Metaspace replacement must be U+2581");
    L->hf->replace_spaces = 1;
    L->hf->prepend_if_missing = 1;
    if (json_get_string(p, "prepend_scheme", &s)) {
        if (!strcmp(s, "always")) L->hf->prepend = HF_PREPEND_ALWAYS;
        else if (!strcmp(s, "first")) L->hf->prepend = HF_PREPEND_FIRST;
        else if (!strcmp(s, "never")) L->hf->prepend = HF_PREPEND_NEVER;
        else return bad(L, p, "unknown Metaspace prepend_scheme \"%s\"", s);
    } else {
        json_get_bool(p, "add_prefix_space", &b);
        L->hf->prepend = b ? HF_PREPEND_ALWAYS : HF_PREPEND_NEVER;
    }
    b = 1;
    json_get_bool(p, "split", &b);
    L->hf->metaspace_split = b;
    return STATUS_OK;
}

/* Sets *bytelevel when a ByteLevel pre-tokenizer is present. */
static Status load_pre_tokenizer(Loader *L, const JsonValue *pre, int *bytelevel) {
    size_t n;
    const JsonValue *it = seq_items(pre, "pretokenizers", &n);
    HfImpl *hf = L->hf;
    for (size_t i = 0; i < n; i++) {
        const char *t = type_of(&it[i]);
        Status st = STATUS_OK;
        if (!strcmp(t, "Metaspace")) {
            st = load_metaspace(L, &it[i]);
        } else if (!strcmp(t, "ByteLevel")) {
            *bytelevel = 1;
            hf->add_prefix_space = hf->use_regex = 1;       /* HF defaults */
            json_get_bool(&it[i], "add_prefix_space", &hf->add_prefix_space);
            json_get_bool(&it[i], "use_regex", &hf->use_regex);
        } else if (!strcmp(t, "Digits")) {
            if (*bytelevel) return bad(L, &it[i], "Digits after ByteLevel is not supported");
            hf->digits = 1;
            json_get_bool(&it[i], "individual_digits", &hf->individual_digits);
        } else {
            return bad(L, &it[i], "unsupported pre_tokenizer \"%s\"", t);
        }
        if (st != STATUS_OK) return st;
    }
    if (*bytelevel && (hf->replace_spaces || hf->prepend))
        return bad(L, pre, "ByteLevel mixed with Metaspace / Prepend is not supported");
    if (!*bytelevel && hf->digits) return bad(L, pre, "Digits is only supported with ByteLevel");
    return STATUS_OK;
}

static int special_id(const Loader *L, const JsonValue *pp, const char *name) {
    const JsonValue *st = json_get(json_get(pp, "special_tokens"), name);
    const JsonValue *ids = json_get(st, "ids");
    if (ids && ids->type == JSON_ARRAY && ids->count >= 1 && ids->items[0].type == JSON_NUMBER)
        return (int)ids->items[0].number;
    return strmap_get(&L->tk->vocab, name, strlen(name));
}

/* BOS/EOS from a TemplateProcessing "single" template: special tokens before / after $A. */
static void load_post_processor(Loader *L, const JsonValue *pp) {
    size_t n;
    const JsonValue *it = seq_items(pp, "processors", &n);
    for (size_t i = 0; i < n; i++) {
        const JsonValue *single = json_get(&it[i], "single");
        if (strcmp(type_of(&it[i]), "TemplateProcessing") || !single || single->type != JSON_ARRAY)
            continue;
        int seen_a = 0;
        for (size_t k = 0; k < single->count; k++) {
            const char *name = NULL;
            if (json_get(&single->items[k], "Sequence")) seen_a = 1;
            if (!json_get_string(json_get(&single->items[k], "SpecialToken"), "id", &name)) continue;
            int id = special_id(L, &it[i], name);
            if (id < 0 || id >= L->tk->vocab_size) continue;
            if (!seen_a && L->tk->bos_id < 0) L->tk->bos_id = id, L->tk->add_bos = 1;
            if (seen_a && L->tk->eos_id < 0) L->tk->eos_id = id;
        }
    }
}

static int first_present(const Tokenizer *tk, const char *const *names) {
    for (; *names; names++) {
        int id = strmap_get(&tk->vocab, *names, strlen(*names));
        if (id >= 0) return id;
    }
    return -1;
}

static void set_defaults(Tokenizer *tk, HfImpl *hf) {
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
    if (!vocab || vocab->type != JSON_OBJECT) return bad(L, model ? model : root,
                                                         "expected \"model\": {\"vocab\": {...}}");
    if (added && added->type != JSON_ARRAY && added->type != JSON_NULL)
        return bad(L, added, "\"added_tokens\" must be an array");
    Status st = load_vocab(L, vocab, added == NULL || added->type == JSON_NULL ? NULL : added);
    if (st != STATUS_OK) return st;
    tk->impl = L->hf;
    tk->bos_id = tk->eos_id = -1;
    if ((st = load_added(L, added)) != STATUS_OK || (st = load_model(L, model)) != STATUS_OK)
        return st;
    int bytelevel = 0;
    if ((st = load_normalizer(L, json_get(root, "normalizer"))) != STATUS_OK ||
        (st = load_pre_tokenizer(L, json_get(root, "pre_tokenizer"), &bytelevel)) != STATUS_OK)
        return st;
    tk->kind = bytelevel ? TOKENIZER_HF_BYTELEVEL : TOKENIZER_HF_SPM;
    load_post_processor(L, json_get(root, "post_processor"));
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
    free(hf);
    tk->impl = NULL;
}
