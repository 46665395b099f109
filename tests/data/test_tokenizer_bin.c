/* tests/data/test_tokenizer_bin.c — llama2.c tokenizer.bin (data/tokenizer_bin.c): a hand-built tiny
   vocab whose encodings are derived by hand (merge order by SCORE, leftmost on ties, byte
   fallback, dummy prefix, BOS/EOS), decoding, strict load errors; then the staged 32k and 512
   tokenizers against ids from the independent PyTorch oracle (tok_ref_ids.h). */
#include "tests/support/suites.h"
#include "tests/support/tok_fixtures.h"
#include "tests/support/tok_ref_ids.h"
#include <stdint.h>
#include <time.h>

/* ids 0..2 specials, 3..258 "<0xXX>", then these (ids 259..268) */
static const struct { const char *piece; float score; } TINY[] = {
    {" ", -10}, {"a", -1}, {"b", -2}, {"c", -3}, {"ab", 5},
    {"bc", 8}, {" a", 3}, {"abc", 7}, {" abc", 1}, {"cc", 2},
};
enum { SP = 259, A, B, C, AB, BC, SA, ABC, SABC, CC, N_TINY };

static void put_entry(unsigned char *buf, size_t *off, float score, const char *s) {
    int32_t len = (int32_t)strlen(s);
    memcpy(buf + *off, &score, 4);
    memcpy(buf + *off + 4, &len, 4);
    memcpy(buf + *off + 8, s, (size_t)len);
    *off += 8 + (size_t)len;
}

/* The tiny tokenizer.bin in memory (little-endian host); returns its size. */
static size_t build_tiny(unsigned char *buf) {
    int32_t mtl = 6;
    size_t off = 4;
    memcpy(buf, &mtl, 4);
    put_entry(buf, &off, 0, "<unk>");
    put_entry(buf, &off, 0, "\n<s>\n");
    put_entry(buf, &off, 0, "\n</s>\n");
    for (int b = 0; b < 256; b++) {
        char p[8];
        snprintf(p, sizeof p, "<0x%02X>", b);
        put_entry(buf, &off, 0, p);
    }
    for (size_t i = 0; i < sizeof TINY / sizeof TINY[0]; i++)
        put_entry(buf, &off, TINY[i].score, TINY[i].piece);
    return off;
}

static unsigned char tiny_buf[8192];

static char *tiny_file(size_t *size) {
    *size = build_tiny(tiny_buf);
    return tok_write_temp(tiny_buf, *size, ".bin");
}

START_TEST(test_bin_tiny_encode)
{
    size_t size;
    char *path = tiny_file(&size);
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&tk, path, 0, &err), STATUS_OK);
    ck_assert_int_eq(tk.kind, TOKENIZER_LLAMA2C);
    ck_assert_int_eq(tk.vocab_size, N_TINY);
    ck_assert_int_eq(tk.bos_id, 1);
    ck_assert_int_eq(tk.eos_id, 2);
    /* " abc": bc(8) first, then a+bc = abc(7), then " "+abc = " abc"(1). Rank-order or
       left-to-right merging would take " a" or "ab" first and end elsewhere. */
    TOK_EXPECT(&tk, "abc", 0, 0, SABC);
    TOK_EXPECT(&tk, "abc", 1, 1, 1, SABC, 2);
    TOK_EXPECT(&tk, "ab", 0, 0, SP, AB);            /* ab(5) beats " a"(3); " ab" absent */
    TOK_EXPECT(&tk, "ccc", 0, 0, SP, CC, C);        /* tie cc/cc: the leftmost merges */
    TOK_EXPECT(&tk, "c a", 0, 0, SP, C, SA);
    /* é = C3 A9 is not a piece: byte fallback ids 0xC3+3, 0xA9+3 */
    TOK_EXPECT(&tk, "a\xc3\xa9", 0, 0, SA, 0xC3 + 3, 0xA9 + 3);
    TOK_EXPECT(&tk, "", 1, 0, 1);                   /* no dummy prefix for empty text */
    TOK_EXPECT(&tk, "", 1, 1, 1, 2);
    int n = -1, ids[4];
    ck_assert_int_eq(tokenizer_encode(&tk, "", 0, 0, ids, 4, &n, &err), STATUS_OK);
    ck_assert_int_eq(n, 0);
    /* too small an output buffer is an error that reports the size needed */
    ck_assert_int_eq(tokenizer_encode(&tk, "abc", 1, 1, ids, 2, &n, &err), STATUS_INVALID);
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_nonnull(strstr(err.message, "3 ids"));
    ck_assert_int_eq(tokenizer_id(&tk, " abc", 4), SABC);
    tokenizer_free(&tk);
    tok_remove_temp(path);
}
END_TEST

START_TEST(test_bin_tiny_decode)
{
    size_t size;
    char *path = tiny_file(&size);
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load_bin(&tk, path, N_TINY, &err), STATUS_OK);
    const int a[] = {1, SABC, 2}, b[] = {SA, 0xC3 + 3, 0xA9 + 3}, c[] = {SP, C, SA, SP};
    tok_expect_decode(&tk, a, 3, "abc");
    tok_expect_decode(&tk, b, 3, "a\xc3\xa9");
    tok_expect_decode(&tk, c, 4, "c a ");            /* only the first piece drops its space */
    char buf[16];
    ck_assert_str_eq(tokenizer_piece(&tk, 1, SA, buf, sizeof buf), "a");      /* after BOS */
    ck_assert_str_eq(tokenizer_piece(&tk, C, SA, buf, sizeof buf), " a");
    ck_assert_str_eq(tokenizer_piece(&tk, -1, 0xC3 + 3, buf, sizeof buf), "\xc3");
    ck_assert_str_eq(tokenizer_piece(&tk, -1, 1, buf, sizeof buf), "");        /* BOS: no text */
    ck_assert_str_eq(tokenizer_piece(&tk, -1, 99999, buf, sizeof buf), "");
    char small[3];
    ck_assert_uint_eq(tokenizer_decode(&tk, a, 3, small, sizeof small), 3);    /* truncated */
    ck_assert_str_eq(small, "ab");
    tokenizer_free(&tk);
    tok_remove_temp(path);
}
END_TEST

