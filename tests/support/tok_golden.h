/* tests/support/tok_golden.h — reading the golden files of tests/golden/tokenizers (written by
   regen.mjs with the reference implementation, @huggingface/tokenizers): strings.txt holds one
   JSON string per line, NAME.ids one line per string: "IDS|PRE;POST|DECODE" (see regen.mjs).
   defines: TokGolden, tok_golden_load, tok_golden_free, TOK_GOLDEN_DIR, TOK_REAL_DIR */
#ifndef TOK_GOLDEN_H
#define TOK_GOLDEN_H
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/json.h"
#include "tensor/check.h"

#define TOK_GOLDEN_DIR "tests/golden/tokenizers"
#define TOK_REAL_DIR "../shared/data/tokenizers"

typedef struct {
    int n;                 /* strings */
    char **text;           /* the strings (malloc'ed, NUL-terminated) */
    size_t *text_len;
    int **ids, *n_ids;     /* IDS */
    int **pre, *n_pre;     /* PRE: ids add_special_tokens puts before IDS */
    int **post, *n_post;   /* POST */
    char **decode;         /* DECODE (NULL = the string itself) */
} TokGolden;

/* Reads a whole text file into lines (the buffer is modified in place); returns the count. */
static inline int tok_golden_lines(const char *path, char **buf, char ***lines) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "missing %s (regenerate with tests/golden/tokenizers/regen.mjs)", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = xmalloc((size_t)size + 1);
    ck_assert_int_eq((long)fread(*buf, 1, (size_t)size, f), size);
    fclose(f);
    (*buf)[size] = '\0';
    int n = 0, cap = 1024;
    *lines = xmalloc((size_t)cap * sizeof **lines);
    for (char *p = *buf; *p;) {
        char *nl = strchr(p, '\n');
        if (n == cap) *lines = xrealloc(*lines, (size_t)(cap *= 2) * sizeof **lines);
        (*lines)[n++] = p;
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

/* A JSON string literal -> malloc'ed bytes. */
static inline char *tok_golden_string(const char *json, size_t *len) {
    JsonDoc doc;
    Error err = {0};
    ck_assert_msg(json_parse(&doc, json, strlen(json), "golden", &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(doc.root->type, JSON_STRING);
    char *s = xmalloc(doc.root->string_len + 1);
    memcpy(s, doc.root->string, doc.root->string_len + 1);
    *len = doc.root->string_len;
    json_doc_free(&doc);
    return s;
}

/* Space-separated ids up to `stop` (or the end) -> malloc'ed array; *end = the stop char. */
static inline int *tok_golden_ids(char *s, char stop, int *n, char **end) {
    int cap = 16, *ids = xmalloc((size_t)cap * sizeof *ids);
    *n = 0;
    while (*s && *s != stop) {
        if (*s == ' ') { s++; continue; }
        if (*n == cap) ids = xrealloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[(*n)++] = (int)strtol(s, &s, 10);
    }
    *end = s;
    return ids;
}

static inline void tok_golden_load(TokGolden *g, const char *name) {
    char path[256], *sbuf, *ibuf, **slines, **ilines;
    int ns = tok_golden_lines(TOK_GOLDEN_DIR "/strings.txt", &sbuf, &slines);
    snprintf(path, sizeof path, TOK_GOLDEN_DIR "/%s.ids", name);
    int ni = tok_golden_lines(path, &ibuf, &ilines);
    ck_assert_msg(ns == ni, "%s: %d lines for %d strings", path, ni, ns);
    g->n = ns;
    g->text = xmalloc((size_t)ns * sizeof *g->text);
    g->text_len = xmalloc((size_t)ns * sizeof *g->text_len);
    g->ids = xmalloc((size_t)ns * sizeof *g->ids), g->n_ids = xmalloc((size_t)ns * sizeof(int));
    g->pre = xmalloc((size_t)ns * sizeof *g->pre), g->n_pre = xmalloc((size_t)ns * sizeof(int));
    g->post = xmalloc((size_t)ns * sizeof *g->post), g->n_post = xmalloc((size_t)ns * sizeof(int));
    g->decode = xmalloc((size_t)ns * sizeof *g->decode);
    for (int i = 0; i < ns; i++) {
        char *p = ilines[i];
        size_t dl;
        g->text[i] = tok_golden_string(slines[i], &g->text_len[i]);
        g->ids[i] = tok_golden_ids(p, '|', &g->n_ids[i], &p);
        ck_assert_msg(*p == '|', "%s:%d: expected IDS|PRE;POST|DECODE", path, i + 1);
        g->pre[i] = tok_golden_ids(p + 1, ';', &g->n_pre[i], &p);
        g->post[i] = tok_golden_ids(p + 1, '|', &g->n_post[i], &p);
        ck_assert_msg(*p == '|', "%s:%d: expected IDS|PRE;POST|DECODE", path, i + 1);
        g->decode[i] = strcmp(p + 1, "=") ? tok_golden_string(p + 1, &dl) : NULL;
    }
    free(sbuf), free(slines), free(ibuf), free(ilines);
}

static inline void tok_golden_free(TokGolden *g) {
    for (int i = 0; i < g->n; i++) {
        free(g->text[i]), free(g->ids[i]), free(g->pre[i]), free(g->post[i]), free(g->decode[i]);
    }
    free(g->text), free(g->text_len), free(g->ids), free(g->n_ids), free(g->pre), free(g->n_pre);
    free(g->post), free(g->n_post), free(g->decode);
    memset(g, 0, sizeof *g);
}

#endif
