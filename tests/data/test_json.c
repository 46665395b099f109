/* tests/data/test_json.c — data/json.h: every value type with nesting, \u escapes decoded to UTF-8
   bytes written out by hand, number edge cases, a table of malformed inputs with their
   hand-counted line:col, duplicate keys (small and hashed objects), files and JSONL. */
#include "tests/support/suites.h"
#include "data/json.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void parse_ok(JsonDoc *doc, const char *text) {
    Error err = { 0 };
    Status st = json_parse(doc, text, strlen(text), "t.json", &err);
    ck_assert_msg(st == STATUS_OK, "parse failed: %s", err.message);
    ck_assert_ptr_nonnull(doc->root);
}

START_TEST(test_json_all_types_nested)
{
    const char *text = "{\"a\": [1, -2.5, true, false, null, \"x\"],\n"
                       " \"b\": {\"c\": {\"d\": [[], {}]}},\n"
                       " \"empty\": \"\"}";
    JsonDoc doc;
    parse_ok(&doc, text);
    const JsonValue *r = doc.root;
    ck_assert_int_eq(r->type, JSON_OBJECT);
    ck_assert_uint_eq(r->count, 3);
    ck_assert_str_eq(r->keys[0], "a");
    ck_assert_str_eq(r->keys[1], "b");
    ck_assert_str_eq(r->keys[2], "empty");
    const JsonValue *a = json_get(r, "a");
    ck_assert_int_eq(a->type, JSON_ARRAY);
    ck_assert_uint_eq(a->count, 6);
    ck_assert(json_array_at(a, 0)->number == 1.0);
    ck_assert(json_array_at(a, 1)->number == -2.5);
    ck_assert_int_eq(json_array_at(a, 2)->type, JSON_BOOL);
    ck_assert_int_eq(json_array_at(a, 2)->boolean, 1);
    ck_assert_int_eq(json_array_at(a, 3)->boolean, 0);
    ck_assert_int_eq(json_array_at(a, 4)->type, JSON_NULL);
    ck_assert_str_eq(json_array_at(a, 5)->string, "x");
    ck_assert_ptr_null(json_array_at(a, 6));
    ck_assert_ptr_null(a->keys);
    const JsonValue *d = json_get(json_get(json_get(r, "b"), "c"), "d");
    ck_assert_int_eq(d->type, JSON_ARRAY);
    ck_assert_uint_eq(d->count, 2);
    ck_assert_int_eq(d->items[0].type, JSON_ARRAY);
    ck_assert_uint_eq(d->items[0].count, 0);
    ck_assert_int_eq(d->items[1].type, JSON_OBJECT);
    ck_assert_uint_eq(d->items[1].count, 0);
    /* "b"'s value starts on line 2, column 7 (counted by hand) */
    ck_assert_int_eq(json_get(r, "b")->line, 2);
    ck_assert_int_eq(json_get(r, "b")->col, 7);
    const char *s;
    ck_assert(json_get_string(r, "empty", &s) && s[0] == '\0');
    ck_assert(!json_get_string(r, "a", &s));
    ck_assert_ptr_null(json_get(r, "zz"));
    ck_assert_ptr_null(json_get(a, "a"));
    ck_assert_str_eq(json_type_name(JSON_OBJECT), "object");
    json_doc_free(&doc);
}
END_TEST

