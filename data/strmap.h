/* data/strmap.h — open-addressing hash tables for the tokenizers.
   defines: StrMap (byte string -> int, FNV-1a, linear probing), PairMap (pair of ints ->
            (rank, merged id), splitmix64 mixing, linear probing), fnv1a()
   StrMap does not copy keys: the bytes must outlive the map (tokenizers keep their pieces in
   one blob). Inserting an existing key keeps the FIRST value (duplicate vocab pieces: the lower
   id wins). Tables are kept at most half full and grow by doubling. Lookups are O(1) expected. */
#ifndef STRMAP_H
#define STRMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *key;
    uint32_t len;
    uint32_t hash;
    int value;
    int used;
} StrMapSlot;

typedef struct {
    StrMapSlot *slots;
    size_t cap;      /* power of two */
    size_t count;
} StrMap;

uint32_t fnv1a(const char *s, size_t len);
void strmap_init(StrMap *m, size_t expected);
void strmap_free(StrMap *m);
/* Returns the value already stored for key (the map is unchanged), or `value` after inserting. */
int  strmap_put(StrMap *m, const char *key, size_t len, int value);
/* Returns the value for key, or -1 when absent. */
int  strmap_get(const StrMap *m, const char *key, size_t len);

typedef struct {
    uint64_t key;    /* ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; UINT64_MAX = empty */
    int rank;
    int merged;
} PairMapSlot;

typedef struct {
    PairMapSlot *slots;
    size_t cap;
    size_t count;
} PairMap;

void pairmap_init(PairMap *m, size_t expected);
void pairmap_free(PairMap *m);
/* Keeps the first (lowest-rank when inserted in rank order) entry for a pair; returns 1 if
   inserted, 0 if the pair was already present. */
int  pairmap_put(PairMap *m, int a, int b, int rank, int merged);
/* Returns 1 and sets *rank and *merged if (a, b) is present, else 0. */
int  pairmap_get(const PairMap *m, int a, int b, int *rank, int *merged);

#endif
