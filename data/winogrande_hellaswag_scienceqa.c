/* data/winogrande_hellaswag_scienceqa.c — WinoGrande, HellaSwag (with lm-eval's preprocessing), ScienceQA
   (text-only) and generic mc_jsonl readers; formats in commonsense.h. */
#include "data/commonsense.h"
#include "data/json.h"
#include "tensor/check.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    McDataset *ds;
    const char *path;
    const char *split;   /* ScienceQA split filter or NULL */
} RowCtx;

static void set_line_id(McDataset *ds, McExample *e, const JsonValue *row, int line) {
    const char *id = NULL;
    char fallback[32];
    snprintf(fallback, sizeof fallback, "line%d", line);
    json_get_string(row, "id", &id);
    if (!id) json_get_string(row, "qID", &id);
    if (!id) json_get_string(row, "ind", &id);
    e->id = mc_strdup(ds, id ? id : fallback);
}

/* ---- WinoGrande ------------------------------------------------------------------------- */

static int winogrande_row(void *vctx, const JsonValue *row, int line, Error *err) {
    RowCtx *c = vctx;
    const char *s, *o[2], *ans = "";
    if (!json_get_string(row, "sentence", &s) || !json_get_string(row, "option1", &o[0]) ||
        !json_get_string(row, "option2", &o[1]))
        return mc_row_error(err, c->path, line, "expected string fields sentence, option1, option2");
    if (!strchr(s, '_')) return mc_row_error(err, c->path, line, "expected a '_' blank in the sentence");
    json_get_string(row, "answer", &ans);
    if (strcmp(ans, "1") != 0 && strcmp(ans, "2") != 0 && ans[0] != '\0')
        return mc_row_error(err, c->path, line, "expected answer \"1\", \"2\" or \"\", got '%.20s'", ans);
    McExample *e = mc_dataset_add(c->ds);
    e->context = mc_strdup(c->ds, s);
    mc_dataset_set_choices(c->ds, e, o, 2);
    e->label = ans[0] ? ans[0] - '1' : -1;
    set_line_id(c->ds, e, row, line);
    return 0;
}

Status mc_read_winogrande(McDataset *ds, const char *path, Error *err) {
    RowCtx c = { ds, path, NULL };
    mc_dataset_add_file(ds, path);
    return jsonl_foreach(path, winogrande_row, &c, err);
}

/* ---- HellaSwag -------------------------------------------------------------------------- */

static char *replace_all(const char *s, const char *from, const char *to) {
    size_t lf = strlen(from), lt = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)) != NULL; p += lf) n++;
    char *out = xmalloc(strlen(s) + n * lt + 1), *o = out;
    for (const char *p = s;;) {
        const char *m = strstr(p, from);
        if (!m) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(m - p));
        o += m - p;
        memcpy(o, to, lt);
        o += lt;
        p = m + lf;
    }
    return out;
}

