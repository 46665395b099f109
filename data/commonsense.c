/* data/commonsense.c — AllenAI JSONL (ARC / OpenBookQA / CommonsenseQA), LLM-Adapters
   instruction JSON, Social IQa and PIQA (+ labels files) readers; formats in commonsense.h. */
#include "data/commonsense.h"
#include "data/json.h"
#include "data/mc_jsonl.h"
#include "data/file_read.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- AllenAI JSONL ---------------------------------------------------------------------- */

static int allenai_row(void *vctx, const JsonValue *row, int line, Error *err) {
    const McRowCtx *c = vctx;
    const JsonValue *q = json_get(row, "question");
    const char *stem, *id = NULL, *key = NULL;
    const JsonValue *ch = json_get(q, "choices");
    if (!q || !json_get_string(q, "stem", &stem) || !ch || ch->type != JSON_ARRAY)
        return mc_row_error(err, c->path, line, "expected \"question\": {\"stem\": string, \"choices\": [...]}");
    if (ch->count < 2 || ch->count > MC_MAX_CHOICES)
        return mc_row_error(err, c->path, line, "expected 2..%d choices, got %zu", MC_MAX_CHOICES, ch->count);
    json_get_string(row, "id", &id);
    int has_key = json_get_string(row, "answerKey", &key);
    McExample *e = mc_dataset_add(c->ds);
    mc_dataset_set_choices(c->ds, e, NULL, (int)ch->count);
    for (size_t i = 0; i < ch->count; i++) {
        const char *text, *label;
        if (!json_get_string(&ch->items[i], "text", &text) || !json_get_string(&ch->items[i], "label", &label))
            return mc_row_error(err, c->path, line, "expected choice %zu as {\"text\": string, \"label\": string}", i);
        e->choices[i] = mc_strdup(c->ds, text);
        if (has_key && strcmp(label, key) == 0) e->label = (int)i;
    }
    if (has_key && e->label < 0)
        return mc_row_error(err, c->path, line, "expected answerKey '%.20s' to be one of the choice labels", key);
    e->context = mc_strdup(c->ds, stem);
    char fallback[32];
    snprintf(fallback, sizeof fallback, "line%d", line);
    e->id = mc_strdup(c->ds, id ? id : fallback);
    return 0;
}

Status mc_read_allenai_jsonl(McDataset *ds, const char *path, Error *err) {
    return mc_read_jsonl_rows(ds, path, NULL, allenai_row, err);
}

/* ---- LLM-Adapters instruction JSON ------------------------------------------------------ */

/* Parses one instruction into e (question + choices); returns NULL or a static error text. */
static const char *parse_instruction(McDataset *ds, McExample *e, const char *ins, char *kw_lower) {
    const char *fmt = strstr(ins, "\n\nAnswer format: ");
    if (!fmt) return "expected \"\\n\\nAnswer format: kw1/kw2/...\" in the instruction";
    const char *f = fmt + strlen("\n\nAnswer format: ");
    size_t kwlen = 0;
    while (f[kwlen] >= 'a' && f[kwlen] <= 'z' && kwlen < 15) kwlen++;
    if (kwlen == 0 || f[kwlen] != '1') return "expected the answer format to start with a keyword and 1 (answer1)";
    memcpy(kw_lower, f, kwlen);
    kw_lower[kwlen] = '\0';
    int n = 0;
    for (const char *p = f; (p = strstr(p, kw_lower)) != NULL; p += kwlen) n++;
    if (n < 2 || n > MC_MAX_CHOICES) return "expected 2..8 choices in the answer format";
    char marker[32];
    const char *starts[MC_MAX_CHOICES + 1], *ends[MC_MAX_CHOICES];
    const char *p = ins;
    for (int k = 0; k < n; k++) {   /* "\n\nKw1: ", then " Kw2: ", ... in order */
        snprintf(marker, sizeof marker, "%s%c%s%d: ", k ? " " : "\n\n", kw_lower[0] - 32, kw_lower + 1, k + 1);
        const char *m = strstr(p, marker);
        if (!m || m >= fmt) return "expected the choice markers Kw1: .. KwN: in order before the answer format";
        if (k) ends[k - 1] = m;
        else starts[n] = m;   /* end of the question */
        starts[k] = m + strlen(marker);
        p = starts[k];
    }
    ends[n - 1] = fmt;
    const char *q = ins, *colon = strstr(ins, ": ");
    if (strncmp(ins, "Please choose", 13) == 0 && colon && colon < starts[n]) q = colon + 2;
    e->context = mc_strndup(ds, q, (size_t)(starts[n] - q));
    mc_dataset_set_choices(ds, e, NULL, n);
    for (int k = 0; k < n; k++) e->choices[k] = mc_strndup(ds, starts[k], (size_t)(ends[k] - starts[k]));
    return NULL;
}

static Status llm_adapters_item(McDataset *ds, const char *path, const JsonValue *it, size_t i, Error *err) {
    const char *ins, *ans;
    if (!json_get_string(it, "instruction", &ins) || !json_get_string(it, "answer", &ans))
        return mc_row_error(err, path, it->line, "expected {\"instruction\": string, \"answer\": string}");
    McExample *e = mc_dataset_add(ds);
    char kw[16];
    const char *msg = parse_instruction(ds, e, ins, kw);
    if (msg) return mc_row_error(err, path, it->line, "%s", msg);
    size_t kwlen = strlen(kw);
    char *end;
    long k = strncmp(ans, kw, kwlen) == 0 ? strtol(ans + kwlen, &end, 10) : 0;
    if (k < 1 || k > e->n_choices || *end != '\0')
        return mc_row_error(err, path, it->line, "expected answer %s1..%s%d, got '%.20s'", kw, kw, e->n_choices, ans);
    e->label = (int)k - 1;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char id[96];
    snprintf(id, sizeof id, "%.60s:%zu", base, i);
    e->id = mc_strdup(ds, id);
    return STATUS_OK;
}

