/* data/pretok.c — the pre-tokenizer regexes of data/pretok.h as hand-written matchers.
   A code point is in one of four classes: L (\p{L}), N (\p{N}), S (\s) or O (other: none of
   them, also a byte that is not valid UTF-8). The alternatives, tried left to right at s[i]:
   GPT-2:   1 's 't 're 've 'm 'll 'd  (case-sensitive)
            2-4 " ?X+" for X = L, N, O: an optional U+0020 then a run of one class
            5 \s+(?!\S): the whitespace run, minus its last code point when a non-space follows
              (a run of one code point followed by a non-space fails here ...)
            6 \s+: ... and is taken whole
   Llama 3 / Qwen2:
            1 as GPT-2, ASCII case-insensitive
            2 [^\r\n\p{L}\p{N}]?\p{L}+: a letter run, or one code point that is not \r, \n, L
              or N followed by a letter run ("(hello", " hello", "…and")
            3 \p{N}{1,3} (Llama 3) / \p{N} (Qwen2): up to 3 digits / one digit
            4 " ?O+[\r\n]*": optional U+0020, a run of O, then any \r / \n run
            5 \s*[\r\n]+: the whitespace run up to and including its last \r or \n
            6, 7 as GPT-2 5, 6 */
#include "data/pretok.h"
#include "data/unicode.h"
#include <string.h>

enum { C_O, C_L, C_N, C_S };

static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

PretokPattern pretok_pattern_find(const char *re, size_t len) {
    if (len == strlen(RE_GPT2) && !memcmp(re, RE_GPT2, len)) return PRETOK_GPT2_SPLIT;
    if (len == strlen(RE_LLAMA3) && !memcmp(re, RE_LLAMA3, len)) return PRETOK_LLAMA3;
    if (len == strlen(RE_QWEN2) && !memcmp(re, RE_QWEN2, len)) return PRETOK_QWEN2;
    return PRETOK_NONE;
}

const char *pretok_pattern_name(PretokPattern p) {
    switch (p) {
    case PRETOK_GPT2: return "GPT-2 (ByteLevel use_regex)";
    case PRETOK_GPT2_SPLIT: return "GPT-2 (Split)";
    case PRETOK_LLAMA3: return "Llama 3";
    case PRETOK_QWEN2: return "Qwen2";
    default: return "none";
    }
}

typedef struct {
    const char *s;
    size_t len;
    int js_space;      /* \s of JavaScript instead of White_Space */
} Text;

/* Class of the code point at s[i]; *next = the index after it. */
static int cls(const Text *t, size_t i, size_t *next) {
    unsigned char b = (unsigned char)t->s[i];
    if (b < 0x80) {
        *next = i + 1;
        if ((b | 32) >= 'a' && (b | 32) <= 'z') return C_L;
        if (b >= '0' && b <= '9') return C_N;
        return b == ' ' || (b >= '\t' && b <= '\r') ? C_S : C_O;
    }
    uint32_t cp;
    *next = i + utf8_decode(t->s + i, t->len - i, &cp);
    if (uni_is_letter(cp)) return C_L;
    if (uni_is_number(cp)) return C_N;
    return (t->js_space ? uni_is_js_space(cp) : uni_is_space(cp)) ? C_S : C_O;
}

/* End of the run of class c starting at i. */
static size_t run(const Text *t, size_t i, int c) {
    size_t next;
    while (i < t->len && cls(t, i, &next) == c) i = next;
    return i;
}

/* 's 't 're 've 'm 'll 'd at s[i] (ASCII letters folded when fold): the end, or 0. */
static size_t contraction(const Text *t, size_t i, int fold) {
    if (t->s[i] != '\'' || i + 1 >= t->len) return 0;
    char a = t->s[i + 1], b = i + 2 < t->len ? t->s[i + 2] : 0;
    if (fold) a = (char)(a >= 'A' && a <= 'Z' ? a + 32 : a), b = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    return 0;
}

/* \s+(?!\S)|\s+ at the whitespace s[i]; *last_nl = the index after the last \r / \n of the
   run (0 if none). */
static size_t space_run(const Text *t, size_t i, size_t *last_nl) {
    size_t j = i, last = i, next;
    *last_nl = 0;
    while (j < t->len && cls(t, j, &next) == C_S) {
        if (t->s[j] == '\r' || t->s[j] == '\n') *last_nl = j + 1;
        last = j;
        j = next;
    }
    return j == t->len || last == i ? j : last;
}

static size_t next_gpt2(const Text *t, size_t i) {
    size_t e = contraction(t, i, 0), n0, n1, nl;
    if (e) return e;
    int c0 = cls(t, i, &n0);
    if (t->s[i] == ' ' && n0 < t->len) {
        int c1 = cls(t, n0, &n1);
        if (c1 != C_S) return run(t, n1, c1);
    }
    if (c0 != C_S) return run(t, n0, c0);
    return space_run(t, i, &nl);
}

static size_t next_llama3(const Text *t, size_t i, int max_digits) {
    size_t e = contraction(t, i, 1), n0, n1, nl;
    if (e) return e;
    int c0 = cls(t, i, &n0);
    char b = t->s[i];
    if (c0 == C_L) return run(t, n0, C_L);
    if (c0 != C_N && b != '\r' && b != '\n' && n0 < t->len && cls(t, n0, &n1) == C_L)
        return run(t, n1, C_L);
    if (c0 == C_N) {
        size_t j = n0;
        for (int k = 1; k < max_digits && j < t->len && cls(t, j, &n1) == C_N; k++) j = n1;
        return j;
    }
    size_t j = 0;
    if (c0 == C_O) j = run(t, n0, C_O);
    else if (b == ' ' && n0 < t->len && cls(t, n0, &n1) == C_O) j = run(t, n1, C_O);
    if (j) {
        while (j < t->len && (t->s[j] == '\r' || t->s[j] == '\n')) j++;
        return j;
    }
    e = space_run(t, i, &nl);
    return nl ? nl : e;
}

size_t pretok_next(PretokPattern p, const char *s, size_t len, size_t i) {
    Text t = {s, len, p == PRETOK_GPT2};
    if (p == PRETOK_GPT2 || p == PRETOK_GPT2_SPLIT) return next_gpt2(&t, i);
    return next_llama3(&t, i, p == PRETOK_LLAMA3 ? 3 : 1);
}
