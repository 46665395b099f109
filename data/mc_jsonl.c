/* data/mc_jsonl.c — the generic multiple-choice JSONL reader and the row plumbing the dataset
   readers share (see mc_jsonl.h). */
#include "data/mc_jsonl.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

Status mc_row_error(Error *err, const char *path, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(err, STATUS_FORMAT, NULL, "%s:%d: %s", path, line, msg);
}

void mc_set_row_id(McDataset *ds, McExample *e, const JsonValue *row, int line) {
    const char *id = NULL;
    char fallback[32];
    snprintf(fallback, sizeof fallback, "line%d", line);
    json_get_string(row, "id", &id);
    if (!id) json_get_string(row, "qID", &id);
    if (!id) json_get_string(row, "ind", &id);
    e->id = mc_strdup(ds, id ? id : fallback);
}

Status mc_read_jsonl_rows(McDataset *ds, const char *path, const char *split, McRowFn fn, Error *err) {
    McRowCtx c = { ds, path, split };
    mc_dataset_add_file(ds, path);
    return jsonl_foreach(path, fn, &c, err);
}

/* the "answer" field as a label: an index, a letter, or -1 when absent / null; -2 when malformed */
static int answer_label(const JsonValue *ans) {
    if (ans && ans->type == JSON_NUMBER && ans->number == (int)ans->number) return (int)ans->number;
    if (ans && ans->type == JSON_STRING && ans->string_len == 1) return ans->string[0] - 'A';
    return ans && ans->type != JSON_NULL ? -2 : -1;
}

Status mc_question_record(const McRowCtx *c, const JsonValue *row, int line, const char *key, int text_only,
                          Error *err) {
    const char *q, *hint = NULL, *split = NULL;
    const JsonValue *ch = json_get(row, "choices"), *img = json_get(row, "image");
    if (!json_get_string(row, "question", &q) || !ch || ch->type != JSON_ARRAY || ch->count < 2 ||
        ch->count > MC_MAX_CHOICES)
        return mc_row_error(err, c->path, line, "expected \"question\": string and \"choices\": [2..%d strings]",
                            MC_MAX_CHOICES);
    if (text_only && img && !(img->type == JSON_NULL || (img->type == JSON_STRING && img->string[0] == '\0')))
        return STATUS_OK;                               /* needs the image: not text-only */
    if (c->split && json_get_string(row, "split", &split) && strcmp(split, c->split) != 0) return STATUS_OK;
    int label = answer_label(json_get(row, "answer"));
    if (label < -1 || label >= (int)ch->count)
        return mc_row_error(err, c->path, line, "expected \"answer\": a choice index 0..%zu (or letter)", ch->count - 1);
    McExample *e = mc_dataset_add(c->ds);
    e->context = mc_strdup(c->ds, q);
    if ((json_get_string(row, "hint", &hint) || json_get_string(row, "context", &hint)) && hint[0])
        e->context2 = mc_strdup(c->ds, hint);
    mc_dataset_set_choices(c->ds, e, NULL, (int)ch->count);
    for (size_t i = 0; i < ch->count; i++) {
        if (ch->items[i].type != JSON_STRING) return mc_row_error(err, c->path, line, "expected string choices");
        e->choices[i] = mc_strdup(c->ds, ch->items[i].string);
    }
    e->label = label;
    if (key) e->id = mc_strdup(c->ds, key);
    else mc_set_row_id(c->ds, e, row, line);
    return STATUS_OK;
}

static int mc_jsonl_row(void *ctx, const JsonValue *row, int line, Error *err) {
    return mc_question_record(ctx, row, line, NULL, 0, err);
}

Status mc_read_mc_jsonl(McDataset *ds, const char *path, Error *err) {
    return mc_read_jsonl_rows(ds, path, NULL, mc_jsonl_row, err);
}
