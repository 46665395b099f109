/* data/task.c — task names -> readers, and split-file selection in a dataset directory
   (layouts in task.h). */
#include "data/task.h"
#include "data/commonsense.h"
#include "data/mc_jsonl.h"
#include "data/glue.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef enum { R_GLUE, R_ALLENAI, R_SIQA, R_PIQA, R_WINO, R_HELLA, R_SCIQA, R_MCJSONL } Reader;
enum { SPLIT_TRAIN, SPLIT_DEV, SPLIT_TEST };
#define NCAND 6

typedef struct {
    const char *name;
    Reader reader;
    const char *dir;                 /* dataset directory name under a data root */
    const char *files[3][NCAND];     /* candidates per split, NULL-terminated */
    int dev_from_test;               /* no dev split in some layouts: fall back to test */
} TaskSpec;

#define GLUE_FILES { { "train.tsv", "train.hf.tsv" }, { "dev.tsv", "dev.hf.tsv" }, { "test.tsv", "test.hf.tsv" } }
#define ARC_FILES(P) { { P "-Train.jsonl", "train.jsonl", "train.llm_adapters.json", "train.json" },        \
                       { P "-Dev.jsonl", "dev.jsonl", "dev.llm_adapters.json", "dev.json" },                \
                       { P "-Test.jsonl", "test.jsonl", "test.llm_adapters.json", "test.json" } }

static const TaskSpec TASKS[] = {
    { "rte", R_GLUE, "RTE", GLUE_FILES, 0 },
    { "cola", R_GLUE, "CoLA", GLUE_FILES, 0 },
    { "sst2", R_GLUE, "SST-2", GLUE_FILES, 0 },
    { "mrpc", R_GLUE, "MRPC", GLUE_FILES, 0 },
    { "qnli", R_GLUE, "QNLI", GLUE_FILES, 0 },
    { "arc_easy", R_ALLENAI, "ARC-Easy", ARC_FILES("ARC-Easy"), 1 },
    { "arc_challenge", R_ALLENAI, "ARC-Challenge", ARC_FILES("ARC-Challenge"), 1 },
    { "openbookqa", R_ALLENAI, "openbookqa", { { "train.jsonl" }, { "dev.jsonl" }, { "test.jsonl" } }, 0 },
    { "commonsense_qa", R_ALLENAI, "commonsense_qa",
      { { "train.jsonl", "train_rand_split.jsonl" }, { "valid.jsonl", "dev.jsonl", "dev_rand_split.jsonl" },
        { "test.jsonl", "test_rand_split_no_answers.jsonl" } }, 0 },
    { "siqa", R_SIQA, "social_iqa", { { "train.jsonl" }, { "dev.jsonl" }, { "test.jsonl" } }, 0 },
    { "piqa", R_PIQA, "piqa", { { "train.jsonl" }, { "valid.jsonl", "dev.jsonl" }, { "tests.jsonl", "test.jsonl" } }, 0 },
    { "winogrande", R_WINO, "winogrande", { { "train_xl.jsonl", "train.jsonl" }, { "dev.jsonl" }, { "test.jsonl" } }, 0 },
    { "hellaswag", R_HELLA, "hellaswag",
      { { "hellaswag_train.jsonl", "train.jsonl" }, { "hellaswag_val.jsonl", "val.jsonl", "dev.jsonl", "valid.jsonl" },
        { "hellaswag_test.jsonl", "test.jsonl" } }, 0 },
    { "scienceqa", R_SCIQA, "scienceqa",
      { { "train.jsonl", "train.json", "problems.json" }, { "val.jsonl", "dev.jsonl", "val.json", "problems.json" },
        { "test.jsonl", "test.json", "problems.json" } }, 0 },
    { "mc_jsonl", R_MCJSONL, "mc_jsonl",
      { { "train.jsonl" }, { "dev.jsonl", "valid.jsonl", "val.jsonl" }, { "test.jsonl" } }, 0 },
};

static const TaskSpec *find_task(const char *name) {
    for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
        if (strcmp(TASKS[i].name, name) == 0) return &TASKS[i];
    return NULL;
}

int task_is_known(const char *task) { return task && find_task(task) != NULL; }

