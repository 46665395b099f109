/* data/bpe.c — priority-queue BPE merging over a linked list of symbols (see bpe.h). */
#include "data/bpe.h"
#include "tensor/check.h"
#include <stdlib.h>

typedef struct {
    double priority;
    int left, right;          /* symbol positions (index of the symbol's first initial id) */
    int left_id, right_id;    /* the ids when the entry was pushed (stale check) */
    int merged;
} Cand;

typedef struct {
    Cand *a;
    int n, cap;
} Heap;

/* a before b: higher priority first, then the leftmost pair */
static int cand_before(const Cand *a, const Cand *b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    return a->left < b->left;
}

static void heap_push(Heap *h, Cand c) {
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->a = xrealloc(h->a, (size_t)h->cap * sizeof *h->a);
    }
    int i = h->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_before(&c, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = c;
}

static Cand heap_pop(Heap *h) {
    Cand top = h->a[0], last = h->a[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        const Cand *best = &last;
        if (l < h->n && cand_before(&h->a[l], best)) { m = l; best = &h->a[l]; }
        if (r < h->n && cand_before(&h->a[r], best)) { m = r; }
        if (m == i) break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n > 0) h->a[i] = last;
    return top;
}

static void try_push(Heap *h, const int *ids, int l, int r, BpePairFn pair, const void *ctx) {
    Cand c;
    if (l < 0 || r < 0 || !pair(ctx, ids[l], ids[r], &c.priority, &c.merged)) return;
    c.left = l;
    c.right = r;
    c.left_id = ids[l];
    c.right_id = ids[r];
    heap_push(h, c);
}

int bpe_merge(int *ids, int n, BpePairFn pair, const void *ctx) {
    if (n < 2) return n;
    int *next = xmalloc((size_t)n * sizeof *next), *prev = xmalloc((size_t)n * sizeof *prev);
    char *alive = xmalloc((size_t)n);
    for (int i = 0; i < n; i++) {
        next[i] = i + 1 < n ? i + 1 : -1;
        prev[i] = i - 1;
        alive[i] = 1;
    }
    Heap h = {0};
    for (int i = 0; i + 1 < n; i++) try_push(&h, ids, i, i + 1, pair, ctx);
    while (h.n > 0) {
        Cand c = heap_pop(&h);
        if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
            ids[c.left] != c.left_id || ids[c.right] != c.right_id)
            continue;                                   /* stale */
        ids[c.left] = c.merged;
        alive[c.right] = 0;
        next[c.left] = next[c.right];
        if (next[c.right] >= 0) prev[next[c.right]] = c.left;
        try_push(&h, ids, prev[c.left], c.left, pair, ctx);
        try_push(&h, ids, c.left, next[c.left], pair, ctx);
    }
    int m = 0;
    for (int i = 0; i >= 0; i = next[i]) ids[m++] = ids[i];
    free(h.a);
    free(next);
    free(prev);
    free(alive);
    return m;
}

size_t utf8_char_len(const char *s, size_t len) {
    size_t j = 1;
    while (j < len && j < 4 && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
    return j;
}
