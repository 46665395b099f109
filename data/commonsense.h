/* data/commonsense.h — readers for the commonsense / science multiple-choice datasets
   (commonsense.c: AllenAI, LLM-Adapters, Social IQa, PIQA; winogrande_hellaswag_scienceqa.c: the
   rest). The generic mc_jsonl format and the row helpers they share are in mc_jsonl.h.
   defines: mc_read_allenai_jsonl, mc_read_llm_adapters, mc_read_siqa, mc_read_piqa,
            mc_read_winogrande, mc_read_hellaswag, hellaswag_preprocess, mc_read_scienceqa
   Each appends to ds and records the files read; errors read "PATH:LINE: expected ...".
   Formats:
     AllenAI JSONL (ARC, OpenBookQA, CommonsenseQA): {"id", "question": {"stem", "choices":
       [{"text", "label"}...]}, "answerKey"}; labels A-E or 1-5, answerKey matched against the
       choice labels; no answerKey (CSQA test) -> label -1.
     LLM-Adapters JSON array [{"instruction", "input", "output", "answer"}]: the instruction is
       "PREFIX: {question}\n\nAnswer1: t1 Answer2: t2 ...\n\nAnswer format: answer1/.../answerN";
       the keyword (answer / solution / option / ending) is read from the "format" line, the
       N markers "Kw1: ", " Kw2: ", ... are located in order; "answer": "kwN" -> label N-1.
     Social IQa JSONL {context, question, answerA..C} + labels file (1-based, one per line):
       context = context, context2 = question; counts must match. labels NULL -> labels -1.
     PIQA JSONL {goal, sol1, sol2} + labels file (0/1); without a labels file an inline
       "label" is used when present, else -1.
     WinoGrande JSONL {sentence (with one "_"), option1, option2, answer "1"|"2"|""}:
       context = sentence, choices = options.
     HellaSwag JSONL {activity_label, ctx_a, ctx_b (or ctx), endings[4], label (int or
       string, "" -> -1)}: lm-eval preprocessing (hellaswag_preprocess) applied to
       "{activity_label}: {ctx_a} {ctx_b.capitalize()}" and to every ending.
     ScienceQA (problems.json object keyed by id, a JSON array, or JSONL) {question, choices,
       answer (index), hint, image, split}: entries with a non-null, non-empty "image" are
       SKIPPED (text-only subset); split filter "train" / "val" / "test" when records carry
       "split" (split NULL = keep all); context2 = hint when non-empty. */
#ifndef COMMONSENSE_H
#define COMMONSENSE_H
#include "data/example.h"
#include "tensor/status.h"

Status mc_read_allenai_jsonl(McDataset *ds, const char *path, Error *err);
Status mc_read_llm_adapters(McDataset *ds, const char *path, Error *err);
Status mc_read_siqa(McDataset *ds, const char *jsonl, const char *labels, Error *err);
Status mc_read_piqa(McDataset *ds, const char *jsonl, const char *labels, Error *err);
Status mc_read_winogrande(McDataset *ds, const char *path, Error *err);
Status mc_read_hellaswag(McDataset *ds, const char *path, Error *err);
Status mc_read_scienceqa(McDataset *ds, const char *path, const char *split, Error *err);

/* lm-eval's hellaswag preprocess: strip; " [title]" -> ". "; drop "[...]" (shortest);
   "  " -> " " (one non-overlapping pass). Returns a malloc'ed string. */
char *hellaswag_preprocess(const char *text);

#endif