static int split_index(const char *s) {
    if (!strcmp(s, "train")) return SPLIT_TRAIN;
    if (!strcmp(s, "dev") || !strcmp(s, "val") || !strcmp(s, "valid") || !strcmp(s, "validation")) return SPLIT_DEV;
    if (!strcmp(s, "test")) return SPLIT_TEST;
    return -1;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* first non-space byte of a file, or 0 */
static int first_byte(const char *path) {
    FILE *f = fopen(path, "rb");
    int c = 0;
    if (!f) return 0;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t') {}
    fclose(f);
    return c == EOF ? 0 : c;
}

/* "DIR/X.jsonl" -> "DIR/X-labels.lst" */
static void labels_path(const char *jsonl, char *out, size_t n) {
    size_t l = strlen(jsonl);
    if (l > 6 && strcmp(jsonl + l - 6, ".jsonl") == 0) l -= 6;
    snprintf(out, n, "%.*s-labels.lst", (int)l, jsonl);
}

static Status read_one(const TaskSpec *t, const char *path, int split, McDataset *ds, Error *err) {
    static const char *const sciqa_split[3] = { "train", "val", "test" };
    char lab[1024];
    switch (t->reader) {
    case R_GLUE: return glue_read(ds, t->name, path, err);
    case R_ALLENAI:
        return first_byte(path) == '[' ? mc_read_llm_adapters(ds, path, err) : mc_read_allenai_jsonl(ds, path, err);
    case R_SIQA:
    case R_PIQA:
        labels_path(path, lab, sizeof lab);
        if (!is_file(lab) && split != SPLIT_TEST)
            return error_set(err, STATUS_IO, "labels ship as a separate file next to the JSONL",
                             "%s: expected the labels file %s", path, lab);
        return (t->reader == R_SIQA ? mc_read_siqa : mc_read_piqa)(ds, path, is_file(lab) ? lab : NULL, err);
    case R_WINO: return mc_read_winogrande(ds, path, err);
    case R_HELLA: return mc_read_hellaswag(ds, path, err);
    case R_SCIQA: return mc_read_scienceqa(ds, path, sciqa_split[split], err);
    case R_MCJSONL: return mc_read_mc_jsonl(ds, path, err);
    }
    return error_set(err, STATUS_INVALID, NULL, "unknown reader");
}

/* CoLA's split train files: train_part1_of_N.tsv .. train_partN_of_N.tsv, read in part order */
static Status read_parts(const TaskSpec *t, const char *dir, McDataset *ds, int *found, Error *err) {
    *found = 0;
    DIR *d = opendir(dir);
    if (!d) return STATUS_OK;
    int total = 0, k, n;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (sscanf(de->d_name, "train_part%d_of_%d.tsv", &k, &n) == 2 && n > total) total = n;
    closedir(d);
    if (total == 0) return STATUS_OK;
    *found = 1;
    if (total > MC_MAX_FILES)
        return error_set(err, STATUS_INVALID, NULL, "%s: at most %d train parts supported, got %d", dir, MC_MAX_FILES, total);
    char path[1100];
    for (k = 1; k <= total; k++) {
        snprintf(path, sizeof path, "%s/train_part%d_of_%d.tsv", dir, k, total);
        if (!is_file(path)) return error_set(err, STATUS_IO, NULL, "%s: expected part %d of %d (%s)", dir, k, total, path);
        Status st = read_one(t, path, SPLIT_TRAIN, ds, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* dataset directory: DATA/<dir>, DATA/glue/<dir>, DATA/commonsense/<dir>, else DATA */
static void resolve_dir(const TaskSpec *t, const char *root, char *out, size_t n) {
    static const char *const pre[3] = { "", "glue/", "commonsense/" };
    for (int i = 0; i < 3; i++) {
        snprintf(out, n, "%s/%s%s", root, pre[i], t->dir);
        if (is_dir(out)) return;
    }
    snprintf(out, n, "%s", root);
}

static int find_candidate(const TaskSpec *t, const char *dir, int split, char *path, size_t n) {
    for (int i = 0; i < NCAND && t->files[split][i]; i++) {
        snprintf(path, n, "%s/%s", dir, t->files[split][i]);
        if (is_file(path)) return 1;
    }
    return 0;
}

static Status missing_split(const TaskSpec *t, const char *dir, int split, const char *split_name, Error *err) {
    char list[300] = "";
    size_t o = 0;
    for (int s = split; s <= (split == SPLIT_DEV && t->dev_from_test ? SPLIT_TEST : split); s++)
        for (int i = 0; i < NCAND && t->files[s][i] && o < sizeof list; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", t->files[s][i]);
    if (t->reader == R_GLUE && !strcmp(t->name, "cola") && split == SPLIT_TRAIN && o < sizeof list)
        snprintf(list + o, sizeof list - o, ", train_part1_of_N.tsv");
    return error_set(err, STATUS_IO, "pass the dataset directory or the file itself",
                     "no %s split for %s in %s: looked for %s", split_name, t->name, dir, list);
}

static Status load_from_dir(const TaskSpec *t, const char *root, int split, const char *split_name, McDataset *ds,
                            Error *err) {
    char dir[1024], path[1100];
    resolve_dir(t, root, dir, sizeof dir);
    if (find_candidate(t, dir, split, path, sizeof path)) return read_one(t, path, split, ds, err);
    if (split == SPLIT_TRAIN && !strcmp(t->name, "cola")) {
        int found;
        Status st = read_parts(t, dir, ds, &found, err);
        if (st || found) return st;
    }
    if (split == SPLIT_DEV && t->dev_from_test && find_candidate(t, dir, SPLIT_TEST, path, sizeof path)) {
        snprintf(ds->note, sizeof ds->note, "no dev split for %s in %.150s: using the test split", t->name, dir);
        snprintf(ds->split, sizeof ds->split, "test");
        return read_one(t, path, SPLIT_TEST, ds, err);
    }
    return missing_split(t, dir, split, split_name, err);
}

/* Training and evaluating need gold labels: a train or dev file without any (a GLUE test file
   given as --train, a labels column missing) would train on nothing or score n = 0. Labels must
   also name one of the example's choices. */
static Status check_labels(const McDataset *ds, Error *err) {
    int labelled = 0;
    for (int i = 0; i < ds->n; i++) {
        const McExample *e = &ds->ex[i];
        if (e->label >= e->n_choices)
            return error_set(err, STATUS_FORMAT, NULL, "%s: example %d (%.60s) has label %d, expected 0..%d (one of its %d choices)",
                             ds->source, i + 1, e->id ? e->id : "", e->label, e->n_choices - 1, e->n_choices);
        labelled += e->label >= 0;
    }
    if (labelled == 0 && strcmp(ds->split, "test"))
        return error_set(err, STATUS_FORMAT, "the train and dev splits need labels (test files ship without them)",
                         "%s: none of its %d examples has a label, expected labels for the %s split", ds->source, ds->n,
                         ds->split);
    return STATUS_OK;
}

Status task_load(const char *task, const char *data_path, const char *split, McDataset *out, Error *err) {
    mc_dataset_init(out, task);
    const TaskSpec *t = find_task(task);
    if (!t) return error_set(err, STATUS_INVALID, "tasks: " TASK_NAMES, "unknown task '%s'", task);
    int s = split_index(split);
    if (s < 0)
        return error_set(err, STATUS_INVALID, "splits: train, dev (val, valid, validation), test",
                         "unknown split '%s'", split);
    static const char *const names[3] = { "train", "dev", "test" };
    snprintf(out->split, sizeof out->split, "%s", names[s]);
    Status st;
    if (is_file(data_path)) st = read_one(t, data_path, s, out, err);
    else if (is_dir(data_path)) st = load_from_dir(t, data_path, s, split, out, err);
    else st = error_set(err, STATUS_IO, "check the path", "cannot open %s: no such file or directory", data_path);
    if (!st && out->n == 0)
        st = error_set(err, STATUS_FORMAT, NULL, "%s: expected at least one example for %s", out->source, task);
    if (!st) st = check_labels(out, err);
    if (st) mc_dataset_free(out);   /* nothing half-read reaches the caller */
    return st;
}
