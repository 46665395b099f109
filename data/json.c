/* data/json.c — the strict RFC 8259 parser behind data/json.h.
   A recursive-descent parser over a byte buffer. Children of the array/object being parsed are
   pushed on a malloc'd scratch stack and copied into the document's arena when the container
   closes, so every value of a document lives in JsonDoc.arena (strings are packed into 64 KB
   arena chunks, not one 64-byte-aligned allocation each). Errors are
   "SOURCE:LINE:COL: expected X, found Y"; LINE and COL are 1-based, COL counts bytes.
   Grammar details: numbers are checked against the RFC grammar
   -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? before strtod (C locale assumed) and must
   fit a double; strings must be valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF);
   a leading UTF-8 byte-order mark is skipped (RFC 8259 §8.1 allows ignoring it).
   Duplicate keys: checked when an object closes (pairwise for small objects, with a hash set
   for large ones such as a tokenizer vocabulary). */
#include "data/json.h"
#include "data/json_internal.h"
#include "tensor/check.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256
#define JSON_STR_CHUNK ((size_t)1 << 16)

static Status fail_expected(JsonParser *p, size_t pos, const char *expected) {
    char buf[48];
    return json_fail(p, pos, "expected %s, found %s", expected, json_found(p, pos, buf, sizeof buf));
}

static void skip_ws(JsonParser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == '\n') {
            p->line++;
            p->line_start = p->pos + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        p->pos++;
    }
}

/* Room for `cap` bytes of string text in the current arena chunk. */
static char *str_reserve(JsonParser *p, size_t cap) {
    if (cap > p->savail) {
        size_t chunk = cap > JSON_STR_CHUNK ? cap : JSON_STR_CHUNK;
        p->sbuf = arena_alloc(p->arena, chunk);
        p->savail = chunk;
    }
    return p->sbuf;
}

static void str_commit(JsonParser *p, size_t used) {
    p->sbuf += used;
    p->savail -= used;
}

static void push_value(JsonParser *p, const JsonValue *v) {
    JsonScratch *sc = p->sc;
    if (sc->nvals == sc->cap_vals) {
        sc->cap_vals = sc->cap_vals ? 2 * sc->cap_vals : 64;
        sc->vals = xrealloc(sc->vals, sc->cap_vals * sizeof *sc->vals);
    }
    sc->vals[sc->nvals++] = *v;
}

static void push_key(JsonParser *p, const char *key, size_t klen, size_t pos) {
    JsonScratch *sc = p->sc;
    if (sc->nkeys == sc->cap_keys) {
        sc->cap_keys = sc->cap_keys ? 2 * sc->cap_keys : 64;
        sc->keys = xrealloc(sc->keys, sc->cap_keys * sizeof *sc->keys);
    }
    JsonKeyRec r = { key, klen, p->line, (int)(pos - p->line_start + 1) };
    sc->keys[sc->nkeys++] = r;
}

static Status parse_literal(JsonParser *p, JsonValue *v) {
    static const char *const words[3] = { "true", "false", "null" };
    for (int w = 0; w < 3; w++) {
        size_t n = strlen(words[w]);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[w], n) == 0) {
            v->type = w == 2 ? JSON_NULL : JSON_BOOL;
            v->boolean = w == 0;
            p->pos += n;
            return STATUS_OK;
        }
    }
    return fail_expected(p, p->pos, "a value");
}

static size_t skip_digits(const JsonParser *p, size_t i) {
    while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    return i;
}

static int is_digit_at(const JsonParser *p, size_t i) {
    return i < p->len && p->s[i] >= '0' && p->s[i] <= '9';
}

static Status parse_number(JsonParser *p, JsonValue *v) {
    size_t start = p->pos, i = p->pos;
    if (p->s[i] == '-') i++;
    if (!is_digit_at(p, i)) return fail_expected(p, i, "a digit after '-'");
    if (p->s[i] == '0') {
        i++;
        if (is_digit_at(p, i)) return fail_expected(p, i, "'.', 'e' or the end of the number after a leading 0");
    } else {
        i = skip_digits(p, i);
    }
    if (i < p->len && p->s[i] == '.') {
        if (!is_digit_at(p, i + 1)) return fail_expected(p, i + 1, "a digit after '.'");
        i = skip_digits(p, i + 1);
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (!is_digit_at(p, i)) return fail_expected(p, i, "a digit in the exponent");
        i = skip_digits(p, i);
    }
    size_t n = i - start;
    char small[64], *buf = n < sizeof small ? small : xmalloc(n + 1);
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    double x = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (isinf(x))
        return json_fail(p, start, "expected a number within the range of a double, found '%.*s'",
                         (int)(n > 40 ? 40 : n), p->s + start);
    v->type = JSON_NUMBER;
    v->number = x;
    p->pos = i;
    return STATUS_OK;
}

