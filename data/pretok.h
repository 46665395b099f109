/* data/pretok.h — hand-written matchers for the pre-tokenizer regexes of the real byte-level
   BPE tokenizers (no general regex engine: a tokenizer.json naming any other pattern is refused).
   defines: PretokPattern, pretok_pattern_find, pretok_pattern_name, pretok_next
   Patterns, as written in tokenizer.json (JSON-unescaped):
     PRETOK_GPT2    the built-in regex of the ByteLevel pre-tokenizer (use_regex true):
                    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
                    \s as JavaScript's (the reference implementation, @huggingface/tokenizers,
                    runs it as a JS regex): White_Space without U+0085, plus U+FEFF
     PRETOK_GPT2_SPLIT  the same regex given as a Split pattern (\s = White_Space, below)
     PRETOK_LLAMA3  Split regex of Llama 3:
                    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                     ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+        (one string)
     PRETOK_QWEN2   Split regex of Qwen2 / Qwen2.5 / Qwen3: as Llama 3 with \p{N} for \p{N}{1,3}
                    Split regexes are Oniguruma patterns: \s = White_Space, (?i:...) folds ASCII
                    letters only (as the reference's Oniguruma-to-JS rewrite does).
   Each alternative is matched as a backtracking regex engine would (leftmost alternative that
   matches, greedy quantifiers, then backtracking): see pretok.c. Every code point starts a match
   of each pattern, so splitting a text is repeated pretok_next from 0. */
#ifndef PRETOK_H
#define PRETOK_H
#include <stddef.h>

typedef enum {
    PRETOK_NONE = 0, PRETOK_GPT2, PRETOK_GPT2_SPLIT, PRETOK_LLAMA3, PRETOK_QWEN2
} PretokPattern;

/* The pattern whose tokenizer.json regex source is exactly re[0..len), or PRETOK_NONE. */
PretokPattern pretok_pattern_find(const char *re, size_t len);
const char *pretok_pattern_name(PretokPattern p);

/* End of the match of pattern p that starts at s[i] (i < len); always > i. */
size_t pretok_next(PretokPattern p, const char *s, size_t len, size_t i);

#endif
