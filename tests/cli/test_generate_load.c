/* tests/cli/test_generate_load.c — `./train generate` reports the Load of what it decoded.
   Independent fact: `./train route` runs a full (non-cached) forward over a sequence and prints
   every token's true experts per layer; generation decodes the prompt and every generated token
   but the last, so generate's "load" must equal the mean of route's figures over exactly that
   sequence. A dense model has no "load" key. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "cli/generate.h"
#include "cli/make_tiny.h"
#include "cli/route.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parse(JsonDoc *doc, char *out) {
    Error err;
    ck_assert_msg(json_parse(doc, out, strlen(out), "cli output", &err) == STATUS_OK, "%s", err.message);
    free(out);
}

START_TEST(test_generate_load_equals_route)
{
    char *dir = tmp_dir_new(), model[256], adapter[256], ids[256], *out;
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *mk[] = { "make-tiny", "--format", "llama2c", "--vocab", "259", "--dim", "32", "--hidden", "64", "--seq-len", "128",
                   "--seed", "6", "--out", model, "--adapter-out", adapter, "--nonzero-b", "--adapter", "adamoe",
                   "--experts", "4", "--null", "4", "--top-k", "3", NULL };
    ck_assert_int_eq(run_cli_concat(make_tiny_cli, mk, NULL, NULL), 0);
    char *gen[] = { "generate", "--model", model, "--adapter-dir", adapter, "--prompt-ids", "1,5,7,9", "--steps", "7",
                    "--json", NULL };
    ck_assert_int_eq(run_cli_concat(generate_cli, gen, NULL, &out), 0);
    JsonDoc g, r;
    parse(&g, out);
    const JsonValue *gi = json_get(g.root, "ids"), *load = json_get(g.root, "load");
    ck_assert(gi && gi->count == 7 && load && load->type == JSON_NUMBER);
    size_t n = (size_t)snprintf(ids, sizeof ids, "1,5,7,9");
    for (size_t i = 0; i + 1 < gi->count; i++) n += (size_t)snprintf(ids + n, sizeof ids - n, ",%d", (int)gi->items[i].number);
    char *rt[] = { "route", "--model", model, "--adapter-dir", adapter, "--prompt-ids", ids, "--json", NULL };
    ck_assert_int_eq(run_cli_concat(route_cli, rt, NULL, &out), 0);
    parse(&r, out);
    const JsonValue *toks = json_get(r.root, "tokens");
    ck_assert(toks && toks->count == 10);
    double sum = 0;
    int cnt = 0;
    for (size_t i = 0; i < toks->count; i++) {
        const JsonValue *per = json_get(&toks->items[i], "true_experts_per_layer");
        for (size_t l = 0; l < per->count; l++) sum += per->items[l].number, cnt++;
    }
    ck_assert_msg(fabs(load->number - sum / cnt) < 1e-4, "generate load %.6f, route %.6f", load->number, sum / cnt);
    ck_assert(load->number > 0 && load->number < 3);
    json_doc_free(&g), json_doc_free(&r);
    char *dense[] = { "generate", "--model", model, "--prompt-ids", "1,5", "--steps", "2", "--json", NULL };
    ck_assert_int_eq(run_cli_concat(generate_cli, dense, NULL, &out), 0);
    parse(&g, out);
    ck_assert_ptr_null(json_get(g.root, "load"));
    json_doc_free(&g);
    tmp_dir_remove(dir);
}
END_TEST

Suite *generate_load_suite(void) {
    Suite *s = suite_create("generate_load");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_generate_load_equals_route);
    suite_add_tcase(s, tc);
    return s;
}