static int hex4(const JsonParser *p, size_t i, unsigned *out) {
    if (i > p->len || p->len - i < 4) return 0;
    unsigned u = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[i + (size_t)k];
        u <<= 4;
        if (c >= '0' && c <= '9') u |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') u |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') u |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = u;
    return 1;
}

/* \uXXXX at p->pos (pointing at the backslash), with a following low surrogate if needed. */
static Status parse_u_escape(JsonParser *p, char *out, size_t *n) {
    size_t at = p->pos;
    unsigned hi, lo;
    if (!hex4(p, at + 2, &hi)) return fail_expected(p, at, "4 hex digits after \\u");
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return json_fail(p, at, "expected a high surrogate \\uD800-\\uDBFF before a low surrogate, "
                         "found lone \\u%04X", hi);
    unsigned cp = hi;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        size_t at2 = at + 6;
        if (at2 + 1 >= p->len || p->s[at2] != '\\' || p->s[at2 + 1] != 'u' || !hex4(p, at2 + 2, &lo)
            || lo < 0xDC00 || lo > 0xDFFF)
            return json_fail(p, at, "expected a low surrogate \\uDC00-\\uDFFF after \\u%04X, found "
                             "a lone high surrogate", hi);
        cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        p->pos += 6;
    }
    p->pos += 6;
    *n = json_utf8_encode(cp, out);
    return STATUS_OK;
}

static Status parse_escape(JsonParser *p, char *out, size_t *n) {
    char c = p->pos + 1 < p->len ? p->s[p->pos + 1] : '\0';
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(from, c) : NULL;
    if (c == 'u') return parse_u_escape(p, out, n);
    if (!hit) return fail_expected(p, p->pos + 1, "an escape character (one of \" \\ / b f n r t u)");
    out[0] = to[hit - from];
    *n = 1;
    p->pos += 2;
    return STATUS_OK;
}

/* String at p->pos (the opening quote), decoded to UTF-8 in the arena, NUL-terminated. */
static Status parse_string(JsonParser *p, const char **out, size_t *out_len) {
    size_t start = p->pos, i = start + 1;
    while (i < p->len && p->s[i] != '"' && (unsigned char)p->s[i] >= 0x20) i += p->s[i] == '\\' ? 2 : 1;
    char *dst = str_reserve(p, (i > p->len ? p->len : i) - start + 8);
    size_t n = 0;
    p->pos = start + 1;
    for (;;) {
        if (p->pos >= p->len)
            return json_fail(p, p->pos, "expected '\"' to close the string started at %d:%d, found "
                             "end of input", p->line, (int)(start - p->line_start + 1));
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') break;
        if (c == '\\') {
            size_t k = 0;
            Status st = parse_escape(p, dst + n, &k);
            if (st) return st;
            n += k;
        } else if (c < 0x20) {
            return fail_expected(p, p->pos, "'\"' or a string character (control characters must be escaped)");
        } else if (c < 0x80) {
            dst[n++] = (char)c;
            p->pos++;
        } else {
            size_t k = json_utf8_valid_len(p->s + p->pos, p->len - p->pos);
            if (!k) return fail_expected(p, p->pos, "valid UTF-8 in a string");
            memcpy(dst + n, p->s + p->pos, k);
            n += k;
            p->pos += k;
        }
    }
    p->pos++;
    dst[n] = '\0';
    str_commit(p, n + 1);
    *out = dst;
    *out_len = n;
    return STATUS_OK;
}

static Status parse_value(JsonParser *p, JsonValue *v);

/* Moves the children pushed since `base` into arena arrays of the container v. */
static void close_container(JsonParser *p, JsonValue *v, size_t vbase, size_t kbase, int is_obj) {
    JsonScratch *sc = p->sc;
    v->count = sc->nvals - vbase;
    if (v->count) {
        v->items = arena_alloc(p->arena, v->count * sizeof *v->items);
        memcpy(v->items, sc->vals + vbase, v->count * sizeof *v->items);
    }
    if (is_obj) {
        v->keys = arena_alloc(p->arena, (v->count ? v->count : 1) * sizeof *v->keys);
        for (size_t k = 0; k < v->count; k++) v->keys[k] = sc->keys[kbase + k].key;
    }
    sc->nvals = vbase;
}

