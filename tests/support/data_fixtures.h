/* tests/support/data_fixtures.h — temp directories and files for the data-layer tests, and a loader
   that expects success or an error message containing given fragments. */
#ifndef DATA_FIXTURES_H
#define DATA_FIXTURES_H
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data/task.h"

#define REAL_DATA "../shared/data"

/* A fresh temp directory (malloc'ed path). */
static inline char *fx_dir(void) {
    char *d = malloc(64);
    snprintf(d, 64, "/tmp/moetrain_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

/* Writes text to DIR/NAME (subdirectories must exist); returns the malloc'ed path. */
static inline char *fx_write(const char *dir, const char *name, const char *text) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return p;
}

static inline void fx_mkdir(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

/* Removes a directory tree created by the tests. */
static inline void fx_rmtree_path(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = malloc(strlen(dir) + strlen(e->d_name) + 2);
        sprintf(p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0) fx_rmtree_path(p);
        free(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

static inline void fx_rmtree(char *dir) {
    fx_rmtree_path(dir);
    free(dir);
}

/* task_load that must succeed */
static inline void fx_load(const char *task, const char *path, const char *split, McDataset *ds) {
    Error err = { 0 };
    Status st = task_load(task, path, split, ds, &err);
    ck_assert_msg(st == STATUS_OK, "%s %s %s: %s", task, path, split, err.message);
}

/* task_load that must fail with `want` and a message containing frag1 and frag2 (or NULL) */
static inline void fx_load_fails(const char *task, const char *path, const char *split, Status want,
                                 const char *frag1, const char *frag2) {
    McDataset ds;
    Error err = { 0 };
    Status st = task_load(task, path, split, &ds, &err);
    ck_assert_msg(st == want, "%s %s: status %d, expected %d (%s)", task, path, (int)st, (int)want, err.message);
    ck_assert_msg(!frag1 || strstr(err.message, frag1), "message '%s' lacks '%s'", err.message, frag1);
    ck_assert_msg(!frag2 || strstr(err.message, frag2), "message '%s' lacks '%s'", err.message, frag2);
    mc_dataset_free(&ds);
}

#endif
