/* data/tokenizer_hf_pipeline.c — the normalizer, pre_tokenizer, post_processor and decoder of
   an HF tokenizer.json (REFERENCE.md §4.7). Supported, anything else refused naming the key:
     normalizer      null | NFC | Prepend("▁") | Replace(" " -> "▁") | Sequence of those
     pre_tokenizer   null | Metaspace (SentencePiece kind) | ByteLevel | a Sequence of Split
                     (Regex of GPT-2 / Llama 3 / Qwen2, behavior Isolated, invert false),
                     Digits and a final ByteLevel (byte-level kind)
     post_processor  null | ByteLevel (no ids) | TemplateProcessing | Sequence of those: the
                     special tokens before $A are prefix_ids (the first is BOS), after it
                     suffix_ids (the last is EOS)
     decoder         ByteLevel | Metaspace | Sequence of Replace("▁" -> " "), ByteFallback,
                     Fuse, Strip(" ", start, stop); null / missing = the kind's usual decoder */
#include "data/tokenizer_hf_impl.h"
#include <string.h>

#define META "\xe2\x96\x81"   /* U+2581 "▁" */

static const JsonValue *seq_items(const JsonValue *v, const char *key, size_t *n) {
    const JsonValue *list = json_get(v, key);
    if (!strcmp(hf_type_of(v), "Sequence") && list && list->type == JSON_ARRAY) {
        *n = list->count;
        return list->items;
    }
    *n = v && v->type == JSON_OBJECT ? 1 : 0;
    return v;
}

static Status load_normalizer(HfLoader *L, const JsonValue *norm) {
    size_t n;
    const JsonValue *it = seq_items(norm, "normalizers", &n);
    L->hf->has_normalizer = norm && norm->type == JSON_OBJECT;
    for (size_t i = 0; i < n; i++) {
        const char *t = hf_type_of(&it[i]), *s = NULL, *c = NULL;
        const JsonValue *pat = json_get(&it[i], "pattern");
        if (!strcmp(t, "Prepend") && json_get_string(&it[i], "prepend", &s) && !strcmp(s, META))
            L->hf->prepend = HF_PREPEND_ALWAYS;
        else if (!strcmp(t, "Replace") && json_get_string(pat, "String", &s) && !strcmp(s, " ") &&
                 json_get_string(&it[i], "content", &c) && !strcmp(c, META))
            L->hf->replace_spaces = 1;
        else if (!strcmp(t, "NFC"))
            L->hf->nfc = 1;
        else
            return hf_bad(L, &it[i], "unsupported normalizer \"%s\"", t);
    }
    return STATUS_OK;
}

static Status load_metaspace(HfLoader *L, const JsonValue *p) {
    const char *s = NULL;
    int b = 1;
    if (json_get_string(p, "replacement", &s) && strcmp(s, META))
        return hf_bad(L, p, "Metaspace replacement must be U+2581");
    L->hf->replace_spaces = 1;
    L->hf->prepend_if_missing = 1;
    if (json_get_string(p, "prepend_scheme", &s)) {
        if (!strcmp(s, "always")) L->hf->prepend = HF_PREPEND_ALWAYS;
        else if (!strcmp(s, "first")) L->hf->prepend = HF_PREPEND_FIRST;
        else if (!strcmp(s, "never")) L->hf->prepend = HF_PREPEND_NEVER;
        else return hf_bad(L, p, "unknown Metaspace prepend_scheme \"%s\"", s);
    } else {
        json_get_bool(p, "add_prefix_space", &b);
        L->hf->prepend = b ? HF_PREPEND_ALWAYS : HF_PREPEND_NEVER;
    }
    b = 1;
    json_get_bool(p, "split", &b);
    L->hf->metaspace_split = b;
    return STATUS_OK;
}

static Status load_split(HfLoader *L, const JsonValue *p, HfPreStep *st) {
    const JsonValue *pat = json_get(p, "pattern"), *re = json_get(pat, "Regex");
    const char *behavior = "";
    int invert = 0;
    if (!re || re->type != JSON_STRING)
        return hf_bad(L, pat ? pat : p, "Split \"pattern\": only {\"Regex\": ...} is supported");
    st->kind = HF_PRE_SPLIT;
    st->pattern = pretok_pattern_find(re->string, re->string_len);
    if (st->pattern == PRETOK_NONE)
        return hf_bad(L, re, "Split regex \"%.*s\" is not supported (known: the GPT-2, Llama 3 "
                      "and Qwen2 patterns)", (int)(re->string_len > 200 ? 200 : re->string_len),
                      re->string);
    json_get_string(p, "behavior", &behavior);
    json_get_bool(p, "invert", &invert);
    if (strcmp(behavior, "Isolated"))
        return hf_bad(L, p, "Split \"behavior\": \"%s\" is not supported (only \"Isolated\")",
                      behavior);
    if (invert) return hf_bad(L, p, "Split \"invert\": true is not supported");
    return STATUS_OK;
}

