/* tests/fuzz/mutate.c — the mutations (see fuzz.h): truncation, bit flips, byte insert / delete,
   interesting integers over binary fields (lengths, offsets, header sizes), numbers in text
   replaced by huge / negative / fractional / NaN / Infinity literals, dtype names swapped,
   members duplicated or deleted, extra fields, deep nesting, invalid UTF-8, splices. */
#include "tests/fuzz/fuzz.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (1u << 20)

uint64_t fuzz_rng(uint64_t *s) {   /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t pick(uint64_t *r, size_t n) { return n ? (size_t)(fuzz_rng(r) % n) : 0; }

static void reserve(Buf *b, size_t n) {
    if (n <= b->cap) return;
    b->cap = n + n / 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
}

static void insert(Buf *b, size_t at, const void *s, size_t n) {
    if (b->n + n > MAX_INPUT) return;
    reserve(b, b->n + n);
    memmove(b->p + at + n, b->p + at, b->n - at);
    memcpy(b->p + at, s, n);
    b->n += n;
}

static void erase(Buf *b, size_t at, size_t n) {
    if (at + n > b->n) n = b->n - at;
    memmove(b->p + at, b->p + at + n, b->n - at - n);
    b->n -= n;
}

static const char *const NUMBERS[] = {
    "0", "-1", "1", "2", "-2147483648", "2147483647", "2147483648", "4294967295", "4294967296",
    "9223372036854775807", "-9223372036854775808", "18446744073709551615", "18446744073709551616",
    "100000000", "1e308", "1e999", "-1e999", "1e-400", "0.5", "-0.0", "3.0", "1.5e3", "NaN", "-NaN",
    "Infinity", "-Infinity", "nan", "inf", "99999999999999999999999999999999", "007", "1e", "-", "0x10" };
static const int64_t INTS[] = { 0, 1, -1, 7, 8, 255, 256, 65535, 65536, 0x7fffffff, -0x7fffffff - 1, 0xffffffffLL,
                                 0x100000000LL, 0x7fffffffffffffffLL, (int64_t)0x8000000000000000ULL, 100000000, 1 << 20 };
static const char *const DTYPES[] = { "F32", "BF16", "F16", "F64", "I64", "I32", "U8", "BOOL", "F8_E4M3", "XX", "" };
static const char EXTRA[] = "\"extra_field\": [1, {\"x\": null}], ";
static const char *const BAD_UTF8[] = { "\xc0\x80", "\xff", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xc3" };

/* start of a run of digits (or -) at or after a random position; n = its length */
static int find_number(const Buf *b, uint64_t *r, size_t *at, size_t *n) {
    size_t start = pick(r, b->n);
    for (size_t k = 0; k < b->n; k++) {
        size_t i = (start + k) % b->n;
        if ((b->p[i] >= '0' && b->p[i] <= '9') && (i == 0 || !(b->p[i - 1] >= '0' && b->p[i - 1] <= '9'))) {
            size_t j = i;
            while (j < b->n && ((b->p[j] >= '0' && b->p[j] <= '9') || b->p[j] == '.' || b->p[j] == 'e')) j++;
            if (i > 0 && b->p[i - 1] == '-') i--;
            *at = i, *n = j - i;
            return 1;
        }
    }
    return 0;
}

static size_t find_byte(const Buf *b, uint64_t *r, unsigned char c) {
    size_t start = pick(r, b->n);
    for (size_t k = 0; k < b->n; k++)
        if (b->p[(start + k) % b->n] == c) return (start + k) % b->n;
    return b->n;
}

/* "key": value  (up to the next , or } at depth 0), starting at a quote */
static size_t member_len(const Buf *b, size_t at) {
    int depth = 0, in_str = 0;
    for (size_t i = at; i < b->n; i++) {
        unsigned char c = b->p[i];
        if (in_str) { if (c == '\\') i++; else if (c == '"') in_str = 0; continue; }
        if (c == '"') in_str = 1;
        else if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && depth-- == 0) return i - at;
        else if (c == ',' && depth == 0) return i - at;
    }
    return b->n - at;
}

static void mutate_text(Buf *b, uint64_t *r, int kind) {
    size_t at, n;
    switch (kind) {
    case 0:   /* a number replaced */
        if (find_number(b, r, &at, &n)) {
            erase(b, at, n);
            const char *s = NUMBERS[pick(r, sizeof NUMBERS / sizeof *NUMBERS)];
            insert(b, at, s, strlen(s));
        }
        break;
    case 1: {   /* a dtype name swapped */
        const char *from = DTYPES[pick(r, 4)];
        unsigned char *hit = b->n ? memmem(b->p, b->n, from, strlen(from)) : NULL;
        if (hit) {
            at = (size_t)(hit - b->p);
            erase(b, at, strlen(from));
            const char *to = DTYPES[pick(r, sizeof DTYPES / sizeof *DTYPES)];
            insert(b, at, to, strlen(to));
        }
        break;
    }
    case 2:   /* a member duplicated (duplicate keys) */
    case 3:   /* a member deleted (missing fields) */
        at = find_byte(b, r, '"');
        if (at < b->n) {
            n = member_len(b, at);
            if (kind == 2) {
                unsigned char *copy = malloc(n + 1);
                memcpy(copy, b->p + at, n);
                copy[n] = ',';
                insert(b, at, copy, n + 1);
                free(copy);
            } else {
                erase(b, at, n + (at + n < b->n && b->p[at + n] == ','));
            }
        }
        break;
    case 4:   /* an extra field */
        at = find_byte(b, r, '{');
        if (at < b->n) insert(b, at + 1, EXTRA, strlen(EXTRA));
        break;
    case 5: {   /* deep nesting */
        size_t depth = 1 + pick(r, 3000);
        char *s = malloc(depth);
        memset(s, pick(r, 2) ? '[' : '{', depth);
        insert(b, pick(r, b->n + 1), s, depth);
        free(s);
        break;
    }
    default: {   /* invalid UTF-8 inside a string */
        at = find_byte(b, r, '"');
        const char *s = BAD_UTF8[pick(r, sizeof BAD_UTF8 / sizeof *BAD_UTF8)];
        insert(b, at < b->n ? at + 1 : pick(r, b->n + 1), s, strlen(s));
    }
    }
}

static void mutate_bytes(Buf *b, const Buf *other, uint64_t *r, int kind) {
    size_t at = pick(r, b->n + 1);
    switch (kind) {
    case 0: b->n = pick(r, b->n + 1); break;                                      /* truncation */
    case 1: if (b->n) b->p[pick(r, b->n)] ^= (unsigned char)(1u << pick(r, 8)); break;   /* bit flip */
    case 2: { unsigned char c = (unsigned char)fuzz_rng(r); insert(b, at, &c, 1); break; }
    case 3: erase(b, at < b->n ? at : 0, 1 + pick(r, 16)); break;                 /* byte(s) deleted */
    case 4: {   /* an interesting integer over 4 or 8 bytes (lengths, offsets, header fields) */
        int64_t v = INTS[pick(r, sizeof INTS / sizeof *INTS)];
        size_t w = pick(r, 2) ? 8 : 4, pos = pick(r, 4) == 0 ? 0 : (pick(r, b->n + 1) & ~(size_t)3);
        if (pos + w <= b->n) memcpy(b->p + pos, &v, w);
        break;
    }
    case 5:   /* splice: our head + the other seed's tail */
        if (other && other->n) {
            size_t from = pick(r, other->n);
            b->n = at;
            insert(b, b->n, other->p + from, other->n - from);
        }
        break;
    default: {   /* a chunk of ourselves repeated (overlapping ranges, long tokens) */
        size_t len = 1 + pick(r, 64);
        if (at + len <= b->n) {
            unsigned char *copy = malloc(len);
            memcpy(copy, b->p + at, len);
            insert(b, pick(r, b->n + 1), copy, len);
            free(copy);
        }
    }
    }
}

void mutate(Buf *b, const Buf *other, uint64_t *r) {
    int n = pick(r, 4) ? 1 : 2 + (int)pick(r, 3);   /* mostly one: more inputs get past the first check */
    for (int i = 0; i < n; i++) {
        if (pick(r, 2)) mutate_text(b, r, (int)pick(r, 7));
        else mutate_bytes(b, other, r, (int)pick(r, 7));
    }
}

void buf_set(Buf *b, const void *p, size_t n) {
    reserve(b, n);
    memcpy(b->p, p, n);
    b->n = n;
}

void buf_free(Buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int buf_read(Buf *b, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    b->n = 0;
    unsigned char tmp[65536];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) {
        reserve(b, b->n + got);
        memcpy(b->p + b->n, tmp, got);
        b->n += got;
    }
    fclose(f);
    return 1;
}

void buf_write(const Buf *b, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n) { fprintf(stderr, "fuzz: cannot write %s\n", path); abort(); }
    fclose(f);
}
