/* tests/data/test_file_read.c — data/file_read.c: the bytes of a file written here (binary, NUL
   bytes included, several times the first 64 KiB buffer), an empty file, and the two failures
   naming the path and the reason (a missing file: ENOENT; a directory: fopen succeeds, the read
   fails with EISDIR). */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"
#include "data/file_read.h"
#include <errno.h>

START_TEST(test_file_read_bytes)
{
    char *d = fx_dir(), path[128];
    snprintf(path, sizeof path, "%s/blob.bin", d);
    enum { N = 200003 };                       /* > 3 buffer doublings from 64 KiB, not a power of 2 */
    unsigned char *want = malloc(N);
    for (int i = 0; i < N; i++) want[i] = (unsigned char)((i * 131u + 7u) >> 3);   /* 0x00 included */
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(want, 1, N, f), N);
    fclose(f);
    char *got = NULL;
    size_t len = 0;
    Error err;
    ck_assert_int_eq(file_read_all(path, &got, &len, &err), STATUS_OK);
    ck_assert_uint_eq(len, N);
    ck_assert(memcmp(got, want, N) == 0);
    ck_assert_int_eq(got[N], '\0');
    free(got);
    free(want);
    char *empty = fx_write(d, "empty.txt", "");
    ck_assert_int_eq(file_read_all(empty, &got, &len, &err), STATUS_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(got[0], '\0');
    free(got);
    free(empty);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_file_read_errors)
{
    char *d = fx_dir(), path[128], want[256];
    snprintf(path, sizeof path, "%s/missing.json", d);
    char *got = NULL;
    size_t len = 0;
    Error err;
    ck_assert_int_eq(file_read_all(path, &got, &len, &err), STATUS_IO);
    snprintf(want, sizeof want, "cannot open %s: %s", path, strerror(ENOENT));
    ck_assert_str_eq(err.message, want);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(file_read_all(d, &got, &len, &err), STATUS_IO);   /* a directory */
    snprintf(want, sizeof want, "cannot read %s after 0 bytes: %s", d, strerror(EISDIR));
    ck_assert_str_eq(err.message, want);
    ck_assert_ptr_null(got);
    fx_rmtree(d);
}
END_TEST

Suite *data_file_read_suite(void) {
    Suite *s = suite_create("data_file_read");
    TCase *tc = tcase_create("file_read");
    tcase_add_test(tc, test_file_read_bytes);
    tcase_add_test(tc, test_file_read_errors);
    suite_add_tcase(s, tc);
    return s;
}
