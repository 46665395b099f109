/* data/json.h — one small strict JSON reader for configs, tokenizers, safetensors headers and
   JSONL data, plus a tiny writer helper for escaping strings.
   defines: JsonType, JsonValue, JsonDoc, json_parse, json_parse_file, json_doc_free,
            json_get, json_get_number, json_get_int, json_get_string, json_get_bool,
            json_array_at, json_type_name, json_write_string, json_write_number,
            jsonl_foreach
   Strict RFC 8259: no comments, no trailing commas, no NaN/Infinity, no control characters in
   strings, \uXXXX escapes incl. surrogate pairs decoded to UTF-8, duplicate object keys
   rejected, nesting depth limited (256). Errors name the file, line and column and what was
   expected: "tokenizer.json:12:7: expected ',' or '}' after object member".
   All values of a document live in the JsonDoc's own arena; json_doc_free releases them. */
#ifndef JSON_H
#define JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tensor/arena.h"
#include "tensor/status.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    int boolean;
    double number;
    const char *string;            /* NUL-terminated UTF-8 (may contain \0 only via \u0000: use len) */
    size_t string_len;
    struct JsonValue *items;       /* array elements, or object member values (in file order) */
    const char **keys;             /* object member keys (in file order), NULL for arrays */
    size_t count;                  /* elements / members */
    int line, col;                 /* where the value starts (1-based), for error messages */
} JsonValue;

typedef struct {
    Arena arena;
    JsonValue *root;
    char source[256];              /* file name (or label) used in error messages */
} JsonDoc;

/* Parses text[0..len). `source` names it in errors ("config.json", "train.jsonl line 7"). */
Status json_parse(JsonDoc *doc, const char *text, size_t len, const char *source, Error *err);
/* Reads and parses a whole file. */
Status json_parse_file(JsonDoc *doc, const char *path, Error *err);
void   json_doc_free(JsonDoc *doc);

/* Object member lookup (linear scan; NULL if absent or if obj is not an object). */
const JsonValue *json_get(const JsonValue *obj, const char *key);
/* Typed lookups: return 1 and set *out when the key exists with the right type, else 0. */
int json_get_number(const JsonValue *obj, const char *key, double *out);
int json_get_int(const JsonValue *obj, const char *key, long long *out);   /* integral number */
int json_get_string(const JsonValue *obj, const char *key, const char **out);
int json_get_bool(const JsonValue *obj, const char *key, int *out);
const JsonValue *json_array_at(const JsonValue *arr, size_t i);            /* NULL if out of range */
const char *json_type_name(JsonType t);                                     /* "object", ... */

/* Writes s[0..len) as a JSON string literal with quotes and escapes. */
void json_write_string(FILE *f, const char *s, size_t len);
/* Writes v with the printf format fmt (one double conversion), or null when v is NaN or
   infinite: JSON has no literal for them, and a record must stay parseable whatever happens. */
void json_write_number(FILE *f, const char *fmt, double v);

/* JSONL: parses every non-blank line of `path` as one document and calls fn(ctx, root,
   line_no, err) for it (line_no 1-based). One arena serves all lines and is reset between
   them, so `row` is valid only during the call. Parse errors read "path:LINE:COL: ...".
   fn returns 0 to go on, or a non-zero Status (after filling err) to stop; jsonl_foreach then
   returns that Status. A missing/unreadable file is STATUS_IO. */
Status jsonl_foreach(const char *path,
                     int (*fn)(void *ctx, const JsonValue *row, int line_no, Error *err),
                     void *ctx, Error *err);

#endif
