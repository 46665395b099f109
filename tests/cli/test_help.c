/* tests/cli/test_help.c — every subcommand of the library answers --help with its usage on
   stdout and exit 0 (a newcomer's first call), and names its options there. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "cli/tokenize.h"
#include "cli/generate.h"
#include "cli/make_tiny.h"
#include "cli/forward_backward.h"
#include "cli/route.h"
#include "cli/demo.h"
#include "cli/eval.h"
#include "cli/sweep.h"
#include "cli/train.h"
#include "cli/merge_experts.h"
#include "cli/compress_adapter.h"
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; CliFn fn; const char *option; } HelpCase;

static const HelpCase CASES[] = {
    { "demo", demo_run, "--" }, { "train", train_cli, "--model" }, { "eval", eval_cli, "--score" },
    { "sweep", sweep_cli, "--grid" }, { "tokenize", tokenize_cli, "--tokenizer" },
    { "generate", generate_cli, "--prompt" }, { "forward-backward", forward_backward_cli, "--adapter-dir" },
    { "route", route_cli, "--adapter-dir" }, { "make-tiny", make_tiny_cli, "--out" },
    { "merge-experts", merge_experts_cli, "--similarity" }, { "compress-adapter", compress_adapter_cli, "--ternary" },
};

START_TEST(test_every_command_has_help)
{
    const HelpCase *c = &CASES[_i];
    char *argv[] = { (char *)c->name, "--help", NULL }, *out = NULL;
    int rc = run_cli_captured(c->fn, argv, &out);
    ck_assert_msg(rc == 0, "%s --help exits %d", c->name, rc);
    ck_assert_msg(out && strstr(out, "usage") && strstr(out, c->option), "%s --help: no usage naming %s on stdout:\n%s",
                  c->name, c->option, out ? out : "(null)");
    free(out);
}
END_TEST

Suite *cli_help_suite(void) {
    Suite *s = suite_create("cli_help");
    TCase *tc = tcase_create("help");
    tcase_add_loop_test(tc, test_every_command_has_help, 0, (int)(sizeof CASES / sizeof CASES[0]));
    suite_add_tcase(s, tc);
    return s;
}
