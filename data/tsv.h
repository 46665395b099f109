/* data/tsv.h — a tab-separated-values row reader for the GLUE files.
   defines: TsvReader, tsv_open, tsv_next, tsv_close
   The whole file is read at once; a UTF-8 BOM is skipped; rows end at "\n" or "\r\n" (the last
   row may lack its newline); empty lines are skipped. Two quoting modes:
     csv_quotes = 0  canonical GLUE (written with QUOTE_NONE): '"' is an ordinary character
                     (MRPC dev has fields that start or even start AND end with a literal '"').
     csv_quotes = 1  the HuggingFace export: a field that starts with '"' runs to the matching
                     closing quote, "" inside it is one '"', and it may contain tabs/newlines.
   Fields of the current row are NUL-terminated copies valid until the next tsv_next. */
#ifndef TSV_H
#define TSV_H
#include <stddef.h>
#include "tensor/status.h"

typedef struct {
    char *buf;           /* file contents */
    size_t len, pos;
    int line;            /* 1-based line number of the next unread line */
    int row_line;        /* line on which the current row starts */
    int csv_quotes;
    char path[512];
    char **fields;       /* current row */
    int n_fields, cap_fields;
    char *row;           /* storage of the current row's fields */
    size_t row_cap;
} TsvReader;

Status tsv_open(TsvReader *r, const char *path, int csv_quotes, Error *err);
/* Reads the next row into r->fields; *got = 0 at end of file. Errors: "PATH:LINE: ...". */
Status tsv_next(TsvReader *r, int *got, Error *err);
void   tsv_close(TsvReader *r);

#endif
