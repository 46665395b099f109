/* data/tsv.c — tab-separated rows with optional CSV quoting (see tsv.h). */
#include "data/tsv.h"
#include "data/file_read.h"
#include "tensor/check.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Status tsv_open(TsvReader *r, const char *path, int csv_quotes, Error *err) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    Status st = file_read_all(path, &r->buf, &r->len, err);
    if (st) return st;
    if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) r->pos = 3;
    r->line = 1;
    r->csv_quotes = csv_quotes;
    return STATUS_OK;
}

void tsv_close(TsvReader *r) {
    free(r->buf);
    free(r->fields);
    free(r->row);
    memset(r, 0, sizeof *r);
}

static void push_field(TsvReader *r, size_t start) {
    if (r->n_fields == r->cap_fields) {
        r->cap_fields = r->cap_fields ? 2 * r->cap_fields : 8;
        r->fields = xrealloc(r->fields, (size_t)r->cap_fields * sizeof *r->fields);
    }
    r->fields[r->n_fields++] = (char *)(uintptr_t)start;   /* offset, fixed up at row end */
}

/* Reads one quoted field body starting after the opening quote; appends to row at *o. */
static Status read_quoted(TsvReader *r, size_t *o, Error *err) {
    int start_line = r->line;
    for (;;) {
        if (r->pos >= r->len)
            return error_set(err, STATUS_FORMAT, NULL, "%s:%d: expected a closing '\"' for the quoted field",
                             r->path, start_line);
        char c = r->buf[r->pos++];
        if (c == '"') {
            if (r->pos < r->len && r->buf[r->pos] == '"') r->pos++;
            else break;
        } else if (c == '\n') {
            r->line++;
        }
        r->row[(*o)++] = c;
    }
    char c = r->pos < r->len ? r->buf[r->pos] : '\n';
    if (c == '\r' && r->pos + 1 < r->len && r->buf[r->pos + 1] == '\n') c = '\n';
    if (c != '\t' && c != '\n')
        return error_set(err, STATUS_FORMAT, NULL, "%s:%d: expected a tab or end of line after a closing '\"'",
                         r->path, r->line);
    return STATUS_OK;
}

Status tsv_next(TsvReader *r, int *got, Error *err) {
    *got = 0;
    while (r->pos < r->len && (r->buf[r->pos] == '\n' || (r->buf[r->pos] == '\r' && r->pos + 1 < r->len &&
                                                          r->buf[r->pos + 1] == '\n'))) {
        if (r->buf[r->pos] == '\r') r->pos++;
        r->pos++;
        r->line++;
    }
    if (r->pos >= r->len) return STATUS_OK;
    if (r->row_cap < r->len - r->pos + 1) {
        r->row_cap = r->len - r->pos + 1;
        r->row = xrealloc(r->row, r->row_cap);
    }
    r->row_line = r->line;
    r->n_fields = 0;
    size_t o = 0;
    for (;;) {   /* one field per iteration */
        push_field(r, o);
        if (r->csv_quotes && r->pos < r->len && r->buf[r->pos] == '"') {
            r->pos++;
            Status st = read_quoted(r, &o, err);
            if (st) return st;
        }
        while (r->pos < r->len && r->buf[r->pos] != '\t' && r->buf[r->pos] != '\n') r->row[o++] = r->buf[r->pos++];
        if (o > 0 && r->row[o - 1] == '\r' && (r->pos >= r->len || r->buf[r->pos] == '\n')) o--;
        r->row[o++] = '\0';
        if (r->pos < r->len && r->buf[r->pos] == '\t') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len) {   /* newline */
            r->pos++;
            r->line++;
        }
        break;
    }
    for (int i = 0; i < r->n_fields; i++) r->fields[i] = r->row + (uintptr_t)r->fields[i];
    *got = 1;
    return STATUS_OK;
}
