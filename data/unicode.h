/* data/unicode.h — the Unicode facts the tokenizers need: UTF-8 decoding, the regex classes
   \p{L}, \p{N} and \s, and NFC normalisation. The property tables are generated
   (data/unicode_tables.c by data/unicode_gen.sh, from Debian's unicode-data package).
   defines: UNI_BAD, utf8_decode, utf8_encode, uni_is_letter, uni_is_number, uni_is_space,
            uni_is_js_space, uni_ccc, uni_nfc
   A byte that does not start a valid UTF-8 sequence decodes to UNI_BAD + byte (length 1): it is
   in no class, never composes, and is written back unchanged. */
#ifndef UNICODE_H
#define UNICODE_H
#include <stddef.h>
#include <stdint.h>

#define UNI_BAD 0x110000u

/* Decodes the code point at s[0..len) (len >= 1) into *cp; returns its length 1..4.
   Overlong forms, surrogates and values > U+10FFFF count as bad bytes. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Writes cp as UTF-8 (a UNI_BAD value as its one byte); returns the length 1..4. */
size_t utf8_encode(uint32_t cp, char *out);

int uni_is_letter(uint32_t cp);    /* General_Category L*: regex \p{L} */
int uni_is_number(uint32_t cp);    /* General_Category N*: regex \p{N} */
int uni_is_space(uint32_t cp);     /* White_Space: \s of Oniguruma / the Rust regex crate */
/* \s of JavaScript regular expressions: White_Space without U+0085, plus U+FEFF. */
int uni_is_js_space(uint32_t cp);
int uni_ccc(uint32_t cp);          /* canonical combining class, 0 for starters */

/* NFC of s[0..len) into out, which must hold 3 * len + 8 bytes (the largest expansion of a
   code point under NFC is 3x in UTF-8); returns the output length. */
size_t uni_nfc(const char *s, size_t len, char *out);

#endif