static Status parse_array(JsonParser *p, JsonValue *v) {
    size_t vbase = p->sc->nvals;
    v->type = JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; close_container(p, v, vbase, 0, 0); return STATUS_OK; }
    for (;;) {
        JsonValue item;
        Status st = parse_value(p, &item);
        if (st) return st;
        push_value(p, &item);
        skip_ws(p);
        char c = p->pos < p->len ? p->s[p->pos] : '\0';
        if (c == ']') break;
        if (c != ',') return fail_expected(p, p->pos, "',' or ']' after an array element");
        p->pos++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ']') return fail_expected(p, p->pos, "a value after ','");
    }
    p->pos++;
    close_container(p, v, vbase, 0, 0);
    return STATUS_OK;
}

static Status parse_member(JsonParser *p, int first) {
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail_expected(p, p->pos, first ? "a string key or '}'" : "a string key after ','");
    const char *key;
    size_t klen, kpos = p->pos;
    Status st = parse_string(p, &key, &klen);
    if (st) return st;
    push_key(p, key, klen, kpos);
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') return fail_expected(p, p->pos, "':' after an object key");
    p->pos++;
    skip_ws(p);
    JsonValue item;
    if ((st = parse_value(p, &item))) return st;
    push_value(p, &item);
    return STATUS_OK;
}

static Status parse_object(JsonParser *p, JsonValue *v) {
    size_t vbase = p->sc->nvals, kbase = p->sc->nkeys;
    v->type = JSON_OBJECT;
    p->pos++;
    skip_ws(p);
    int first = 1;
    if (!(p->pos < p->len && p->s[p->pos] == '}')) {
        for (;; first = 0) {
            Status st = parse_member(p, first);
            if (st) return st;
            skip_ws(p);
            char c = p->pos < p->len ? p->s[p->pos] : '\0';
            if (c == '}') break;
            if (c != ',') return fail_expected(p, p->pos, "',' or '}' after an object member");
            p->pos++;
            skip_ws(p);
        }
    }
    p->pos++;
    Status st = json_check_duplicates(p, kbase);
    if (st) return st;
    close_container(p, v, vbase, kbase, 1);
    p->sc->nkeys = kbase;
    return STATUS_OK;
}

static Status parse_value(JsonParser *p, JsonValue *v) {
    memset(v, 0, sizeof *v);
    v->line = p->line;
    v->col = (int)(p->pos - p->line_start + 1);
    char c = p->pos < p->len ? p->s[p->pos] : '\0';
    if (c == '{' || c == '[') {
        if (p->depth >= JSON_MAX_DEPTH)
            return json_fail(p, p->pos, "expected at most %d levels of nesting, found deeper nesting",
                             JSON_MAX_DEPTH);
        p->depth++;
        Status st = c == '{' ? parse_object(p, v) : parse_array(p, v);
        p->depth--;
        return st;
    }
    if (c == '"') {
        v->type = JSON_STRING;
        return parse_string(p, &v->string, &v->string_len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    if (c == 't' || c == 'f' || c == 'n') return parse_literal(p, v);
    return fail_expected(p, p->pos, "a value");
}

Status json_parse_in(JsonDoc *doc, JsonScratch *sc, const char *text, size_t len, int first_line,
                     Error *err) {
    JsonParser p;
    memset(&p, 0, sizeof p);
    p.s = text;
    p.len = len;
    p.line = first_line;
    p.arena = &doc->arena;
    p.sc = sc;
    p.source = doc->source;
    p.err = err;
    doc->root = NULL;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = p.line_start = 3;
    skip_ws(&p);
    JsonValue *root = arena_alloc(&doc->arena, sizeof *root);
    Status st = parse_value(&p, root);
    if (st) return st;
    skip_ws(&p);
    if (p.pos < p.len) return fail_expected(&p, p.pos, "end of input after the top-level value");
    doc->root = root;
    return STATUS_OK;
}

Status json_parse(JsonDoc *doc, const char *text, size_t len, const char *source, Error *err) {
    arena_init(&doc->arena, 1 << 16);
    snprintf(doc->source, sizeof doc->source, "%s", source ? source : "<json>");
    JsonScratch sc;
    memset(&sc, 0, sizeof sc);
    Status st = json_parse_in(doc, &sc, text, len, 1, err);
    json_scratch_free(&sc);
    if (st) json_doc_free(doc);
    return st;
}

void json_doc_free(JsonDoc *doc) {
    arena_free(&doc->arena);
    doc->root = NULL;
}
