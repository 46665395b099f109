/* data/glue.h — GLUE classification tasks as multiple-choice examples (conventions in
   example.h): RTE, CoLA, SST-2, MRPC, QNLI.
   defines: glue_is_task, glue_read
   Formats accepted (columns found by header name where there is a header):
     canonical GLUE TSV (QUOTE_NONE):  RTE/QNLI "index sentence1 sentence2 label" /
       "index question sentence label" with label entailment|not_entailment; SST-2
       "sentence label"; MRPC "Quality #1 ID #2 ID #1 String #2 String" (UTF-8 BOM ok);
       test files without a label column give label -1.
     HuggingFace export (header ends in "idx", CSV-quoted fields): "sentence1 sentence2 label
       idx" etc. with numeric labels; HF glue/rte and glue/qnli: 0 = entailment,
       1 = not_entailment (checked against the canonical RTE dev.tsv: same rows, same labels).
     CoLA without header: 4 columns source, label 0|1, original marker ("*" or empty),
       sentence (GLUE train/dev); CoLA test "index sentence" has a header.
   Numeric labels are the original class ids and equal the choice index. */
#ifndef GLUE_H
#define GLUE_H
#include "data/example.h"
#include "tensor/status.h"

int glue_is_task(const char *task);   /* rte cola sst2 mrpc qnli */
/* Appends the rows of one file to ds (call twice for CoLA's split train files). Sets
   ds->positive_choice. Errors: "PATH:LINE: expected ...". */
Status glue_read(McDataset *ds, const char *task, const char *path, Error *err);

#endif