START_TEST(test_json_unicode_escapes)
{
    JsonDoc doc;
    parse_ok(&doc, "[\"\\u00e9\", \"\\ud83d\\ude00\", \"a\\u0000b\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\", "
                   "\"\xC3\xA9\xE2\x82\xAC\", \"\\u20AC\"]");
    const JsonValue *r = doc.root;
    const unsigned char e_acute[] = { 0xC3, 0xA9 }, grin[] = { 0xF0, 0x9F, 0x98, 0x80 };
    const unsigned char euro[] = { 0xE2, 0x82, 0xAC };
    ck_assert_uint_eq(r->items[0].string_len, 2);
    ck_assert(memcmp(r->items[0].string, e_acute, 2) == 0);
    ck_assert_uint_eq(r->items[1].string_len, 4);
    ck_assert(memcmp(r->items[1].string, grin, 4) == 0);
    ck_assert_uint_eq(r->items[2].string_len, 3);
    ck_assert(memcmp(r->items[2].string, "a\0b", 3) == 0);
    ck_assert_uint_eq(r->items[3].string_len, 8);
    ck_assert(memcmp(r->items[3].string, "\"\\/\b\f\n\r\t", 8) == 0);
    ck_assert_uint_eq(r->items[4].string_len, 5);            /* raw UTF-8 passes through */
    ck_assert(memcmp(r->items[5].string, euro, 3) == 0 && r->items[5].string_len == 3);
    ck_assert_int_eq(r->items[5].string[3], '\0');
    json_doc_free(&doc);
}
END_TEST

START_TEST(test_json_numbers)
{
    JsonDoc doc;
    parse_ok(&doc, "{\"nz\": -0, \"m\": 1e-3, \"big\": 12345678901, \"f\": 1.5, \"E\": 2.5E+2, "
                   "\"neg\": -7, \"tiny\": 1e-400, \"z\": 0}");
    const JsonValue *r = doc.root;
    double x;
    ck_assert(json_get_number(r, "nz", &x) && x == 0.0 && signbit(x));
    ck_assert(json_get_number(r, "m", &x) && x == 0.001);
    long long i;
    ck_assert(json_get_int(r, "big", &i) && i == 12345678901LL);
    ck_assert(json_get_int(r, "neg", &i) && i == -7);
    ck_assert(json_get_int(r, "z", &i) && i == 0);
    ck_assert(!json_get_int(r, "f", &i));                   /* not integral */
    ck_assert(json_get_number(r, "E", &x) && x == 250.0);
    ck_assert(json_get_number(r, "tiny", &x) && x == 0.0);  /* underflow is fine */
    ck_assert(!json_get_number(r, "missing", &x));
    json_doc_free(&doc);
    parse_ok(&doc, "  42 ");
    ck_assert(doc.root->type == JSON_NUMBER && doc.root->number == 42.0);
    json_doc_free(&doc);
}
END_TEST

typedef struct {
    const char *text;
    int line, col;
    const char *needle;   /* substring the message must contain */
} BadCase;

static const BadCase bad_cases[] = {
    { "[1,2,]", 1, 6, "expected a value after ','" },
    { "{\"a\":1,}", 1, 8, "expected a string key after ','" },
    { "{\"a\" 1}", 1, 6, "expected ':'" },
    { "[\"abc", 1, 6, "string started at 1:2, found end of input" },
    { "\"a\\x\"", 1, 4, "found 'x'" },
    { "{\"n\": 01}", 1, 8, "leading 0, found '1'" },
    { "\"\\ud800\"", 1, 2, "low surrogate" },
    { "\"\\ude00\"", 1, 2, "lone \\uDE00" },
    { "\"\\ud83d\\u0041\"", 1, 2, "low surrogate" },
    { "{\"a\":1,\n \"a\":2}", 2, 2, "duplicate \"a\" (first at 1:2)" },
    { "{} x", 1, 4, "expected end of input" },
    { "[NaN]", 1, 2, "found 'NaN'" },
    { "[-Infinity]", 1, 3, "expected a digit after '-'" },
    { "{\n  \"a\": tru\n}", 2, 8, "found 'tru'" },
    { "\"a\tb\"", 1, 3, "control character 0x09" },
    { "\"\xC3\x28\"", 1, 2, "valid UTF-8" },
    { "\"\xC0\xAF\"", 1, 2, "valid UTF-8" },           /* overlong '/' */
    { "\"\xED\xA0\x80\"", 1, 2, "valid UTF-8" },       /* encoded surrogate */
    { "", 1, 1, "found end of input" },
    { "[1e400]", 1, 2, "range of a double" },
    { "1.", 1, 3, "digit after '.'" },
    { "1e", 1, 3, "exponent" },
    { "['a']", 1, 2, "found '''" },
    { "[1] // c", 1, 5, "expected end of input" },
    { "[1 2]", 1, 4, "expected ',' or ']'" },
    { "{\"a\":1 \"b\":2}", 1, 8, "expected ',' or '}'" },
    { "{1:2}", 1, 2, "expected a string key or '}'" },
    { "[+1]", 1, 2, "expected a value" },
    { "[True]", 1, 2, "found 'True'" },
};

