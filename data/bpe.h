/* data/bpe.h — the BPE merge loop shared by every tokenizer, plus UTF-8 helpers.
   defines: BpePairFn, bpe_merge(), utf8_char_len()
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

/* Returns 1 and sets *priority / *merged when the pair (left, right) merges, else 0. */
typedef int (*BpePairFn)(const void *ctx, int left, int right, double *priority, int *merged);

/* Merges ids[0..n) in place; returns the new count. */
int bpe_merge(int *ids, int n, BpePairFn pair, const void *ctx);

/* Length of the UTF-8 sequence starting at s[0] (1..4) as llama2.c groups it: a lead byte plus
   the continuation bytes (10xxxxxx) that follow, at most 4 bytes, never past len. */
size_t utf8_char_len(const char *s, size_t len);

#endif
