/* tests/cli/test_flags.c — command-line flags and --config files. */
#include "tests/support/suites.h"
#include "cli/flags.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct { int steps; double lr; const char *model; int json; } Opts;

static int make_flags(Flag *f, Opts *o) {
    Flag t[] = {
        { "steps", FLAG_INT, &o->steps, "steps", 0 },
        { "lr", FLAG_DOUBLE, &o->lr, "learning rate", 0 },
        { "model", FLAG_STRING, &o->model, "model path", 0 },
        { "json", FLAG_BOOL, &o->json, "json output", 0 },
    };
    memcpy(f, t, sizeof t);
    return 4;
}

START_TEST(test_parse_values_and_errors)
{
    Opts o = { 10, 1e-3, NULL, 0 };
    Flag f[4];
    int n = make_flags(f, &o), help;
    Error err;
    char *argv[] = { "x", "--steps", "20", "--lr=3e-4", "--json", "--model", "m.bin" };
    ck_assert_int_eq(flags_parse(f, n, 7, argv, 1, &help, &err), STATUS_OK);
    ck_assert_int_eq(o.steps, 20);
    ck_assert_double_eq_tol(o.lr, 3e-4, 1e-15);
    ck_assert_str_eq(o.model, "m.bin");
    ck_assert_int_eq(o.json, 1);
    ck_assert_int_eq(help, 0);
    char *bad1[] = { "x", "--steps", "2x" };
    ck_assert_int_eq(flags_parse(f, n, 3, bad1, 1, &help, &err), STATUS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "--steps expects an integer"));
    char *bad2[] = { "x", "--stepz", "2" };
    ck_assert_int_eq(flags_parse(f, n, 3, bad2, 1, &help, &err), STATUS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "unknown option --stepz"));
    char *bad3[] = { "x", "--lr" };
    ck_assert_int_eq(flags_parse(f, n, 2, bad3, 1, &help, &err), STATUS_INVALID);
    char *h[] = { "x", "--help" };
    ck_assert_int_eq(flags_parse(f, n, 2, h, 1, &help, &err), STATUS_OK);
    ck_assert_int_eq(help, 1);
}
END_TEST

START_TEST(test_config_file_and_precedence)
{
    char path[] = "/tmp/moetrain_flags_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *fp = fdopen(fd, "w");
    fputs("{\"steps\": 7, \"lr\": 0.5, \"model\": \"from_config\", \"json\": true}\n", fp);
    fclose(fp);
    Opts o = { 10, 1e-3, NULL, 0 };
    Flag f[4];
    int n = make_flags(f, &o), help;
    Error err;
    char *argv[] = { "x", "--steps", "3" };
    ck_assert_int_eq(flags_parse(f, n, 3, argv, 1, &help, &err), STATUS_OK);
    ck_assert_int_eq(flags_load_config(f, n, path, &err), STATUS_OK);
    ck_assert_int_eq(o.steps, 3);                 /* command line wins */
    ck_assert(o.lr == 0.5);
    ck_assert_str_eq(o.model, "from_config");
    ck_assert_int_eq(o.json, 1);
    fp = fopen(path, "w");
    fputs("{\"stepz\": 7}", fp);
    fclose(fp);
    ck_assert_int_eq(flags_load_config(f, n, path, &err), STATUS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "stepz"));
    fp = fopen(path, "w");
    fputs("{\"lr\": \"fast\"}", fp);
    fclose(fp);
    ck_assert_int_eq(flags_load_config(f, n, path, &err), STATUS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, ":1:8"));   /* file:line:col of the value */
    remove(path);
}
END_TEST

/* a number given to a string option (a list flag: {"experts": 4}) keeps its text after the call,
   as a string does: loading a second file (which formats its own number) must not change it */
START_TEST(test_config_number_into_string_option)
{
    char p1[] = "/tmp/moetrain_flags_XXXXXX", p2[] = "/tmp/moetrain_flags_XXXXXX";
    int fd1 = mkstemp(p1), fd2 = mkstemp(p2);
    ck_assert(fd1 >= 0 && fd2 >= 0);
    FILE *fp = fdopen(fd1, "w");
    fputs("{\"model\": 12345678}\n", fp);
    fclose(fp);
    fp = fdopen(fd2, "w");
    fputs("{\"lr\": 0.25}\n", fp);
    fclose(fp);
    Opts o = { 10, 1e-3, NULL, 0 };
    Flag f[4];
    int n = make_flags(f, &o);
    Error err;
    ck_assert_int_eq(flags_load_config(f, n, p1, &err), STATUS_OK);
    ck_assert_int_eq(flags_load_config(f, n, p2, &err), STATUS_OK);
    ck_assert(o.lr == 0.25);
    ck_assert_str_eq(o.model, "12345678");
    remove(p1);
    remove(p2);
}
END_TEST

Suite *flags_suite(void) {
    Suite *s = suite_create("flags");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_values_and_errors);
    tcase_add_test(tc, test_config_file_and_precedence);
    tcase_add_test(tc, test_config_number_into_string_option);
    suite_add_tcase(s, tc);
    return s;
}
