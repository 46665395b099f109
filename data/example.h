/* data/example.h — task-independent multiple-choice examples, the common currency of every
   dataset reader (glue.c, commonsense.c, winogrande_hellaswag_scienceqa.c, mc_jsonl.c), the prompt builder and the batcher.
   defines: MC_MAX_CHOICES, MC_MAX_FILES, McExample, McDataset, mc_dataset_init, mc_dataset_free,
            mc_dataset_add, mc_strdup, mc_strndup, mc_dataset_add_file, mc_dataset_set_choices
   Every string of a dataset lives in the dataset's own string pool (chained 64 KiB chunks, no
   per-string malloc); the example array is one growing allocation. mc_dataset_free releases all.

   Classification tasks become MC examples with fixed verbalised choices; `positive_choice`
   records which choice is the ORIGINAL dataset's positive class (label 1 of the GLUE tsv /
   sklearn pos_label) so MCC and per-class counts are computed on the original classes:
     task  choices                    label (choice index)          positive_choice (orig. 1)
     rte   ["yes", "no"]              0 = entailment                1 ("no" = not_entailment)
     qnli  ["yes", "no"]              0 = entailment                1 ("no" = not_entailment)
     cola  ["no", "yes"]              1 = acceptable                1 ("yes" = acceptable)
     sst2  ["negative", "positive"]   1 = positive                  1
     mrpc  ["no", "yes"]              1 = paraphrase (equivalent)   1
   (RTE/QNLI: choice index == HF label id, 0 = entailment; MCC is symmetric in the two classes,
   so the choice of positive class never changes its value.) Non-classification tasks have
   positive_choice = -1. */
#ifndef EXAMPLE_H
#define EXAMPLE_H
#include <stddef.h>
#include <stdint.h>

#define MC_MAX_CHOICES 8
#define MC_MAX_FILES 4

typedef struct {
    char *context;      /* question / premise / sentence / passage text (never NULL) */
    char *context2;     /* second text or NULL: RTE/MRPC sentence2, QNLI sentence,
                           SIQA question, ScienceQA hint */
    char **choices;     /* choice texts [n_choices] */
    int n_choices;      /* 2..MC_MAX_CHOICES */
    int label;          /* 0-based correct choice, -1 if unknown (test splits) */
    char *id;           /* dataset id, or "FILE:LINE" style when the source has none */
} McExample;

typedef struct McPoolChunk McPoolChunk;

typedef struct {
    McExample *ex;
    int n, cap;
    char task[32];                  /* "rte", "arc_easy", ... */
    char source[256];               /* first file read (for messages) */
    char files[MC_MAX_FILES][512];  /* every file read, in order (hashed by the token cache) */
    int n_files;
    char note[256];                 /* "" or e.g. "no dev split in DIR: using test" */
    char split[8];                  /* the split actually read: "train", "dev", "test" ("" unknown) */
    int positive_choice;            /* see the table above; -1 = not a binary classification */
    McPoolChunk *pool;              /* string storage */
} McDataset;

void mc_dataset_init(McDataset *ds, const char *task);
void mc_dataset_free(McDataset *ds);
/* Appends a zeroed example (label -1) and returns it; pointers into ds->ex may move. */
McExample *mc_dataset_add(McDataset *ds);
/* Copies into the dataset's pool. */
char *mc_strdup(McDataset *ds, const char *s);
char *mc_strndup(McDataset *ds, const char *s, size_t n);
/* Allocates ex->choices for n texts copied from texts[] (texts may be NULL: fill later). */
void mc_dataset_set_choices(McDataset *ds, McExample *ex, const char *const *texts, int n);
/* Records a file that was read (source = first one). At most MC_MAX_FILES (CHECK). */
void mc_dataset_add_file(McDataset *ds, const char *path);

#endif
