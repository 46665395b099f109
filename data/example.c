/* data/example.c — McDataset storage: a chained string pool and a growing example array
   (see example.h). */
#include "data/example.h"
#include "tensor/check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_CHUNK (64 * 1024)

struct McPoolChunk {
    McPoolChunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void mc_dataset_init(McDataset *ds, const char *task) {
    memset(ds, 0, sizeof *ds);
    snprintf(ds->task, sizeof ds->task, "%s", task ? task : "");
    ds->positive_choice = -1;
}

void mc_dataset_free(McDataset *ds) {
    McPoolChunk *c = ds->pool;
    while (c) {
        McPoolChunk *next = c->next;
        free(c);
        c = next;
    }
    free(ds->ex);
    memset(ds, 0, sizeof *ds);
    ds->positive_choice = -1;
}

/* bytes from the pool, aligned to `align` (1 for strings, pointer size for arrays) */
static void *pool_alloc(McDataset *ds, size_t bytes, size_t align) {
    McPoolChunk *c = ds->pool;
    if (c) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off + bytes <= c->size) {
            c->used = off + bytes;
            return c->data + off;
        }
    }
    size_t size = bytes > POOL_CHUNK ? bytes : POOL_CHUNK;
    McPoolChunk *n = xmalloc(sizeof *n + size);
    n->size = size;
    n->used = bytes;
    n->next = ds->pool;
    ds->pool = n;
    return n->data;
}

char *mc_strndup(McDataset *ds, const char *s, size_t n) {
    char *p = pool_alloc(ds, n + 1, 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mc_strdup(McDataset *ds, const char *s) { return mc_strndup(ds, s, strlen(s)); }

McExample *mc_dataset_add(McDataset *ds) {
    if (ds->n == ds->cap) {
        ds->cap = ds->cap ? ds->cap * 2 : 256;
        ds->ex = xrealloc(ds->ex, (size_t)ds->cap * sizeof *ds->ex);
    }
    McExample *e = &ds->ex[ds->n++];
    memset(e, 0, sizeof *e);
    e->label = -1;
    return e;
}

void mc_dataset_set_choices(McDataset *ds, McExample *ex, const char *const *texts, int n) {
    CHECK(n >= 1 && n <= MC_MAX_CHOICES, "%d choices (max %d)", n, MC_MAX_CHOICES);
    ex->choices = pool_alloc(ds, (size_t)n * sizeof(char *), sizeof(char *));
    ex->n_choices = n;
    for (int i = 0; i < n; i++) ex->choices[i] = texts ? mc_strdup(ds, texts[i]) : NULL;
}

void mc_dataset_add_file(McDataset *ds, const char *path) {
    CHECK(ds->n_files < MC_MAX_FILES, "more than %d files for one dataset", MC_MAX_FILES);
    snprintf(ds->files[ds->n_files++], sizeof ds->files[0], "%s", path);
    if (ds->n_files == 1) snprintf(ds->source, sizeof ds->source, "%s", path);
}