/* One pre-tokenizer of the (Sequence) list; *bytelevel is set by ByteLevel. */
static Status load_pre_one(HfLoader *L, const JsonValue *p, int *bytelevel) {
    HfImpl *hf = L->hf;
    const char *t = hf_type_of(p);
    if (!strcmp(t, "Metaspace")) return load_metaspace(L, p);
    if (*bytelevel) return hf_bad(L, p, "pre_tokenizer \"%s\" after ByteLevel is not supported", t);
    if (hf->n_pre == HF_MAX_PRE) return hf_bad(L, p, "more than %d pre_tokenizers", HF_MAX_PRE);
    HfPreStep *st = &hf->pre[hf->n_pre];
    memset(st, 0, sizeof *st);
    if (!strcmp(t, "ByteLevel")) {
        *bytelevel = 1;
        st->kind = HF_PRE_BYTELEVEL;
        st->add_prefix_space = st->use_regex = 1;       /* tokenizers (Rust) defaults */
        json_get_bool(p, "add_prefix_space", &st->add_prefix_space);
        json_get_bool(p, "use_regex", &st->use_regex);
    } else if (!strcmp(t, "Digits")) {
        st->kind = HF_PRE_DIGITS;
        json_get_bool(p, "individual_digits", &st->individual_digits);
    } else if (!strcmp(t, "Split")) {
        Status s = load_split(L, p, st);
        if (s != STATUS_OK) return s;
    } else {
        return hf_bad(L, p, "unsupported pre_tokenizer \"%s\"", t);
    }
    hf->n_pre++;
    return STATUS_OK;
}

static Status load_pre_tokenizer(HfLoader *L, const JsonValue *pre, int *bytelevel) {
    size_t n;
    const JsonValue *it = seq_items(pre, "pretokenizers", &n);
    for (size_t i = 0; i < n; i++) {
        Status st = load_pre_one(L, &it[i], bytelevel);
        if (st != STATUS_OK) return st;
    }
    if (*bytelevel && (L->hf->replace_spaces || L->hf->prepend))
        return hf_bad(L, pre, "ByteLevel mixed with Metaspace / Prepend is not supported");
    if (!*bytelevel && L->hf->n_pre)
        return hf_bad(L, pre, "Split / Digits are only supported before a ByteLevel pre_tokenizer");
    return STATUS_OK;
}

/* The ids of a template's special token: special_tokens[name].ids, else the vocab id of name. */
static Status template_ids(HfLoader *L, const JsonValue *tp, const JsonValue *item, int *ids,
                           int *n) {
    const char *name = NULL;
    if (!json_get_string(json_get(item, "SpecialToken"), "id", &name))
        return hf_bad(L, item, "TemplateProcessing SpecialToken needs an \"id\" string");
    const JsonValue *list = json_get(json_get(json_get(tp, "special_tokens"), name), "ids");
    *n = 0;
    for (size_t k = 0; list && list->type == JSON_ARRAY && k < list->count && *n < 4; k++) {
        double v = list->items[k].number;
        if (list->items[k].type != JSON_NUMBER || v < 0 || v >= L->tk->vocab_size || v != (int)v)
            return hf_bad(L, &list->items[k], "TemplateProcessing id of \"%s\": expected 0..%d",
                          name, L->tk->vocab_size - 1);
        ids[(*n)++] = (int)v;
    }
    if (*n == 0 && (ids[0] = strmap_get(&L->tk->vocab, name, strlen(name))) >= 0) *n = 1;
    if (*n == 0) return hf_bad(L, item, "TemplateProcessing token \"%s\" has no id", name);
    return STATUS_OK;
}

static Status load_template(HfLoader *L, const JsonValue *tp) {
    const JsonValue *single = json_get(tp, "single");
    Tokenizer *tk = L->tk;
    if (!single || single->type != JSON_ARRAY)
        return hf_bad(L, tp, "TemplateProcessing needs a \"single\" array");
    tk->n_prefix = tk->n_suffix = 0;
    int seen_a = 0;
    for (size_t k = 0; k < single->count; k++) {
        const JsonValue *item = &single->items[k];
        const char *seq = NULL;
        if (json_get_string(json_get(item, "Sequence"), "id", &seq)) {
            if (strcmp(seq, "A")) return hf_bad(L, item, "\"single\" template uses $%s", seq);
            seen_a = 1;
            continue;
        }
        if (!json_get(item, "SpecialToken"))
            return hf_bad(L, item, "template item: expected SpecialToken or Sequence");
        int ids[4], n = 0;
        Status st = template_ids(L, tp, item, ids, &n);
        int *dst = seen_a ? tk->suffix_ids : tk->prefix_ids, *cnt = seen_a ? &tk->n_suffix : &tk->n_prefix;
        for (int i = 0; st == STATUS_OK && i < n; i++) {
            if (*cnt == 4) return hf_bad(L, item, "more than 4 special tokens around $A");
            dst[(*cnt)++] = ids[i];
        }
        if (st != STATUS_OK) return st;
    }
    return STATUS_OK;
}

