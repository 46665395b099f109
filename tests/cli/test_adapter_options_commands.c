/* tests/cli/test_adapter_options_commands.c — the shared adapter options (cli/adapter_options.h) in the
   commands other than forward-backward's loss (tests/cli/test_adapter_options.c):
   - eval: --routing dense over an adapter directory (and with the flags alone) must route every
     token to every true expert, so Load is exactly n = 4; the directory's own top-3 gives <= 3;
   - --help of train, eval, forward-backward and make-tiny lists every adapter option with the
     same text and default (eval / forward-backward default --adapter to none);
   - adapter directories written by PyTorch (tests/golden, torch_ref.py init-adapter) pass through
     the options (read, then re-validated) and forward-backward still gives torch's loss. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/data_tiny_tok.h"
#include "cli/forward_backward.h"
#include "cli/eval.h"
#include "cli/train.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADAMOE "--adapter", "adamoe", "--experts", "4", "--null", "2", "--top-k", "3"

/* eval --adapter-dir D --routing dense: every true expert of every token, so Load = 4 exactly */
START_TEST(test_eval_routing_override)
{
    char *dir = tmp_dir_new(), model[256], adapter[256], data[256], tok[300];
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    snprintf(data, sizeof data, "%s/dev.jsonl", dir);
    Tokenizer tk;
    char *tpath = tiny_tokenizer(dir, &tk);
    tokenizer_free(&tk);
    snprintf(tok, sizeof tok, "%s", tpath);
    free(tpath);
    FILE *f = fopen(data, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"question\": \"AB\", \"choices\": [\"C\", \"D\"], \"answer\": 0}\n"
          "{\"question\": \"BA\", \"choices\": [\"E\", \"F\"], \"answer\": 1}\n", f);
    fclose(f);
    char *mt[] = { "make-tiny", "--out", model, "--format", "llama2c", "--vocab", "276", "--dim", "32", "--hidden",
                   "48", "--adapter-out", adapter, ADAMOE, "--rank", "4", "--nonzero-b", NULL };
    ck_assert_int_eq(run_cli_concat(make_tiny_cli, mt, NULL, NULL), 0);
    char *ev[] = { "eval", "--model", model, "--tokenizer", tok, "--task", "mc_jsonl", "--data", dir, NULL };
    char *with_dir[] = { "--adapter-dir", adapter, NULL }, *dense[] = { "--adapter-dir", adapter, "--routing", "dense", NULL };
    char *fresh[] = { ADAMOE, "--routing", "dense", NULL };
    char *const *extra[3] = { with_dir, dense, fresh };
    double load[3];
    for (int i = 0; i < 3; i++) {
        char *out;
        ck_assert_int_eq(run_cli_concat(eval_cli, ev, extra[i], &out), 0);
        JsonDoc doc;
        Error err;
        ck_assert_msg(json_parse(&doc, out, strlen(out), "eval", &err) == STATUS_OK, "%s: %s", err.message, out);
        ck_assert_msg(json_get_number(doc.root, "load", &load[i]), "no Load in %s", out);
        json_doc_free(&doc);
        free(out);
    }
    ck_assert_msg(load[0] <= 3 + 1e-9, "top-3 Load %g", load[0]);
    ck_assert_msg(load[1] == 4 && load[2] == 4, "dense Load %g (directory + --routing dense), %g (flags alone)",
                  load[1], load[2]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

/* the line of --NAME in a --help text (up to "(default:" when strip_default) */
static void help_line(const char *help, const char *name, int strip_default, char *buf, size_t n) {
    char key[64];
    snprintf(key, sizeof key, "\n  --%s ", name);
    const char *p = strstr(help, key);
    ck_assert_msg(p != NULL, "--help does not list --%s", name);
    size_t len = strcspn(p + 1, "\n");
    const char *d = strip_default ? strstr(p + 1, "(default:") : NULL;
    if (d && (size_t)(d - (p + 1)) < len) len = (size_t)(d - (p + 1));
    snprintf(buf, n, "%.*s", (int)len, p + 1);
}

START_TEST(test_help_lists_the_same_options)
{
    static const char *const names[] = { "adapter", "experts", "null", "top-k", "normalize", "null-kind", "routing",
                                         "top-p", "entropy-coef", "shared-experts", "aux", "aux-coef", "aux-schedule",
                                         "aux-coef-end", "aux-coefs", "k-baseline", "gate2-init", "upcycle", "rank",
                                         "alpha", "rslora", "dropout", "targets" };
    CliFn fns[4] = { train_cli, eval_cli, forward_backward_cli, make_tiny_cli };
    char *cmds[4] = { "train", "eval", "forward-backward", "make-tiny" }, *help[4];
    for (int i = 0; i < 4; i++) {
        char *argv[] = { cmds[i], "--help", NULL };
        ck_assert_int_eq(run_cli_concat(fns[i], argv, NULL, &help[i]), 0);
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char want[512], got[512];
        int strip = !strcmp(names[k], "adapter");   /* eval / forward-backward default to none */
        help_line(help[0], names[k], strip, want, sizeof want);
        for (int i = 1; i < 4; i++) {
            help_line(help[i], names[k], strip, got, sizeof got);
            ck_assert_msg(!strcmp(got, want), "%s --help:\n%s\ntrain --help:\n%s", cmds[i], got, want);
        }
    }
    for (int i = 0; i < 4; i++) free(help[i]);
}
END_TEST

/* an adapter directory written by PyTorch (tests/golden, torch_ref.py init-adapter): read into the
   options and back, forward-backward still gives torch's loss */
START_TEST(test_torch_written_directory)
{
    static const char *const names[] = { "mixtral_moeffn_m3k3_random", "mixtral_moeffn_m2k3_allsel_identity" };
    for (int i = 0; i < 2; i++) {
        char dir[200], model[260], adapter[260], tokens[260], json[260];
        snprintf(dir, sizeof dir, "tests/golden/%s", names[i]);
        snprintf(model, sizeof model, "%s/model", dir);
        snprintf(adapter, sizeof adapter, "%s/adapter", dir);
        snprintf(tokens, sizeof tokens, "%s/tokens.json", dir);
        snprintf(json, sizeof json, "%s/out.json", dir);
        ck_assert_msg(access(adapter, R_OK) == 0, "missing fixture %s (run from the repo root)", adapter);
        char *argv[] = { "forward-backward", "--model", model, "--adapter-dir", adapter, "--tokens", tokens, NULL };
        char *out;
        ck_assert_int_eq(run_cli_concat(forward_backward_cli, argv, NULL, &out), 0);
        JsonDoc got, ref;
        Error err;
        double lg, lr;
        ck_assert_msg(json_parse(&got, out, strlen(out), "stdout", &err) == STATUS_OK, "%s", err.message);
        ck_assert_msg(json_parse_file(&ref, json, &err) == STATUS_OK, "%s", err.message);
        ck_assert(json_get_number(got.root, "loss", &lg) && json_get_number(ref.root, "loss", &lr));
        ck_assert_msg(fabs(lg - lr) <= 1e-5 * fabs(lr), "%s: loss %.9g, torch %.9g", names[i], lg, lr);
        json_doc_free(&got);
        json_doc_free(&ref);
        free(out);
    }
}
END_TEST

Suite *adapter_options_cli_suite(void) {
    Suite *s = suite_create("adapter_options_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_eval_routing_override);
    tcase_add_test(tc, test_help_lists_the_same_options);
    tcase_add_test(tc, test_torch_written_directory);
    suite_add_tcase(s, tc);
    return s;
}
