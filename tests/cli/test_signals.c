/* tests/cli/test_signals.c — a process killed in the middle of an atomic write leaves no temp
   file once cli/signals.c's handlers are installed, and still ends by that signal; without them
   the temp file stays (the control that shows the check can fail). Run in forked children. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "cli/signals.h"
#include "data/atomic_file.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* a child that starts writing dir/out.bin, writes 1 MB, then gets `sig`; its wait status */
static int killed_mid_write(const char *dir, int install, int sig) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(sig, SIG_DFL);   /* not Check's runner handler, which signals the whole group */
        if (install) signals_install();
        char path[256];
        snprintf(path, sizeof path, "%s/out.bin", dir);
        AtomicFile af;
        Error err;
        if (atomic_write_begin(&af, path, &err)) _exit(3);
        static char buf[1 << 20];
        fwrite(buf, 1, sizeof buf, af.f);
        fflush(af.f);
        raise(sig);
        _exit(4);   /* not reached: the signal ends the process */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(test_killed_write_leaves_no_temp_file)
{
    int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
    for (int k = 0; k < 3; k++) {
        char *dir = tmp_dir_new();
        int st = killed_mid_write(dir, 1, sigs[k]);
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), sigs[k]);
        ck_assert_int_eq(dir_count_entries(dir), 0);
        tmp_dir_remove(dir);
    }
    char *dir = tmp_dir_new();
    int st = killed_mid_write(dir, 0, SIGTERM);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    ck_assert_int_eq(dir_count_entries(dir), 1);   /* out.bin.tmp.XXXXXX, and out.bin never appeared */
    tmp_dir_remove(dir);
}
END_TEST

Suite *signals_suite(void) {
    Suite *s = suite_create("signals");
    TCase *tc = tcase_create("cleanup");
    tcase_add_test(tc, test_killed_write_leaves_no_temp_file);
    suite_add_tcase(s, tc);
    return s;
}
