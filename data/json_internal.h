/* data/json_internal.h — parser state shared by data/json.c (the grammar) and
   data/json_util.c (duplicate-key check, file and JSONL readers). Not part of the public API.
   defines: JsonKeyRec, JsonScratch, JsonParser, json_parse_in, json_fail, json_found,
            json_check_duplicates, json_scratch_free, json_utf8_encode, json_utf8_valid_len */
#ifndef JSON_INTERNAL_H
#define JSON_INTERNAL_H
#include "data/json.h"
#include <stdint.h>

typedef struct {
    const char *key;
    size_t len;
    int line, col;          /* where the key starts, for the duplicate-key message */
} JsonKeyRec;

/* malloc'd stacks of the children of the open containers; reusable across documents */
typedef struct {
    JsonValue *vals;
    JsonKeyRec *keys;
    size_t nvals, cap_vals, nkeys, cap_keys;
    uint32_t *hash;         /* open-addressing set of key indices (+1), for big objects */
    size_t hash_cap;
} JsonScratch;

typedef struct {
    const char *s;
    size_t len, pos;
    int line;
    size_t line_start;      /* offset of the first byte of the current line */
    int depth;
    Arena *arena;
    char *sbuf;             /* string chunk in the arena: next free byte, bytes left */
    size_t savail;
    JsonScratch *sc;
    const char *source;
    Error *err;
} JsonParser;

/* Parses into doc (arena already initialised, doc->source set); line numbers start at
   first_line. On failure doc->root is NULL and the arena keeps what was allocated. */
Status json_parse_in(JsonDoc *doc, JsonScratch *sc, const char *text, size_t len, int first_line,
                     Error *err);
Status json_fail(JsonParser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *json_found(const JsonParser *p, size_t pos, char *buf, size_t cap);
/* Rejects a repeated key among sc->keys[kbase..nkeys), naming the second occurrence. */
Status json_check_duplicates(JsonParser *p, size_t kbase);
void json_scratch_free(JsonScratch *sc);
/* UTF-8 of code point cp (<= U+10FFFF) into out[0..4); returns the byte count. */
size_t json_utf8_encode(unsigned cp, char *out);
/* Length of the valid UTF-8 sequence (RFC 3629) at text[0..avail), 0 if invalid. */
size_t json_utf8_valid_len(const char *text, size_t avail);

#endif
