/* tests/test_layers.c — the layer rule of README "Layout" (tests/support/layers.sh, `make layers`):
   the real tree passes, and small trees written here with one deliberate breach each fail with a
   line naming the file and line: an include that points the wrong way (nn -> cli), an include
   that does not name its folder, a library file that prints, one that exits. A printf in a
   comment or a string, and a fprintf to a FILE* the caller gives, are not breaches. */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* runs layers.sh on dir; returns its exit status and its stdout in out (malloc'd) */
static int run_layers(const char *dir, char **out) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "./tests/support/layers.sh '%s' 2>&1", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, n = 0;
    *out = calloc(cap, 1);
    while (n + 1 < cap && fgets(*out + n, (int)(cap - n), p)) n += strlen(*out + n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* a tree holding one file `path` with `text`, plus a valid nn/ok.c */
static char *tree_with(const char *path, const char *text) {
    char *dir = fx_dir();
    fx_mkdir(dir, "nn");
    fx_mkdir(dir, "cli");
    free(fx_write(dir, "nn/ok.c", "#include \"nn/ok.h\"\n#include \"tensor/check.h\"\n#include <stdio.h>\n"
                                  "void f(FILE *f) { fprintf(f, \"printf(x)\"); }   /* printf(\"no\") */\n"));
    free(fx_write(dir, path, text));
    return dir;
}

START_TEST(test_real_tree_passes) {
    char *out;
    int rc = run_layers(".", &out);
    ck_assert_msg(rc == 0, "make layers fails on the tree:\n%s", out);
    free(out);
}
END_TEST

static void expect_breach(const char *path, const char *text, const char *want) {
    char *dir = tree_with(path, text), *out;
    int rc = run_layers(dir, &out);
    ck_assert_msg(rc == 1, "exit %d for %s, output:\n%s", rc, path, out);
    ck_assert_msg(strstr(out, want) != NULL, "output lacks '%s':\n%s", want, out);
    ck_assert_msg(!strstr(out, "nn/ok.c"), "a valid file was blamed:\n%s", out);
    free(out);
    fx_rmtree(dir);
}

START_TEST(test_wrong_direction_fails) {
    expect_breach("nn/bad.c", "#include \"nn/ok.h\"\n\n#include \"cli/train.h\"\n",
                  "nn/bad.c:3: #include \"cli/train.h\": nn may not use cli/");
}
END_TEST

START_TEST(test_unnamed_folder_fails) {
    expect_breach("nn/bad.c", "#include \"llama.h\"\n", "nn/bad.c:1: #include \"llama.h\" does not name its folder");
}
END_TEST

START_TEST(test_library_print_fails) {
    expect_breach("nn/bad.c", "int g(int x) {\n    if (x) printf(\"%d\", x);\n    return x;\n}\n", "nn/bad.c:2:");
    expect_breach("nn/bad.c", "void g(void) { fputs(\"a\", stderr); }\n", "nn/bad.c:1:");
}
END_TEST

START_TEST(test_library_exit_fails) {
    expect_breach("nn/bad.c", "/* exit( in a comment is fine */\nvoid g(void) { exit(3); }\n", "nn/bad.c:2:");
}
END_TEST

START_TEST(test_cli_may_print) {
    char *dir = tree_with("cli/ok2.c", "#include \"nn/ok.h\"\n#include <stdio.h>\nvoid g(void) { printf(\"ok\"); }\n"), *out;
    int rc = run_layers(dir, &out);
    ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
    free(out);
    fx_rmtree(dir);
}
END_TEST

Suite *layers_suite(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_real_tree_passes);
    tcase_add_test(tc, test_wrong_direction_fails);
    tcase_add_test(tc, test_unnamed_folder_fails);
    tcase_add_test(tc, test_library_print_fails);
    tcase_add_test(tc, test_library_exit_fails);
    tcase_add_test(tc, test_cli_may_print);
    suite_add_tcase(s, tc);
    return s;
}
