/* data/glue.c — GLUE TSV readers (RTE, CoLA, SST-2, MRPC, QNLI) producing McExamples with
   verbalised choices; formats and label conventions in glue.h / example.h. */
#include "data/glue.h"
#include "data/tsv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *task;
    const char *choices[2];
    const char *text1[3];     /* header names accepted for the first text */
    const char *text2[3];     /* ... second text (NULL = single-sentence task) */
    const char *label[3];
    int text_labels;          /* labels may be entailment / not_entailment */
} GlueSpec;

static const GlueSpec SPECS[] = {
    { "rte", { "yes", "no" }, { "sentence1" }, { "sentence2" }, { "label" }, 1 },
    { "qnli", { "yes", "no" }, { "question" }, { "sentence" }, { "label" }, 1 },
    { "cola", { "no", "yes" }, { "sentence" }, { NULL }, { "label" }, 0 },
    { "sst2", { "negative", "positive" }, { "sentence" }, { NULL }, { "label" }, 0 },
    { "mrpc", { "no", "yes" }, { "#1 String", "sentence1" }, { "#2 String", "sentence2" },
      { "Quality", "label" }, 0 },
};

static const GlueSpec *find_spec(const char *task) {
    for (size_t i = 0; i < sizeof SPECS / sizeof SPECS[0]; i++)
        if (strcmp(SPECS[i].task, task) == 0) return &SPECS[i];
    return NULL;
}

int glue_is_task(const char *task) { return find_spec(task) != NULL; }

/* index of the first header column named one of names[0..3), -1 if none */
static int find_col(const TsvReader *r, const char *const names[3]) {
    for (int k = 0; k < 3 && names[k]; k++)
        for (int i = 0; i < r->n_fields; i++)
            if (strcmp(r->fields[i], names[k]) == 0) return i;
    return -1;
}

static Status parse_label(const GlueSpec *sp, const TsvReader *r, const char *s, int *out, Error *err) {
    if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0) {
        *out = s[0] - '0';
        return STATUS_OK;
    }
    if (sp->text_labels && strcmp(s, "entailment") == 0) {
        *out = 0;
        return STATUS_OK;
    }
    if (sp->text_labels && strcmp(s, "not_entailment") == 0) {
        *out = 1;
        return STATUS_OK;
    }
    return error_set(err, STATUS_FORMAT, NULL, "%s:%d: expected label %s, got '%.40s'", r->path, r->row_line,
                     sp->text_labels ? "'entailment', 'not_entailment', 0 or 1" : "0 or 1", s);
}

static void header_list(const TsvReader *r, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_fields && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s'%s'", i ? ", " : "", r->fields[i]);
}

static void add_row(McDataset *ds, const GlueSpec *sp, const char *t1, const char *t2, int label,
                    const char *id) {
    McExample *e = mc_dataset_add(ds);
    e->context = mc_strdup(ds, t1);
    e->context2 = t2 ? mc_strdup(ds, t2) : NULL;
    mc_dataset_set_choices(ds, e, sp->choices, 2);
    e->label = label;
    e->id = mc_strdup(ds, id);
}

typedef struct { int t1, t2, label, id, n; } Cols;

static Status header_cols(const GlueSpec *sp, TsvReader *r, Cols *c, Error *err) {
    char found[256];
    header_list(r, found, sizeof found);
    c->n = r->n_fields;
    c->t1 = find_col(r, sp->text1);
    c->t2 = sp->text2[0] ? find_col(r, sp->text2) : -1;
    c->label = find_col(r, sp->label);
    static const char *const id_names[3] = { "idx", "index", "#1 ID" };
    c->id = find_col(r, id_names);
    if (c->t1 < 0)
        return error_set(err, STATUS_FORMAT, NULL, "%s:%d: expected a '%s' column in the header (found %s)",
                         r->path, r->row_line, sp->text1[0], found);
    if (sp->text2[0] && c->t2 < 0)
        return error_set(err, STATUS_FORMAT, NULL, "%s:%d: expected a '%s' column in the header (found %s)",
                         r->path, r->row_line, sp->text2[0], found);
    /* the HuggingFace export ends in "idx" and CSV-quotes fields containing '"' */
    r->csv_quotes = strcmp(r->fields[r->n_fields - 1], "idx") == 0;
    return STATUS_OK;
}

static Status read_rows(McDataset *ds, const GlueSpec *sp, TsvReader *r, const Cols *c, Error *err) {
    const char *base = strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path;
    for (;;) {
        int got;
        Status st = tsv_next(r, &got, err);
        if (st || !got) return st;
        if (r->n_fields != c->n)
            return error_set(err, STATUS_FORMAT, NULL, "%s:%d: expected %d tab-separated fields, got %d",
                             r->path, r->row_line, c->n, r->n_fields);
        int label = -1;
        if (c->label >= 0 && (st = parse_label(sp, r, r->fields[c->label], &label, err))) return st;
        char id[64];
        if (c->id >= 0) snprintf(id, sizeof id, "%s", r->fields[c->id]);
        else snprintf(id, sizeof id, "%.40s:%d", base, r->row_line);
        add_row(ds, sp, r->fields[c->t1], c->t2 >= 0 ? r->fields[c->t2] : NULL, label, id);
    }
}

/* CoLA train/dev: no header, source \t label \t marker \t sentence */
static Status read_cola_plain(McDataset *ds, const GlueSpec *sp, TsvReader *r, Error *err) {
    const char *base = strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path;
    int got = 1;
    for (;;) {
        if (r->n_fields != 4)
            return error_set(err, STATUS_FORMAT, NULL,
                             "%s:%d: expected 4 tab-separated fields (source, label, marker, sentence), got %d",
                             r->path, r->row_line, r->n_fields);
        int label;
        Status st = parse_label(sp, r, r->fields[1], &label, err);
        if (st) return st;
        char id[64];
        snprintf(id, sizeof id, "%.40s:%d", base, r->row_line);
        add_row(ds, sp, r->fields[3], NULL, label, id);
        if ((st = tsv_next(r, &got, err)) || !got) return st;
    }
}

Status glue_read(McDataset *ds, const char *task, const char *path, Error *err) {
    const GlueSpec *sp = find_spec(task);
    if (!sp) return error_set(err, STATUS_INVALID, NULL, "'%s' is not a GLUE task", task);
    ds->positive_choice = 1;
    TsvReader r;
    Status st = tsv_open(&r, path, 0, err);
    if (st) return st;
    mc_dataset_add_file(ds, path);
    int got;
    st = tsv_next(&r, &got, err);
    if (!st && !got) st = error_set(err, STATUS_FORMAT, NULL, "%s: expected at least one row, the file is empty", path);
    if (!st) {
        int headerless_cola = strcmp(task, "cola") == 0 && find_col(&r, sp->text1) < 0;
        if (headerless_cola) {
            st = read_cola_plain(ds, sp, &r, err);
        } else {
            Cols c;
            st = header_cols(sp, &r, &c, err);
            if (!st) st = read_rows(ds, sp, &r, &c, err);
        }
    }
    tsv_close(&r);
    return st;
}
