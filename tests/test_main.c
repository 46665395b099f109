/* tests/test_main.c — Check runner for every suite (tests/support/suites.h).
   Usage: tests_f32 [SUITE_NAME]. Exit status non-zero if any test fails.
   CK_FORK stays on: a crash in one test fails that test, not the run. */
#include "tests/support/suites.h"
#include "tensor/real.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    SRunner *sr = NULL;
#define ADD_SUITE(fn)                                             \
    if (argc < 2 || strstr(#fn, argv[1]) != NULL) {               \
        if (!sr) sr = srunner_create(fn());                       \
        else srunner_add_suite(sr, fn());                         \
    }
    ALL_SUITES(ADD_SUITE)
#undef ADD_SUITE
    if (!sr) {
        fprintf(stderr, "no suite matches '%s'\n", argv[1]);
        return 2;
    }
    printf("moetrain tests, real = %s\n", sizeof(real) == sizeof(double) ? "double" : "float");
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