START_TEST(test_json_malformed_table)
{
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        const BadCase *c = &bad_cases[k];
        JsonDoc doc;
        Error err = { 0 };
        Status st = json_parse(&doc, c->text, strlen(c->text), "t.json", &err);
        ck_assert_msg(st == STATUS_FORMAT, "case %zu (%s) was accepted", k, c->text);
        ck_assert_ptr_null(doc.root);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "t.json:%d:%d: expected", c->line, c->col);
        ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
                      "case %zu: want prefix '%s', got '%s'", k, prefix, err.message);
        ck_assert_msg(strstr(err.message, c->needle) != NULL, "case %zu: want '%s' in '%s'", k,
                      c->needle, err.message);
        json_doc_free(&doc);   /* safe after a failed parse */
    }
}
END_TEST

START_TEST(test_json_depth_limit)
{
    char buf[2 * 257 + 1];
    for (int depth = 256; depth <= 257; depth++) {
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        JsonDoc doc;
        Error err = { 0 };
        Status st = json_parse(&doc, buf, (size_t)(2 * depth), "deep.json", &err);
        if (depth == 256) {
            ck_assert_msg(st == STATUS_OK, "%s", err.message);
        } else {
            ck_assert_int_eq(st, STATUS_FORMAT);
            ck_assert_msg(strncmp(err.message, "deep.json:1:257: expected at most 256", 37) == 0,
                          "%s", err.message);
        }
        json_doc_free(&doc);
    }
}
END_TEST

/* >8 members takes the hash-set path; a duplicate deep inside is still found and located */
START_TEST(test_json_duplicate_in_big_object)
{
    char text[4096];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "{");
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(text + n, sizeof text - n, "\"k%d\":%d,\n", i, i);
    n += (size_t)snprintf(text + n, sizeof text - n, "\"k17\":0}");
    JsonDoc doc;
    Error err = { 0 };
    ck_assert_int_eq(json_parse(&doc, text, n, "big.json", &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "big.json:301:1: expected a unique object key, found duplicate \"k17\" (first at 18:1)"),
                  "%s", err.message);
    n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "{");
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(text + n, sizeof text - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    n += (size_t)snprintf(text + n, sizeof text - n, "}");
    parse_ok(&doc, text);
    ck_assert_uint_eq(doc.root->count, 300);
    long long v;
    ck_assert(json_get_int(doc.root, "k299", &v) && v == 299);
    json_doc_free(&doc);
}
END_TEST

