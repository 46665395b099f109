/* data/winogrande_hellaswag_scienceqa.c — WinoGrande, HellaSwag (with lm-eval's preprocessing) and
   ScienceQA (text-only) readers; formats in commonsense.h. */
#include "data/commonsense.h"
#include "data/mc_jsonl.h"
#include "tensor/check.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- WinoGrande ------------------------------------------------------------------------- */

static int winogrande_row(void *vctx, const JsonValue *row, int line, Error *err) {
    const McRowCtx *c = vctx;
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
    mc_set_row_id(c->ds, e, row, line);
    return 0;
}

Status mc_read_winogrande(McDataset *ds, const char *path, Error *err) {
    return mc_read_jsonl_rows(ds, path, NULL, winogrande_row, err);
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
    const McRowCtx *c = vctx;
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
    mc_set_row_id(c->ds, e, row, line);
    return 0;
}

Status mc_read_hellaswag(McDataset *ds, const char *path, Error *err) {
    return mc_read_jsonl_rows(ds, path, NULL, hellaswag_row, err);
}

/* ---- ScienceQA: {question, choices[], answer, hint, image, split} (mc_jsonl.h) ------------- */

static int scienceqa_row(void *vctx, const JsonValue *row, int line, Error *err) {
    return mc_question_record(vctx, row, line, NULL, 1, err);
}

Status mc_read_scienceqa(McDataset *ds, const char *path, const char *split, Error *err) {
    size_t l = strlen(path);
    if (l >= 6 && strcmp(path + l - 6, ".jsonl") == 0) return mc_read_jsonl_rows(ds, path, split, scienceqa_row, err);
    McRowCtx c = { ds, path, split };
    JsonDoc doc;   /* problems.json: {"id": {...}, ...} or [{...}, ...] */
    Status st = json_parse_file(&doc, path, err);
    if (st) return st;
    mc_dataset_add_file(ds, path);
    const JsonValue *r = doc.root;
    if (r->type != JSON_OBJECT && r->type != JSON_ARRAY)
        st = mc_row_error(err, path, 1, "expected a JSON object keyed by problem id, or an array");
    for (size_t i = 0; !st && i < r->count; i++)
        st = mc_question_record(&c, &r->items[i], r->items[i].line, r->keys ? r->keys[i] : NULL, 1, err);
    json_doc_free(&doc);
    return st;
}
