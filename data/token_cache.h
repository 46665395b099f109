/* data/token_cache.h — on-disk cache of a TokenizedSet, keyed by content hashes.
   defines: FNV64_INIT, fnv1a64, hash_file, token_cache_keys, token_cache_save,
            token_cache_load, dataset_tokenize_cached, TOKEN_CACHE_BUILT,
            TOKEN_CACHE_HIT, TOKEN_CACHE_REBUILT
   Keys: tokenizer hash = FNV-1a 64 over the tokenizer file bytes; data hash = FNV-1a 64 over
   the bytes of every dataset file (ds->files, in order), the task name and the prompt config
   (style, instruction, max_len, add_eos, PROMPT_FORMAT_VERSION).
   File (host byte order, written atomically via atomic_file.h):
     "MTTOKCAC" | u32 version (1) | u32 endian tag 0x01020304 | u64 tok hash | u64 data hash |
     i32 n, max_len, bos, eos, n_truncated, letters_ok | i32 letter_ntok[8] |
     i32 letter_tok[8][4] | i32 letter_ids[8] | u64 n_ids | i32 prompt_len[n] |
     i32 answer_len[n] | i32 label[n] | i32 n_choices[n] | i32 ids[n_ids] |
     u64 FNV-1a 64 of every preceding byte
   token_cache_load never trusts a cache: a missing file is STATUS_IO, and a wrong magic /
   version / hash, a bad checksum, a size mismatch or inconsistent lengths are STATUS_FORMAT
   ("stale" or "corrupt" in the message); callers rebuild on any non-OK status. */
#ifndef TOKEN_CACHE_H
#define TOKEN_CACHE_H
#include <stddef.h>
#include <stdint.h>
#include "data/batch.h"

#define FNV64_INIT 0xcbf29ce484222325ull

uint64_t fnv1a64(const void *data, size_t n, uint64_t h);
/* h = fnv1a64(file bytes, h) */
Status hash_file(const char *path, uint64_t *h, Error *err);
Status token_cache_keys(const char *tokenizer_path, const McDataset *ds, const PromptConfig *pc,
                        uint64_t *tok_hash, uint64_t *data_hash, Error *err);
Status token_cache_save(const char *path, uint64_t tok_hash, uint64_t data_hash, const TokenizedSet *ts,
                        Error *err);
/* On success *ts is filled (free with tokenized_set_free); on failure *ts is zeroed. */
Status token_cache_load(const char *path, uint64_t tok_hash, uint64_t data_hash, TokenizedSet *ts,
                        Error *err);

/* Loads cache_path when it is valid for these inputs (and every id < vocab_size), otherwise
   tokenizes and rewrites the cache (a failed write is not an error: the set is still
   returned). *from_cache (may be NULL) tells which happened: TOKEN_CACHE_BUILT (no cache file),
   TOKEN_CACHE_HIT, or TOKEN_CACHE_REBUILT (a file was there but truncated, bit-flipped, stale
   or not for this tokenizer: never used; err->message then says why, for a note).
   cache_path NULL = no cache. */
enum { TOKEN_CACHE_BUILT, TOKEN_CACHE_HIT, TOKEN_CACHE_REBUILT };
Status dataset_tokenize_cached(const McDataset *ds, const Tokenizer *tk, const char *tokenizer_path,
                               const PromptConfig *pc, const char *cache_path, TokenizedSet *out, int *from_cache,
                               Error *err);

#endif