static void expect_load_error(const void *data, size_t n, int hint, Status want, const char *a,
                              const char *b) {
    char *path = tok_write_temp(data, n, ".bin");
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&tk, path, hint, &err), want);
    ck_assert_msg(strstr(err.message, a) && strstr(err.message, b) && strstr(err.message, path),
                  "message \"%s\" should name the file, \"%s\" and \"%s\"", err.message, a, b);
    tok_remove_temp(path);
}

START_TEST(test_bin_load_errors)
{
    size_t size = build_tiny(tiny_buf);
    /* cut inside the last piece (" abc" ends 2 bytes before "cc"'s entry of 10 bytes) */
    expect_load_error(tiny_buf, size - 3, 0, STATUS_FORMAT, "token 268", "byte offset");
    expect_load_error(tiny_buf, size - 3, N_TINY, STATUS_FORMAT, "truncated at token 268", "offset");
    expect_load_error(tiny_buf, size, N_TINY + 1, STATUS_FORMAT, "truncated at token 269",
                      "offset");
    expect_load_error(tiny_buf, size, 100, STATUS_FORMAT, "bytes left after 100 tokens",
                      "vocab_size 100");
    expect_load_error(tiny_buf, 2, 0, STATUS_FORMAT, "truncated header", "4");
    unsigned char copy[8192];
    memcpy(copy, tiny_buf, size);
    int32_t neg = -1, big = 7, zero = 0;
    memcpy(copy + 4 + 4, &neg, 4);            /* token 0's length */
    expect_load_error(copy, size, 0, STATUS_FORMAT, "token 0", "length -1");
    memcpy(copy, tiny_buf, size);
    memcpy(copy + 4 + 4, &big, 4);            /* longer than max_token_length 6 */
    expect_load_error(copy, size, 0, STATUS_FORMAT, "token 0", "max_token_length");
    memcpy(copy, tiny_buf, size);
    memcpy(copy, &zero, 4);
    expect_load_error(copy, size, 0, STATUS_FORMAT, "max_token_length 0", "offset 0");
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&tk, "/nonexistent/tokenizer.bin", 0, &err), STATUS_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/tokenizer.bin"));
}
END_TEST

static void check_real(const char *path, int vocab, const int (*ref)[64], const char *name) {
    if (!tok_file_exists(path, name)) return;
    Tokenizer tk;
    Error err = {0};
    ck_assert_msg(tokenizer_load(&tk, path, vocab, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(tk.vocab_size, vocab);
    for (int t = 0; t < N_REF_TEXTS; t++) {
        tok_expect(&tk, REF_TEXTS[t], 1, 0, ref[t] + 1, ref[t][0]);
        tok_expect_decode(&tk, ref[t] + 1, ref[t][0], REF_TEXTS[t]);   /* round trip */
    }
    tokenizer_free(&tk);
    /* read to EOF without a hint: the same vocab size */
    ck_assert_int_eq(tokenizer_load(&tk, path, 0, &err), STATUS_OK);
    ck_assert_int_eq(tk.vocab_size, vocab);
    tokenizer_free(&tk);
}

START_TEST(test_bin_real_32k) { check_real(TOK32K_PATH, 32000, REF32K, "test_bin_real_32k"); }
END_TEST

START_TEST(test_bin_real_512) { check_real(TOK512_PATH, 512, REF512, "test_bin_real_512"); }
END_TEST

START_TEST(test_bin_speed)
{
    if (!tok_file_exists(TOK32K_PATH, "test_bin_speed")) return;
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&tk, TOK32K_PATH, 32000, &err), STATUS_OK);
    size_t len = 100000;
    char *text = malloc(len + 1);
    static const char unit[] = "Once upon a time, caf\xc3\xa9 12 \n";
    for (size_t i = 0; i < len; i++) text[i] = unit[i % (sizeof unit - 1)];
    text[len] = '\0';
    int *ids = malloc((len + 2) * sizeof *ids), n = 0;
    clock_t t0 = clock();
    ck_assert_int_eq(tokenizer_encode(&tk, text, 1, 0, ids, (int)len + 2, &n, &err), STATUS_OK);
    double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("tokenizer.bin: encoded %zu bytes into %d ids in %.1f ms\n", len, n, sec * 1e3);
    ck_assert_msg(sec < 2.0, "100 KB took %.2f s: the merge loop is not O(n log n)", sec);
    free(ids);
    free(text);
    tokenizer_free(&tk);
}
END_TEST

Suite *tokenizer_suite(void) {
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("bin");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bin_tiny_encode);
    tcase_add_test(tc, test_bin_tiny_decode);
    tcase_add_test(tc, test_bin_load_errors);
    tcase_add_test(tc, test_bin_real_32k);
    tcase_add_test(tc, test_bin_real_512);
    tcase_add_test(tc, test_bin_speed);
    suite_add_tcase(s, tc);
    return s;
}
