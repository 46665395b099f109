/* data/bpe.h — the BPE merge loop shared by every tokenizer, plus UTF-8 helpers.
   defines: BpePairFn, bpe_merge(), utf8_char_len(), BpeCache, bpe_cache_*()
   bpe_merge repeatedly merges the adjacent pair with the HIGHEST priority, the leftmost one on
   ties, until no adjacent pair merges — exactly the result of llama2.c's quadratic loop (scan
   all pairs, take the strictly best score, leftmost first) and of HF's rank-ordered merging
   (priority = -rank). Implementation: a doubly linked list of symbols and a binary max-heap of
   candidate pairs keyed by (priority, left position); entries made stale by a merge are
   detected on pop (a symbol's id only changes by growing, so comparing the stored ids is
   enough). O(n log n) for n initial symbols. */
#ifndef BPE_H
#define BPE_H
#include <stddef.h>
#include "data/strmap.h"

/* Returns 1 and sets *priority / *merged when the pair (left, right) merges, else 0. */
typedef int (*BpePairFn)(const void *ctx, int left, int right, double *priority, int *merged);

/* Merges ids[0..n) in place; returns the new count. */
int bpe_merge(int *ids, int n, BpePairFn pair, const void *ctx);

/* Length of the UTF-8 sequence starting at s[0] (1..4) as llama2.c groups it: a lead byte plus
   the continuation bytes (10xxxxxx) that follow, at most 4 bytes, never past len. */
size_t utf8_char_len(const char *s, size_t len);

/* The ids of words already merged (one encode call: texts repeat their words). Words of at
   most BPE_CACHE_MAX_WORD bytes are kept, up to BPE_CACHE_MAX_ENTRIES of them. */
#define BPE_CACHE_MAX_WORD 48
#define BPE_CACHE_MAX_ENTRIES 65536
typedef struct {
    StrMap map;          /* word -> offset in ids (ids[offset] = count, then the ids) */
    char *keys;          /* word bytes, BPE_CACHE_MAX_ENTRIES * BPE_CACHE_MAX_WORD at most */
    size_t keys_used;
    int *ids;
    size_t n_ids, cap_ids;
} BpeCache;

void bpe_cache_init(BpeCache *c);
void bpe_cache_free(BpeCache *c);
/* The cached ids of w[0..len) (*n of them), or NULL (also for a zeroed, uninitialised cache). */
const int *bpe_cache_get(const BpeCache *c, const char *w, size_t len, int *n);
/* Remembers ids[0..n) for w[0..len) (ignored when the word is too long or the cache full). */
void bpe_cache_put(BpeCache *c, const char *w, size_t len, const int *ids, int n);

#endif
