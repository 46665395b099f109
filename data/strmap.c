/* data/strmap.c — FNV-1a string map and splitmix64 pair map with linear probing (strmap.h). */
#include "data/strmap.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

uint32_t fnv1a(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

void strmap_init(StrMap *m, size_t expected) {
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    m->count = 0;
}

void strmap_free(StrMap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static StrMapSlot *strmap_find(const StrMapSlot *slots, size_t cap, const char *key, size_t len,
                               uint32_t h) {
    size_t i = h & (cap - 1);
    for (;;) {
        const StrMapSlot *s = &slots[i];
        if (!s->used) return (StrMapSlot *)s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return (StrMapSlot *)s;
        i = (i + 1) & (cap - 1);
    }
}

static void strmap_grow(StrMap *m) {
    size_t cap = m->cap * 2;
    StrMapSlot *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].used) continue;
        StrMapSlot *d = strmap_find(slots, cap, m->slots[i].key, m->slots[i].len, m->slots[i].hash);
        *d = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

int strmap_put(StrMap *m, const char *key, size_t len, int value) {
    CHECK(len <= UINT32_MAX, "key too long (%zu bytes)", len);
    if ((m->count + 1) * 2 > m->cap) strmap_grow(m);
    uint32_t h = fnv1a(key, len);
    StrMapSlot *s = strmap_find(m->slots, m->cap, key, len, h);
    if (s->used) return s->value;
    s->used = 1;
    s->key = key;
    s->len = (uint32_t)len;
    s->hash = h;
    s->value = value;
    m->count++;
    return value;
}

int strmap_get(const StrMap *m, const char *key, size_t len) {
    if (!m->slots) return -1;
    const StrMapSlot *s = strmap_find(m->slots, m->cap, key, len, fnv1a(key, len));
    return s->used ? s->value : -1;
}

/* ---- PairMap ---- */

#define PAIR_EMPTY UINT64_MAX

static uint64_t mix64(uint64_t x) {   /* splitmix64 finaliser */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t pair_key(int a, int b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

void pairmap_init(PairMap *m, size_t expected) {
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = xmalloc(m->cap * sizeof *m->slots);
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key = PAIR_EMPTY;
    m->count = 0;
}

void pairmap_free(PairMap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static PairMapSlot *pairmap_find(const PairMapSlot *slots, size_t cap, uint64_t key) {
    size_t i = (size_t)mix64(key) & (cap - 1);
    while (slots[i].key != PAIR_EMPTY && slots[i].key != key) i = (i + 1) & (cap - 1);
    return (PairMapSlot *)&slots[i];
}

static void pairmap_grow(PairMap *m) {
    PairMap g;
    pairmap_init(&g, m->cap);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != PAIR_EMPTY) *pairmap_find(g.slots, g.cap, m->slots[i].key) = m->slots[i];
    g.count = m->count;
    free(m->slots);
    *m = g;
}

int pairmap_put(PairMap *m, int a, int b, int rank, int merged) {
    CHECK(a >= 0 && b >= 0, "negative token id in a merge pair (%d, %d)", a, b);
    if ((m->count + 1) * 2 > m->cap) pairmap_grow(m);
    uint64_t key = pair_key(a, b);
    PairMapSlot *s = pairmap_find(m->slots, m->cap, key);
    if (s->key == key) return 0;
    s->key = key;
    s->rank = rank;
    s->merged = merged;
    m->count++;
    return 1;
}

int pairmap_get(const PairMap *m, int a, int b, int *rank, int *merged) {
    if (!m->slots) return 0;
    uint64_t key = pair_key(a, b);
    const PairMapSlot *s = pairmap_find(m->slots, m->cap, key);
    if (s->key != key) return 0;
    *rank = s->rank;
    *merged = s->merged;
    return 1;
}
