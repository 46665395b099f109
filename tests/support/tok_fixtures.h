/* tests/support/tok_fixtures.h — helpers shared by the tokenizer tests: temp files, an encode wrapper,
   and reference ids for the staged real tokenizers (tok_ref_ids.h). */
#ifndef TOK_FIXTURES_H
#define TOK_FIXTURES_H
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/tokenizer.h"

#define TOK32K_PATH "../shared/data/models/tokenizer.bin"
#define TOK512_PATH "../shared/data/models/tok512.bin"

/* Writes data[0..n) to a fresh temp file whose name ends in `suffix`; path is malloc'ed. */
static inline char *tok_write_temp(const void *data, size_t n, const char *suffix) {
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/moetrain_tok_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, data, n), (int)n);
    close(fd);
    return path;
}

static inline void tok_remove_temp(char *path) {
    unlink(path);
    free(path);
}

/* Encodes and checks the ids equal expected[0..n_expected). */
static inline void tok_expect(const Tokenizer *tk, const char *text, int bos, int eos,
                              const int *expected, int n_expected) {
    int ids[256], n = -1;
    Error err = {0};
    Status st = tokenizer_encode(tk, text, bos, eos, ids, 256, &n, &err);
    ck_assert_msg(st == STATUS_OK, "encode \"%s\": %s", text, err.message);
    ck_assert_msg(n == n_expected, "encode \"%s\": %d ids, expected %d", text, n, n_expected);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ids[i] == expected[i], "encode \"%s\": id[%d] = %d, expected %d", text, i,
                      ids[i], expected[i]);
}
#define TOK_EXPECT(tk, text, bos, eos, ...)                                          \
    do {                                                                             \
        const int exp_[] = {__VA_ARGS__};                                            \
        tok_expect(tk, text, bos, eos, exp_, (int)(sizeof exp_ / sizeof exp_[0]));   \
    } while (0)

static inline void tok_expect_decode(const Tokenizer *tk, const int *ids, int n, const char *text) {
    char out[512];
    size_t len = tokenizer_decode(tk, ids, n, out, sizeof out);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_str_eq(out, text);
}

static inline int tok_file_exists(const char *path, const char *test) {
    if (access(path, R_OK) == 0) return 1;
    printf("SKIP %s: %s is absent (tests run from the repo root)\n", test, path);
    return 0;
}

#endif