Status mc_read_llm_adapters(McDataset *ds, const char *path, Error *err) {
    JsonDoc doc;
    Status st = json_parse_file(&doc, path, err);
    if (st) return st;
    mc_dataset_add_file(ds, path);
    if (doc.root->type != JSON_ARRAY)
        st = mc_row_error(err, path, 1, "expected a JSON array of {instruction, input, output, answer}");
    for (size_t i = 0; !st && i < doc.root->count; i++) st = llm_adapters_item(ds, path, &doc.root->items[i], i, err);
    json_doc_free(&doc);
    return st;
}

/* ---- labels files (SIQA 1-based, PIQA 0-based) ------------------------------------------ */

static Status apply_labels(McDataset *ds, int first, const char *path, int base, Error *err) {
    char *buf;
    size_t len;
    Status st = file_read_all(path, &buf, &len, err);
    if (st) return st;
    mc_dataset_add_file(ds, path);
    int n_rec = ds->n - first, n = 0, line = 0;
    for (char *p = buf; !st && *p;) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        line++;
        size_t l = (size_t)((nl ? nl : next) - p);
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ')) l--;
        p[l] = '\0';
        if (l == 0 && *next == '\0') break;   /* final empty line */
        char *end;
        long raw = strtol(p, &end, 10);   /* range-checked before the shift: no LONG_MIN - 1 */
        long v = raw < base || raw > base + MC_MAX_CHOICES ? -1 : raw - base;
        if (l == 0 || *end != '\0' || v < 0 || (n < n_rec && v >= ds->ex[first + n].n_choices))
            st = mc_row_error(err, path, line, "expected a label %d..%d, got '%.20s'", base,
                              base + (n < n_rec ? ds->ex[first + n].n_choices : 2) - 1, p);
        else if (n < n_rec) ds->ex[first + n].label = (int)v;
        n++;
        p = next;
    }
    free(buf);
    if (!st && n != n_rec)
        st = error_set(err, STATUS_FORMAT, "the labels file must have one line per JSONL record",
                       "%s: expected %d labels (one per record of %s), got %d", path, n_rec, ds->files[ds->n_files - 2], n);
    return st;
}

/* ---- Social IQa / PIQA ------------------------------------------------------------------ */

static int siqa_row(void *vctx, const JsonValue *row, int line, Error *err) {
    const McRowCtx *c = vctx;
    const char *ctx, *q, *a[3];
    if (!json_get_string(row, "context", &ctx) || !json_get_string(row, "question", &q) ||
        !json_get_string(row, "answerA", &a[0]) || !json_get_string(row, "answerB", &a[1]) ||
        !json_get_string(row, "answerC", &a[2]))
        return mc_row_error(err, c->path, line, "expected string fields context, question, answerA, answerB, answerC");
    McExample *e = mc_dataset_add(c->ds);
    e->context = mc_strdup(c->ds, ctx);
    e->context2 = mc_strdup(c->ds, q);
    mc_dataset_set_choices(c->ds, e, a, 3);
    char id[32];
    snprintf(id, sizeof id, "line%d", line);
    e->id = mc_strdup(c->ds, id);
    return 0;
}

static int piqa_row(void *vctx, const JsonValue *row, int line, Error *err) {
    const McRowCtx *c = vctx;
    const char *goal, *s[2], *id = NULL;
    if (!json_get_string(row, "goal", &goal) || !json_get_string(row, "sol1", &s[0]) ||
        !json_get_string(row, "sol2", &s[1]))
        return mc_row_error(err, c->path, line, "expected string fields goal, sol1, sol2");
    McExample *e = mc_dataset_add(c->ds);
    e->context = mc_strdup(c->ds, goal);
    mc_dataset_set_choices(c->ds, e, s, 2);
    long long lab;
    if (json_get_int(row, "label", &lab)) {
        if (lab != 0 && lab != 1) return mc_row_error(err, c->path, line, "expected label 0 or 1, got %lld", lab);
        e->label = (int)lab;
    }
    char fallback[32];
    snprintf(fallback, sizeof fallback, "line%d", line);
    json_get_string(row, "id", &id);
    e->id = mc_strdup(c->ds, id ? id : fallback);
    return 0;
}

static Status read_with_labels(McDataset *ds, const char *jsonl, const char *labels, int base,
                               McRowFn fn, Error *err) {
    int first = ds->n;
    Status st = mc_read_jsonl_rows(ds, jsonl, NULL, fn, err);
    if (!st && labels) st = apply_labels(ds, first, labels, base, err);
    return st;
}

Status mc_read_siqa(McDataset *ds, const char *jsonl, const char *labels, Error *err) {
    return read_with_labels(ds, jsonl, labels, 1, siqa_row, err);
}

Status mc_read_piqa(McDataset *ds, const char *jsonl, const char *labels, Error *err) {
    return read_with_labels(ds, jsonl, labels, 0, piqa_row, err);
}
