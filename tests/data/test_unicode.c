/* tests/data/test_unicode.c — data/unicode.c: UTF-8 decoding, the \p{L} \p{N} \s classes
   (hand-checked code points), and NFC against the Unicode Consortium's own conformance file
   NormalizationTest.txt (Debian unicode-data; skipped when absent): for every line
   c1;c2;c3;c4;c5, NFC(c1) = NFC(c2) = NFC(c3) = c2 and NFC(c4) = NFC(c5) = c4. */
#include "tests/support/suites.h"
#include "data/unicode.h"
#include "tensor/check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_utf8_classes)
{
    uint32_t cp;
    ck_assert_uint_eq(utf8_decode("\xe4\xb8\xad", 3, &cp), 3);
    ck_assert_uint_eq(cp, 0x4E2D);
    ck_assert_uint_eq(utf8_decode("\xe4\xb8", 2, &cp), 1);          /* truncated */
    ck_assert_uint_eq(cp, UNI_BAD + 0xE4);
    ck_assert_uint_eq(utf8_decode("\xc0\x80", 2, &cp), 1);          /* overlong */
    ck_assert_uint_eq(utf8_decode("\xed\xa0\x80", 3, &cp), 1);      /* surrogate */
    ck_assert_uint_eq(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    ck_assert_uint_eq(cp, 0x1F600);
    char buf[4];
    ck_assert_uint_eq(utf8_encode(0x1F600, buf), 4);
    ck_assert(!memcmp(buf, "\xf0\x9f\x98\x80", 4));
    /* letters: Latin, CJK, Hangul, Devanagari letter; not: combining marks, digits, emoji */
    const uint32_t letters[] = {'a', 'Z', 0xE9, 0x4E2D, 0xAC00, 0x0939, 0x05D0, 0x0E01, 0x20000};
    const uint32_t not_letters[] = {'1', ' ', '\'', 0x0301, 0x093F, 0x1F600, 0x2026, 0x3000};
    for (size_t i = 0; i < sizeof letters / sizeof *letters; i++) ck_assert(uni_is_letter(letters[i]));
    for (size_t i = 0; i < sizeof not_letters / sizeof *not_letters; i++)
        ck_assert(!uni_is_letter(not_letters[i]));
    const uint32_t numbers[] = {'0', 0x0661, 0x0966, 0xB2, 0xBD, 0x2160, 0x2460, 0xFF11};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) ck_assert(uni_is_number(numbers[i]));
    ck_assert(!uni_is_number('a') && !uni_is_number(0x4E00));
    /* White_Space vs JavaScript \s: U+0085 and U+FEFF differ */
    ck_assert(uni_is_space(0x85) && !uni_is_js_space(0x85));
    ck_assert(!uni_is_space(0xFEFF) && uni_is_js_space(0xFEFF));
    ck_assert(uni_is_space(0xA0) && uni_is_space(0x3000) && uni_is_space(0x2028));
    ck_assert(!uni_is_space(0x200B) && !uni_is_space(0x1C));
    ck_assert_int_eq(uni_ccc(0x0301), 230);
    ck_assert_int_eq(uni_ccc(0x0323), 220);
    ck_assert_int_eq(uni_ccc('a'), 0);
}
END_TEST

/* "0045 0300" -> UTF-8 */
static size_t hex_field(const char *f, const char *end, char *out) {
    size_t n = 0;
    while (f < end) {
        char *e;
        unsigned long v = strtoul(f, &e, 16);
        if (e == f) break;
        n += utf8_encode((uint32_t)v, out + n);
        f = e;
    }
    return n;
}

static int nfc_is(const char *in, size_t n, const char *want, size_t wn) {
    char *out = xmalloc(3 * n + 8);
    size_t m = uni_nfc(in, n, out);
    int ok = m == wn && !memcmp(out, want, m);
    free(out);
    return ok;
}

START_TEST(test_nfc_conformance)
{
    const char *path = "/usr/share/unicode/NormalizationTest.txt.bz2";
    if (access(path, R_OK) != 0) {
        printf("SKIP test_nfc_conformance: %s is absent (apt-get install unicode-data)\n", path);
        return;
    }
    FILE *f = popen("bzcat /usr/share/unicode/NormalizationTest.txt.bz2", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024], c[5][256];
    size_t len[5];
    int lines = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '@' || line[0] == '\n') continue;
        const char *p = line;
        for (int k = 0; k < 5; k++) {
            const char *semi = strchr(p, ';');
            ck_assert_ptr_nonnull(semi);
            len[k] = hex_field(p, semi, c[k]);
            p = semi + 1;
        }
        lines++;
        for (int k = 0; k < 5; k++) {
            int want = k < 3 ? 1 : 3;
            if (!nfc_is(c[k], len[k], c[want], len[want]) && bad++ < 5)
                printf("NFC mismatch, line %d column %d: %s", lines, k + 1, line);
        }
    }
    pclose(f);
    printf("NFC: %d NormalizationTest lines, %d mismatches\n", lines, bad);
    ck_assert_int_gt(lines, 15000);
    ck_assert_int_eq(bad, 0);
}
END_TEST

Suite *unicode_suite(void) {
    Suite *s = suite_create("unicode");
    TCase *tc = tcase_create("unicode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_utf8_classes);
    tcase_add_test(tc, test_nfc_conformance);
    suite_add_tcase(s, tc);
    return s;
}
