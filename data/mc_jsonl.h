/* data/mc_jsonl.h — the generic multiple-choice JSONL format (task mc_jsonl), and the row
   plumbing that every JSON / JSONL dataset reader (commonsense.c,
   winogrande_hellaswag_scienceqa.c) shares.
   defines: McRowCtx, McRowFn, mc_read_mc_jsonl, mc_question_record, mc_read_jsonl_rows,
            mc_set_row_id, mc_row_error
   Format, one JSON object a line (blank lines skipped):
     {"question": string, "choices": [2..MC_MAX_CHOICES strings], "answer": a 0-based index or
      a letter "A", "B", ... (absent or null -> label -1), optional "context" (or "hint") ->
      context2, optional "id" (also "qID", "ind"; else "line<N>")}
   ScienceQA records carry the same fields (mc_question_record reads both). Errors read
   "PATH:LINE: expected ...". */
#ifndef MC_JSONL_H
#define MC_JSONL_H
#include "data/example.h"
#include "data/json.h"
#include "tensor/status.h"

/* what a row callback gets: the dataset to append to, the file (for messages) and an optional
   "split" filter (ScienceQA; NULL = keep every record) */
typedef struct {
    McDataset *ds;
    const char *path;
    const char *split;
} McRowCtx;

/* a jsonl_foreach callback; ctx is a McRowCtx */
typedef int (*McRowFn)(void *ctx, const JsonValue *row, int line, Error *err);

Status mc_read_mc_jsonl(McDataset *ds, const char *path, Error *err);

/* Appends the {question, choices, answer} record `row` (at `line`) to c->ds. key, when not
   NULL, is the id (ScienceQA's problems.json key). text_only: a record with a non-empty
   "image" is skipped (ScienceQA's text-only subset). A record whose "split" differs from
   c->split is skipped. */
Status mc_question_record(const McRowCtx *c, const JsonValue *row, int line, const char *key, int text_only,
                          Error *err);

/* Records path in ds and calls fn on every row of the JSONL file with McRowCtx {ds, path, split}. */
Status mc_read_jsonl_rows(McDataset *ds, const char *path, const char *split, McRowFn fn, Error *err);

/* e->id = the row's "id", "qID" or "ind" string, else "line<N>" */
void mc_set_row_id(McDataset *ds, McExample *e, const JsonValue *row, int line);

/* error_set(STATUS_FORMAT) with "PATH:LINE: " prepended. */
Status mc_row_error(Error *err, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
