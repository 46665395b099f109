/* data/unicode.c — UTF-8, the regex classes and NFC over the generated tables (data/unicode.h).
   NFC follows UAX #15: full canonical decomposition (Hangul algorithmically, other code points
   from uni_tab_decomp, recursively), canonical ordering of combining marks (a stable sort by
   combining class within each run of non-starters), then canonical composition (a mark joins
   the last starter when no mark of the same or higher class stands between them, Hangul LV /
   LVT algorithmically, other pairs from uni_tab_comp), chunk by chunk (see uni_nfc). */
#include "data/unicode.h"
#include "data/unicode_tables.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

size_t utf8_decode(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0];
    size_t n = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (n == 1) return *cp = c, 1;
    if (n == 0 || n > len) return *cp = UNI_BAD + c, 1;
    uint32_t v = c & (0xFFu >> (n + 1));
    for (size_t k = 1; k < n; k++) {
        if ((u[k] & 0xC0) != 0x80) return *cp = UNI_BAD + c, 1;
        v = (v << 6) | (u[k] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return *cp = UNI_BAD + c, 1;
    *cp = v;
    return n;
}

size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80 || cp >= UNI_BAD) return out[0] = (char)(cp < 0x80 ? cp : cp - UNI_BAD), 1;
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)), out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)), out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Index of the row of a sorted table (row width w, key in column 0 and, for ranges, an
   inclusive upper bound in column 1) that holds cp, or -1. */
static int find_row(const uint32_t *t, int n, int w, int range, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const uint32_t *r = t + (size_t)mid * w;
        if (cp < r[0]) hi = mid - 1;
        else if (cp > (range ? r[1] : r[0])) lo = mid + 1;
        else return mid;
    }
    return -1;
}

int uni_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 32) >= 'a' && (cp | 32) <= 'z';
    return find_row(uni_tab_letter, uni_tab_letter_n, 2, 1, cp) >= 0;
}

int uni_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return find_row(uni_tab_number, uni_tab_number_n, 2, 1, cp) >= 0;
}

int uni_is_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
    return find_row(uni_tab_space, uni_tab_space_n, 2, 1, cp) >= 0;
}

int uni_is_js_space(uint32_t cp) {
    return cp == 0xFEFF || (cp != 0x85 && uni_is_space(cp));
}

int uni_ccc(uint32_t cp) {
    if (cp < 0x300) return 0;
    int r = find_row(uni_tab_ccc, uni_tab_ccc_n, 3, 1, cp);
    return r < 0 ? 0 : (int)uni_tab_ccc[3 * r + 2];
}

enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7,
       L_COUNT = 19, V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT,
       S_COUNT = L_COUNT * N_COUNT };

/* Appends the full canonical decomposition of cp to out; returns the new count. */
static size_t decompose(uint32_t cp, uint32_t *out, size_t n) {
    if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
        uint32_t s = cp - S_BASE, t = s % T_COUNT;
        out[n++] = L_BASE + s / N_COUNT;
        out[n++] = V_BASE + (s % N_COUNT) / T_COUNT;
        if (t) out[n++] = T_BASE + t;
        return n;
    }
    int r = cp < 0xC0 ? -1 : find_row(uni_tab_decomp, uni_tab_decomp_n, 3, 0, cp);
    if (r < 0) {
        out[n++] = cp;
        return n;
    }
    n = decompose(uni_tab_decomp[3 * r + 1], out, n);
    return uni_tab_decomp[3 * r + 2] ? decompose(uni_tab_decomp[3 * r + 2], out, n) : n;
}

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
        b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = uni_tab_comp_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const uint32_t *r = uni_tab_comp + 3 * mid;
        if (a < r[0] || (a == r[0] && b < r[1])) hi = mid - 1;
        else if (a > r[0] || b > r[1]) lo = mid + 1;
        else return r[2];
    }
    return 0;
}

/* Stable sort of every run of non-starters by combining class (insertion sort: runs are short). */
static void reorder(uint32_t *c, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int k = uni_ccc(c[i]);
        if (k == 0) continue;
        uint32_t v = c[i];
        size_t j = i;
        while (j > 0 && uni_ccc(c[j - 1]) > k) c[j] = c[j - 1], j--;
        c[j] = v;
    }
}

/* Canonical composition in place; returns the new count. */
static size_t recompose(uint32_t *c, size_t n) {
    if (n == 0) return 0;
    size_t starter = 0, out = 1;
    int last = uni_ccc(c[0]);
    if (last != 0) last = 256;     /* a leading mark blocks everything after it */
    for (size_t i = 1; i < n; i++) {
        int k = uni_ccc(c[i]);
        uint32_t comp = compose(c[starter], c[i]);
        if (comp && (last < k || last == 0)) {
            c[starter] = comp;
            continue;
        }
        if (k == 0) starter = out;
        last = k;
        c[out++] = c[i];
    }
    return out;
}

/* NFC of one chunk s[0..len) (it starts at a starter) into out; c is scratch of 4 * len + 4. */
static size_t nfc_chunk(const char *s, size_t len, char *out, uint32_t *c) {
    size_t n = 0, o = 0;
    for (size_t k = 0; k < len;) {
        uint32_t cp;
        k += utf8_decode(s + k, len - k, &cp);
        n = decompose(cp, c, n);
    }
    reorder(c, n);
    n = recompose(c, n);
    for (size_t k = 0; k < n; k++) o += utf8_encode(c[k], out + o);
    return o;
}

/* Code points below U+0300 (lead bytes below 0xCC) are NFC, never reorder and are never the
   second of a composition: the text is copied up to the one before a code point >= U+0300,
   and from there to the next code point below U+0300 goes through the full algorithm. */
size_t uni_nfc(const char *s, size_t len, char *out) {
    size_t i = 0, o = 0, cap = 0;
    uint32_t *c = NULL;
    while (i < len) {
        size_t j = i, k, e;
        while (j < len && (unsigned char)s[j] < 0xCC) j++;
        if (j == len) {
            memcpy(out + o, s + i, len - i);
            o += len - i;
            break;
        }
        k = j;                   /* the code point before s[j] may compose with what follows */
        if (k > i)
            for (k--; k > i && ((unsigned char)s[k] & 0xC0) == 0x80; k--) {}
        memcpy(out + o, s + i, k - i);
        o += k - i;
        for (e = j; e < len && (unsigned char)s[e] >= 0xCC;) {
            uint32_t cp;
            e += utf8_decode(s + e, len - e, &cp);
        }
        if (4 * (e - k) + 4 > cap) {
            cap = 8 * (e - k) + 64;
            c = xrealloc(c, cap * sizeof *c);
        }
        o += nfc_chunk(s + k, e - k, out + o, c);
        i = e;
    }
    free(c);
    return o;
}