static Status load_post_processor(HfLoader *L, const JsonValue *pp) {
    size_t n;
    const JsonValue *it = seq_items(pp, "processors", &n);
    for (size_t i = 0; i < n; i++) {
        const char *t = hf_type_of(&it[i]);
        Status st = STATUS_OK;
        if (!strcmp(t, "TemplateProcessing")) st = load_template(L, &it[i]);
        else if (strcmp(t, "ByteLevel")) return hf_bad(L, &it[i], "unsupported post_processor \"%s\"", t);
        if (st != STATUS_OK) return st;
    }
    Tokenizer *tk = L->tk;
    if (tk->n_prefix) tk->bos_id = tk->prefix_ids[0], tk->add_bos = 1;
    if (tk->n_suffix) tk->eos_id = tk->suffix_ids[tk->n_suffix - 1];
    return STATUS_OK;
}

static Status load_decoder_step(HfLoader *L, const JsonValue *d, int *fused) {
    HfImpl *hf = L->hf;
    const char *t = hf_type_of(d), *s = NULL, *c = NULL;
    double v;
    if (!strcmp(t, "Replace") && json_get_string(json_get(d, "pattern"), "String", &s) &&
        !strcmp(s, META) && json_get_string(d, "content", &c) && !strcmp(c, " ")) {
        hf->dec_replace = 1;
    } else if (!strcmp(t, "ByteFallback")) {
        hf->dec_byte_fallback = 1;
    } else if (!strcmp(t, "Fuse")) {
        *fused = 1;
    } else if (!strcmp(t, "Strip") && json_get_string(d, "content", &c) && !strcmp(c, " ")) {
        hf->dec_strip_start = json_get_number(d, "start", &v) ? (int)v : 0;
        hf->dec_strip_stop = json_get_number(d, "stop", &v) ? (int)v : 0;
        hf->dec_strip_fused = *fused;
    } else {
        return hf_bad(L, d, "unsupported decoder \"%s\" (or its pattern / content)", t);
    }
    return STATUS_OK;
}

static Status load_decoder(HfLoader *L, const JsonValue *dec, int bytelevel) {
    HfImpl *hf = L->hf;
    const char *t = hf_type_of(dec);
    int fused = 0;
    hf->dec_kind = bytelevel ? HF_DEC_BYTELEVEL : HF_DEC_PIECES;
    if (!dec || dec->type == JSON_NULL) {          /* the usual decoder of the kind */
        hf->dec_replace = hf->dec_byte_fallback = hf->dec_strip_start = hf->dec_strip_fused = !bytelevel;
        return STATUS_OK;
    }
    if ((strcmp(t, "ByteLevel") == 0) != bytelevel)
        return hf_bad(L, dec, "decoder \"%s\" does not fit a %s pre_tokenizer", t,
                      bytelevel ? "ByteLevel" : "non-ByteLevel");
    if (bytelevel) return STATUS_OK;
    if (!strcmp(t, "Metaspace")) {
        hf->dec_replace = hf->dec_strip_start = hf->dec_strip_fused = 1;
        return STATUS_OK;
    }
    size_t n;
    const JsonValue *it = seq_items(dec, "decoders", &n);
    for (size_t i = 0; i < n; i++) {
        Status st = load_decoder_step(L, &it[i], &fused);
        if (st != STATUS_OK) return st;
    }
    return STATUS_OK;
}

Status hf_load_pipeline(HfLoader *L, const JsonValue *root) {
    int bytelevel = 0;
    Status st;
    if ((st = load_normalizer(L, json_get(root, "normalizer"))) != STATUS_OK ||
        (st = load_pre_tokenizer(L, json_get(root, "pre_tokenizer"), &bytelevel)) != STATUS_OK)
        return st;
    L->tk->kind = bytelevel ? TOKENIZER_HF_BYTELEVEL : TOKENIZER_HF_SPM;
    if ((st = load_post_processor(L, json_get(root, "post_processor"))) != STATUS_OK) return st;
    return load_decoder(L, json_get(root, "decoder"), bytelevel);
}
