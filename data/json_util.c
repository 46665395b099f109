/* data/json_util.c — the parts of data/json.h around the grammar: error messages, UTF-8
   encode/validate, duplicate-key detection, whole-file and JSONL readers, typed lookups, and
   the string escaper for writers.
   Duplicate keys: objects of up to 8 members are checked pairwise, bigger ones with an
   open-addressing hash set (FNV-1a) kept in the reusable scratch, so a 50k-entry tokenizer
   vocabulary is checked in linear time. */
#include "data/json.h"
#include "data/json_internal.h"
#include "data/file_read.h"
#include "tensor/check.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

Status json_fail(JsonParser *p, size_t pos, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(p->err, STATUS_FORMAT, NULL, "%s:%d:%d: %s", p->source, p->line,
                     (int)(pos - p->line_start + 1), msg);
}

/* A short description of what is at `pos`, for the "found Y" half of a message. */
const char *json_found(const JsonParser *p, size_t pos, char *buf, size_t cap) {
    if (pos >= p->len) return "end of input";
    unsigned char c = (unsigned char)p->s[pos];
    if (isalpha(c)) {                       /* show the whole word: 'NaN', 'True', 'tru' */
        size_t n = 0;
        while (pos + n < p->len && n < 16 && isalnum((unsigned char)p->s[pos + n])) n++;
        snprintf(buf, cap, "'%.*s'", (int)n, p->s + pos);
    } else if (c >= 0x21 && c < 0x7f) {
        snprintf(buf, cap, "'%c'", c);
    } else if (c < 0x20 || c == 0x7f) {
        snprintf(buf, cap, "control character 0x%02X", c);
    } else if (c == ' ') {
        snprintf(buf, cap, "' '");
    } else {
        snprintf(buf, cap, "byte 0x%02X", c);
    }
    return buf;
}

size_t json_utf8_encode(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at i (RFC 3629), 0 if invalid. */
size_t json_utf8_valid_len(const char *text, size_t avail) {
    const unsigned char *s = (const unsigned char *)text;
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return n;
}

static int key_eq(const JsonKeyRec *a, const JsonKeyRec *b) {
    return a->len == b->len && memcmp(a->key, b->key, a->len) == 0;
}

static Status duplicate_error(JsonParser *p, const JsonKeyRec *first, const JsonKeyRec *dup) {
    return error_set(p->err, STATUS_FORMAT, NULL,
                     "%s:%d:%d: expected a unique object key, found duplicate \"%.*s\" (first at %d:%d)",
                     p->source, dup->line, dup->col, (int)(dup->len > 80 ? 80 : dup->len), dup->key,
                     first->line, first->col);
}

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

Status json_check_duplicates(JsonParser *p, size_t kbase) {
    JsonScratch *sc = p->sc;
    const JsonKeyRec *k = sc->keys + kbase;
    size_t n = sc->nkeys - kbase;
    if (n <= 8) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (key_eq(&k[j], &k[i])) return duplicate_error(p, &k[j], &k[i]);
        return STATUS_OK;
    }
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap > sc->hash_cap) {
        sc->hash = xrealloc(sc->hash, cap * sizeof *sc->hash);
        sc->hash_cap = cap;
    }
    memset(sc->hash, 0, cap * sizeof *sc->hash);
    for (size_t i = 0; i < n; i++) {
        size_t h = fnv1a(k[i].key, k[i].len) & (cap - 1);
        while (sc->hash[h]) {
            const JsonKeyRec *other = &k[sc->hash[h] - 1];
            if (key_eq(other, &k[i])) return duplicate_error(p, other, &k[i]);
            h = (h + 1) & (cap - 1);
        }
        sc->hash[h] = (uint32_t)(i + 1);
    }
    return STATUS_OK;
}

void json_scratch_free(JsonScratch *sc) {
    free(sc->vals);
    free(sc->keys);
    free(sc->hash);
    memset(sc, 0, sizeof *sc);
}

Status json_parse_file(JsonDoc *doc, const char *path, Error *err) {
    arena_init(&doc->arena, 1 << 16);
    doc->root = NULL;
    snprintf(doc->source, sizeof doc->source, "%s", path);
    char *buf;
    size_t n;
    Status st = file_read_all(path, &buf, &n, err);
    if (st) return st;
    st = json_parse(doc, buf, n, path, err);
    free(buf);
    return st;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

Status jsonl_foreach(const char *path,
                     int (*fn)(void *ctx, const JsonValue *row, int line_no, Error *err),
                     void *ctx, Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, STATUS_IO, "check the path", "cannot open %s: %s", path, strerror(errno));
    JsonDoc doc;
    arena_init(&doc.arena, 1 << 16);
    snprintf(doc.source, sizeof doc.source, "%s", path);
    JsonScratch sc;
    memset(&sc, 0, sizeof sc);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int line_no = 0;
    Status st = STATUS_OK;
    while (st == STATUS_OK && (n = getline(&line, &cap, f)) >= 0) {
        line_no++;
        if (is_blank(line, (size_t)n)) continue;
        arena_reset(&doc.arena);
        st = json_parse_in(&doc, &sc, line, (size_t)n, line_no, err);
        if (st == STATUS_OK) {
            int rc = fn(ctx, doc.root, line_no, err);
            if (rc) st = (Status)rc;
        }
    }
    if (st == STATUS_OK && ferror(f)) st = error_set(err, STATUS_IO, NULL, "cannot read %s", path);
    free(line);
    fclose(f);
    json_scratch_free(&sc);
    json_doc_free(&doc);
    return st;
}

const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

int json_get_number(const JsonValue *obj, const char *key, double *out) {
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type != JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

int json_get_int(const JsonValue *obj, const char *key, long long *out) {
    const JsonValue *v = json_get(obj, key);
    /* integral and exactly representable: |x| <= 2^53 */
    if (!v || v->type != JSON_NUMBER || v->number != floor(v->number) || fabs(v->number) > 9007199254740992.0)
        return 0;
    *out = (long long)v->number;
    return 1;
}

int json_get_string(const JsonValue *obj, const char *key, const char **out) {
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type != JSON_STRING) return 0;
    *out = v->string;
    return 1;
}

int json_get_bool(const JsonValue *obj, const char *key, int *out) {
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type != JSON_BOOL) return 0;
    *out = v->boolean;
    return 1;
}

const JsonValue *json_array_at(const JsonValue *arr, size_t i) {
    if (!arr || arr->type != JSON_ARRAY || i >= arr->count) return NULL;
    return &arr->items[i];
}

const char *json_type_name(JsonType t) {
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "unknown";
}

void json_write_number(FILE *f, const char *fmt, double v) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("null", f);
}

void json_write_string(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}
