/* data/bpe.c — priority-queue BPE merging over a linked list of symbols (see bpe.h). */
#include "data/bpe.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

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

void bpe_cache_init(BpeCache *c) {
    memset(c, 0, sizeof *c);
    strmap_init(&c->map, 1024);
    c->keys = xmalloc((size_t)BPE_CACHE_MAX_ENTRIES * BPE_CACHE_MAX_WORD);   /* never moves */
}

void bpe_cache_free(BpeCache *c) {
    strmap_free(&c->map);
    free(c->keys);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

const int *bpe_cache_get(const BpeCache *c, const char *w, size_t len, int *n) {
    if (!c->keys || len > BPE_CACHE_MAX_WORD) return NULL;
    int off = strmap_get(&c->map, w, len);
    if (off < 0) return NULL;
    *n = c->ids[off];
    return c->ids + off + 1;
}

void bpe_cache_put(BpeCache *c, const char *w, size_t len, const int *ids, int n) {
    if (!c->keys || len > BPE_CACHE_MAX_WORD || c->map.count >= BPE_CACHE_MAX_ENTRIES) return;
    if (c->n_ids + (size_t)n + 1 > c->cap_ids) {
        c->cap_ids = 2 * (c->n_ids + (size_t)n + 1) + 256;
        c->ids = xrealloc(c->ids, c->cap_ids * sizeof *c->ids);
    }
    char *key = c->keys + c->keys_used;
    memcpy(key, w, len);
    c->keys_used += len;
    int off = (int)c->n_ids;
    c->ids[c->n_ids++] = n;
    memcpy(c->ids + c->n_ids, ids, (size_t)n * sizeof *ids);
    c->n_ids += (size_t)n;
    strmap_put(&c->map, key, len, off);
}