char *hellaswag_preprocess(const char *text) {
    const char *b = text, *e = text + strlen(text);
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    char *stripped = xmalloc((size_t)(e - b) + 1);
    memcpy(stripped, b, (size_t)(e - b));
    stripped[e - b] = '\0';
    char *t = replace_all(stripped, " [title]", ". ");
    free(stripped);
    /* re.sub(r"\[.*?\]", ""): '.' does not match a newline */
    char *o = t;
    for (const char *p = t; *p;) {
        if (*p == '[') {
            const char *q = p + 1;
            while (*q && *q != ']' && *q != '\n') q++;
            if (*q == ']') {
                p = q + 1;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = '\0';
    char *r = replace_all(t, "  ", " ");
    free(t);
    return r;
}

static int hellaswag_label(const JsonValue *v, int *out) {
    if (!v) return 1;                                   /* absent: unknown */
    if (v->type == JSON_NUMBER && v->number >= 0 && v->number <= 3 && v->number == (int)v->number) {
        *out = (int)v->number;
        return 1;
    }
    if (v->type == JSON_STRING && v->string[0] == '\0') return 1;
    if (v->type == JSON_STRING && v->string[0] >= '0' && v->string[0] <= '3' && v->string[1] == '\0') {
        *out = v->string[0] - '0';
        return 1;
    }
    return 0;
}

static int hellaswag_row(void *vctx, const JsonValue *row, int line, Error *err) {
    RowCtx *c = vctx;
    const char *act = NULL, *a, *b, *ctx;
    const JsonValue *ends = json_get(row, "endings");
    char *joined;
    if (json_get_string(row, "ctx_a", &a) && json_get_string(row, "ctx_b", &b)) {
        joined = xmalloc(strlen(a) + strlen(b) + 2);
        char *cb = joined + strlen(a) + 1;
        sprintf(joined, "%s %s", a, b);
        for (size_t i = 0; cb[i]; i++)   /* Python str.capitalize (ASCII letters) */
            cb[i] = (char)(i == 0 ? toupper((unsigned char)cb[i]) : tolower((unsigned char)cb[i]));
    } else if (json_get_string(row, "ctx", &ctx)) {
        joined = xmalloc(strlen(ctx) + 1);
        strcpy(joined, ctx);
    } else {
        return mc_row_error(err, c->path, line, "expected string fields ctx_a + ctx_b, or ctx");
    }
    int label = -1;
    if (!ends || ends->type != JSON_ARRAY || ends->count < 2 || ends->count > MC_MAX_CHOICES ||
        !hellaswag_label(json_get(row, "label"), &label) || label >= (int)ends->count) {
        free(joined);
        return mc_row_error(err, c->path, line, "expected \"endings\": [2..%d strings] and a label index", MC_MAX_CHOICES);
    }
    json_get_string(row, "activity_label", &act);
    char *full = xmalloc(strlen(joined) + (act ? strlen(act) : 0) + 3);
    if (act) sprintf(full, "%s: %s", act, joined);
    else strcpy(full, joined);
    McExample *e = mc_dataset_add(c->ds);
    char *pre = hellaswag_preprocess(full);
    e->context = mc_strdup(c->ds, pre);
    free(pre);
    free(full);
    free(joined);
    mc_dataset_set_choices(c->ds, e, NULL, (int)ends->count);
    for (size_t i = 0; i < ends->count; i++) {
        if (ends->items[i].type != JSON_STRING) return mc_row_error(err, c->path, line, "expected string endings");
        char *p = hellaswag_preprocess(ends->items[i].string);
        e->choices[i] = mc_strdup(c->ds, p);
        free(p);
    }
    e->label = label;
    set_line_id(c->ds, e, row, line);
    return 0;
}

Status mc_read_hellaswag(McDataset *ds, const char *path, Error *err) {
    RowCtx c = { ds, path, NULL };
    mc_dataset_add_file(ds, path);
    return jsonl_foreach(path, hellaswag_row, &c, err);
}

/* ---- ScienceQA and mc_jsonl: {question, choices[], answer} ------------------------------ */

/* Adds one record; `key` (ScienceQA object key) is the id when non-NULL. */
static Status generic_record(RowCtx *c, const JsonValue *row, int line, const char *key, int scienceqa,
                             Error *err) {
    const char *q, *hint = NULL, *split = NULL;
    const JsonValue *ch = json_get(row, "choices"), *img = json_get(row, "image"), *ans = json_get(row, "answer");
    if (!json_get_string(row, "question", &q) || !ch || ch->type != JSON_ARRAY || ch->count < 2 ||
        ch->count > MC_MAX_CHOICES)
        return mc_row_error(err, c->path, line, "expected \"question\": string and \"choices\": [2..%d strings]",
                            MC_MAX_CHOICES);
    if (scienceqa && img && !(img->type == JSON_NULL || (img->type == JSON_STRING && img->string[0] == '\0')))
        return STATUS_OK;                               /* needs the image: not text-only */
    if (c->split && json_get_string(row, "split", &split) && strcmp(split, c->split) != 0) return STATUS_OK;
    int label = -1;
    if (ans && ans->type == JSON_NUMBER && ans->number == (int)ans->number) label = (int)ans->number;
    else if (ans && ans->type == JSON_STRING && ans->string_len == 1) label = ans->string[0] - 'A';
    else if (ans && ans->type != JSON_NULL) label = -2;
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
    else set_line_id(c->ds, e, row, line);
    return STATUS_OK;
}

static int scienceqa_row(void *vctx, const JsonValue *row, int line, Error *err) {
    return generic_record(vctx, row, line, NULL, 1, err);
}

static int mc_jsonl_row(void *vctx, const JsonValue *row, int line, Error *err) {
    return generic_record(vctx, row, line, NULL, 0, err);
}

Status mc_read_scienceqa(McDataset *ds, const char *path, const char *split, Error *err) {
    RowCtx c = { ds, path, split };
    size_t l = strlen(path);
    if (l >= 6 && strcmp(path + l - 6, ".jsonl") == 0) {
        mc_dataset_add_file(ds, path);
        return jsonl_foreach(path, scienceqa_row, &c, err);
    }
    JsonDoc doc;   /* problems.json: {"id": {...}, ...} or [{...}, ...] */
    Status st = json_parse_file(&doc, path, err);
    if (st) return st;
    mc_dataset_add_file(ds, path);
    const JsonValue *r = doc.root;
    if (r->type != JSON_OBJECT && r->type != JSON_ARRAY)
        st = mc_row_error(err, path, 1, "expected a JSON object keyed by problem id, or an array");
    for (size_t i = 0; !st && i < r->count; i++)
        st = generic_record(&c, &r->items[i], r->items[i].line, r->keys ? r->keys[i] : NULL, 1, err);
    json_doc_free(&doc);
    return st;
}

Status mc_read_mc_jsonl(McDataset *ds, const char *path, Error *err) {
    RowCtx c = { ds, path, NULL };
    mc_dataset_add_file(ds, path);
    return jsonl_foreach(path, mc_jsonl_row, &c, err);
}