static void write_temp(char *path, const char *content) {
    strcpy(path, "/tmp/moetrain_json_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t n = strlen(content);
    ck_assert_int_eq(write(fd, content, n), (ssize_t)n);
    close(fd);
}

START_TEST(test_json_files)
{
    JsonDoc doc;
    Error err = { 0 };
    ck_assert_int_eq(json_parse_file(&doc, "/nonexistent/dir/config.json", &err), STATUS_IO);
    ck_assert(strstr(err.message, "/nonexistent/dir/config.json") != NULL);
    json_doc_free(&doc);
    char path[64];
    write_temp(path, "\xEF\xBB\xBF{\"hidden_size\": 576,\n \"bad\": }");
    ck_assert_int_eq(json_parse_file(&doc, path, &err), STATUS_FORMAT);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:2:9: expected a value, found '}'", path);
    ck_assert_msg(strcmp(err.message, prefix) == 0, "%s", err.message);
    unlink(path);
    write_temp(path, "{\"hidden_size\": 576, \"tie\": true}\n");
    ck_assert_int_eq(json_parse_file(&doc, path, &err), STATUS_OK);
    long long h;
    int b;
    ck_assert(json_get_int(doc.root, "hidden_size", &h) && h == 576);
    ck_assert(json_get_bool(doc.root, "tie", &b) && b == 1);
    ck_assert_str_eq(doc.source, path);
    json_doc_free(&doc);
    unlink(path);
}
END_TEST

typedef struct { int n; int lines[8]; long long xs[8]; } RowLog;

static int log_row(void *ctx, const JsonValue *row, int line_no, Error *err) {
    RowLog *log = ctx;
    long long x = -1;
    json_get_int(row, "x", &x);
    if (x == 99) return error_set(err, STATUS_INVALID, NULL, "row %d: x too big", line_no);
    log->lines[log->n] = line_no;
    log->xs[log->n++] = x;
    return 0;
}

START_TEST(test_jsonl_foreach)
{
    char path[64];
    write_temp(path, "{\"x\": 1}\n\n  {\"x\": 2}\r\n{\"x\": 3}");
    RowLog log = { 0 };
    Error err = { 0 };
    ck_assert_int_eq(jsonl_foreach(path, log_row, &log, &err), STATUS_OK);
    ck_assert_int_eq(log.n, 3);
    ck_assert(log.lines[0] == 1 && log.lines[1] == 3 && log.lines[2] == 4);
    ck_assert(log.xs[0] == 1 && log.xs[1] == 2 && log.xs[2] == 3);
    unlink(path);

    write_temp(path, "{\"x\": 1}\n{\"x\": 2}\n{\"x\": }\n{\"x\": 4}\n");
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(jsonl_foreach(path, log_row, &log, &err), STATUS_FORMAT);
    ck_assert_int_eq(log.n, 2);                      /* stopped at the bad line */
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:3:7: expected a value", path);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0, "%s", err.message);
    unlink(path);

    write_temp(path, "{\"x\": 5}\n{\"x\": 99}\n{\"x\": 6}\n");
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(jsonl_foreach(path, log_row, &log, &err), STATUS_INVALID);
    ck_assert_int_eq(log.n, 1);
    ck_assert_str_eq(err.message, "row 2: x too big");
    unlink(path);
    ck_assert_int_eq(jsonl_foreach("/nonexistent.jsonl", log_row, &log, &err), STATUS_IO);
    ck_assert(strstr(err.message, "/nonexistent.jsonl") != NULL);
}
END_TEST

START_TEST(test_json_write_string_roundtrip)
{
    const char raw[] = "q\"b\\s/\n\t\x01\x1f\x7f\xC3\xA9 end";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_write_string(f, raw, sizeof raw - 1);
    fclose(f);
    ck_assert_str_eq(buf, "\"q\\\"b\\\\s/\\n\\t\\u0001\\u001f\\u007f\xC3\xA9 end\"");
    JsonDoc doc;
    parse_ok(&doc, buf);
    ck_assert_uint_eq(doc.root->string_len, sizeof raw - 1);
    ck_assert(memcmp(doc.root->string, raw, sizeof raw - 1) == 0);
    json_doc_free(&doc);
    free(buf);
}
END_TEST

Suite *json_suite(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_json_all_types_nested);
    tcase_add_test(tc, test_json_unicode_escapes);
    tcase_add_test(tc, test_json_numbers);
    tcase_add_test(tc, test_json_malformed_table);
    tcase_add_test(tc, test_json_depth_limit);
    tcase_add_test(tc, test_json_duplicate_in_big_object);
    tcase_add_test(tc, test_json_files);
    tcase_add_test(tc, test_jsonl_foreach);
    tcase_add_test(tc, test_json_write_string_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
