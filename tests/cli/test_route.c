/* tests/cli/test_route.c — `./train route` in-process (stdout captured) on tiny models written by
   make-tiny, with facts known without running a router: Mo-LoRA top-2 uses exactly 2 true experts
   in every routed module and its weights sum to 1; stochastic routing at evaluation uses all n true
   experts with weight 1/n; dense routing uses every expert (weights = the softmax, sum 1); a
   Mixtral model's own top-2 router uses 2; the histogram counts every (token, layer, module)
   routing. Also: the JSON keys, --module, expert-choice marked non-causal, the plain grid when
   stdout is not a terminal, the SVG heat map (well-formed, one cell per token and layer), --data
   averaged by token id, and the exit status of bad input. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/xml_check.h"
#include "tests/support/model_fixtures.h"
#include "cli/demo_task.h"
#include "cli/make_tiny.h"
#include "cli/route.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDS "1,5,7,9,3"
#define N_TOK 5

/* dir/model.bin (2 layers, byte vocabulary) + dir/adapter with the given adapter options */
static char *write_case(char *const *adapter_args) {
    char *dir = tmp_dir_new(), model[256], adapter[256];
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *head[] = { "make-tiny", "--format", "llama2c", "--vocab", "259", "--dim", "32", "--hidden", "64", "--seq-len", "128",
                     "--seed", "3", "--out", model, "--adapter-out", adapter, "--nonzero-b", NULL };
    ck_assert_int_eq(run_cli_concat(make_tiny_cli, head, adapter_args, NULL), 0);
    return dir;
}

/* route --json on the case; returns the parsed document */
static void route_json(const char *dir, char *const *extra, JsonDoc *doc) {
    char model[256], adapter[256], *out;
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *head[] = { "route", "--model", model, "--adapter-dir", adapter, "--prompt-ids", IDS, "--json", NULL };
    ck_assert_int_eq(run_cli_concat(route_cli, head, extra, &out), 0);
    Error err;
    ck_assert_msg(json_parse(doc, out, strlen(out), "route --json", &err) == STATUS_OK, "%s", err.message);
    free(out);
}

static void rm_dir(char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

/* every token uses `want` true experts in each layer, its weights of a layer sum to wsum (when
   wsum > 0) and each weight is w1 (when w1 > 0); the histogram has every routing at `want` */
static void check_tokens(const JsonDoc *doc, double want, int n_experts, double wsum, double w1, int routings) {
    const JsonValue *toks = json_get(doc->root, "tokens"), *hist = json_get(doc->root, "count_histogram");
    ck_assert(toks && toks->type == JSON_ARRAY && toks->count == N_TOK);
    for (size_t i = 0; i < toks->count; i++) {
        const JsonValue *t = &toks->items[i], *te = json_get(t, "true_experts_per_layer");
        const JsonValue *ex = json_get(t, "experts_per_layer"), *w = json_get(t, "weights_per_layer");
        ck_assert(json_get(t, "text") && json_get(t, "id") && te && ex && w && te->count == 2 && w->count == 2);
        for (size_t l = 0; l < 2; l++) {
            ck_assert_double_eq_tol(te->items[l].number, want, 1e-9);
            ck_assert_int_eq((int)ex->items[l].count, n_experts);
            ck_assert_int_eq((int)w->items[l].count, n_experts);
            double s = 0;
            for (size_t e = 0; e < w->items[l].count; e++) {
                s += w->items[l].items[e].number;
                if (w1 > 0) ck_assert_double_eq_tol(w->items[l].items[e].number, w1, 1e-6);
            }
            if (wsum > 0) ck_assert_double_eq_tol(s, wsum, 1e-5);
        }
    }
    ck_assert(hist && (int)hist->count > (int)want);
    for (size_t j = 0; j < hist->count; j++)
        ck_assert_double_eq_tol(hist->items[j].number, j == (size_t)want ? routings : 0, 1e-9);
    const JsonValue *load = json_get(doc->root, "load_per_layer");
    ck_assert(load && load->count == 2);
    ck_assert_double_eq_tol(load->items[1].number, want, 1e-9);
}

START_TEST(test_route_molora_top2)
{
    char *args[] = { "--adapter", "molora", "--experts", "3", "--top-k", "2", "--targets", "q,v,up", NULL };
    char *dir = write_case(args);
    JsonDoc doc;
    route_json(dir, NULL, &doc);
    /* the mean over 3 modules: up to 3 distinct experts per layer, weights averaged, sum 1 */
    const JsonValue *toks = json_get(doc.root, "tokens");
    ck_assert(toks && toks->count == N_TOK);
    const JsonValue *mods = json_get(doc.root, "modules");
    ck_assert(mods && mods->type == JSON_OBJECT && mods->count == 3);
    const JsonValue *q = json_get(mods, "q");
    ck_assert(q && json_get(q, "causal")->boolean && json_get(q, "shown")->boolean);
    ck_assert_double_eq_tol(json_get(q, "top_k")->items[0].number, 2, 1e-12);
    json_doc_free(&doc);
    char *one[] = { "--module", "v", NULL };
    route_json(dir, one, &doc);
    check_tokens(&doc, 2, 2, 1.0, 0, N_TOK * 2);   /* one module: exactly its 2 experts */
    ck_assert(!json_get(json_get(json_get(doc.root, "modules"), "q"), "shown")->boolean);
    json_doc_free(&doc);
    rm_dir(dir);
}
END_TEST

START_TEST(test_route_stochastic_and_dense)
{
    char *st[] = { "--adapter", "molora", "--experts", "3", "--top-k", "1", "--routing", "stochastic", "--targets", "q,v", NULL };
    char *dir = write_case(st);
    JsonDoc doc;
    route_json(dir, NULL, &doc);
    check_tokens(&doc, 3, 3, 1.0, 1.0 / 3, N_TOK * 2 * 2);   /* evaluation: all true experts, 1/n each */
    json_doc_free(&doc);
    rm_dir(dir);
    char *dense[] = { "--adapter", "molora", "--experts", "4", "--top-k", "1", "--routing", "dense", "--targets", "k", NULL };
    dir = write_case(dense);
    route_json(dir, NULL, &doc);
    check_tokens(&doc, 4, 4, 1.0, 0, N_TOK * 2);   /* every expert, raw softmax weights */
    json_doc_free(&doc);
    rm_dir(dir);
}
END_TEST

/* AdaMoE m2k2: 0..2 true experts; null experts (ids 2, 3) keep raw p; expert-choice is non-causal */
START_TEST(test_route_adamoe_and_expert_choice)
{
    char *ada[] = { "--adapter", "adamoe", "--experts", "2", "--null", "2", "--top-k", "2", "--targets", "q", NULL };
    char *dir = write_case(ada);
    JsonDoc doc;
    route_json(dir, NULL, &doc);
    const JsonValue *toks = json_get(doc.root, "tokens"), *hist = json_get(doc.root, "count_histogram");
    double total = 0, mean0 = 0;
    for (size_t j = 0; j < hist->count; j++) total += hist->items[j].number;
    ck_assert_double_eq_tol(total, N_TOK * 2, 1e-9);
    for (size_t i = 0; i < toks->count; i++) {
        const JsonValue *t = &toks->items[i];
        double c = json_get(t, "true_experts_per_layer")->items[0].number;
        ck_assert(c == 0 || c == 1 || c == 2);
        mean0 += c / N_TOK;
        const JsonValue *ex = json_get(t, "experts_per_layer")->items, *w = json_get(t, "weights_per_layer")->items;
        ck_assert_int_eq((int)ex->count, 2);
        for (size_t e = 0; e < ex->count; e++) ck_assert(w->items[e].number > 0 && w->items[e].number <= 1);
    }
    ck_assert_double_eq_tol(json_get(doc.root, "load_per_layer")->items[0].number, mean0, 1e-9);
    json_doc_free(&doc);
    rm_dir(dir);
    char *ec[] = { "--adapter", "molora", "--experts", "2", "--top-k", "1", "--routing", "expert-choice", "--targets", "q", NULL };
    dir = write_case(ec);
    route_json(dir, NULL, &doc);
    ck_assert(!json_get(json_get(json_get(doc.root, "modules"), "q"), "causal")->boolean);
    json_doc_free(&doc);
    char model[256], adapter[256], *out;
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *grid[] = { "route", "--model", model, "--adapter-dir", adapter, "--prompt-ids", IDS, NULL };
    ck_assert_int_eq(run_cli_captured(route_cli, grid, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "NOT causal"));
    ck_assert_ptr_nonnull(strstr(out, "Load"));
    ck_assert_ptr_null(strchr(out, '\033'));   /* not a terminal: plain digits */
    free(out);
    rm_dir(dir);
}
END_TEST

START_TEST(test_route_svg_and_data)
{
    char *ada[] = { "--adapter", "adamoe", "--experts", "2", "--null", "2", "--top-k", "2", NULL };
    char *dir = write_case(ada), model[256], adapter[256], svg[256], tok[256], split[256], *out;
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    snprintf(svg, sizeof svg, "%s/r.svg", dir);
    char *args[] = { "route", "--model", model, "--adapter-dir", adapter, "--prompt-ids", IDS, "--svg", svg, NULL };
    ck_assert_int_eq(run_cli_captured(route_cli, args, &out), 0);
    free(out);
    char *text = file_slurp(svg);
    ck_assert_ptr_nonnull(text);
    const char *problem = xml_check(text);
    ck_assert_msg(problem == NULL, "heat map: %s", problem);
    ck_assert_int_eq(text_count(text, "<title>"), N_TOK * 2);   /* one cell per token and layer */
    ck_assert_ptr_nonnull(strstr(text, ">Load<"));
    free(text);
    /* a dataset: the demo task's prompts, averaged by token id */
    Error err;
    snprintf(tok, sizeof tok, "%s/tokenizer.bin", dir);
    snprintf(split, sizeof split, "%s/dev.jsonl", dir);
    ck_assert_int_eq(demo_write_tokenizer(tok, &err), STATUS_OK);
    ck_assert_int_eq(demo_write_split(split, 6, 4, 2, &err), STATUS_OK);
    char *data[] = { "route", "--model", model, "--adapter-dir", adapter, "--tokenizer", tok, "--data", dir, "--task",
                     "mc_jsonl", "--limit", "4", "--json", NULL };
    ck_assert_int_eq(run_cli_captured(route_cli, data, &out), 0);
    JsonDoc doc;
    ck_assert_msg(json_parse(&doc, out, strlen(out), "route --data", &err) == STATUS_OK, "%s", err.message);
    const JsonValue *toks = json_get(doc.root, "tokens");
    long long seen = 0, occ;
    for (size_t i = 0; i < toks->count; i++) {
        ck_assert(json_get_int(&toks->items[i], "occurrences", &occ) && occ >= 1);
        for (size_t j = 0; j < i; j++)   /* one entry per id */
            ck_assert(json_get(&toks->items[j], "id")->number != json_get(&toks->items[i], "id")->number);
        seen += occ;
    }
    ck_assert(seen > 4 * 10);   /* 4 prompts of a few dozen tokens */
    json_doc_free(&doc);
    free(out);
    char *listing[] = { "route", "--model", model, "--adapter-dir", adapter, "--tokenizer", tok, "--data", dir, "--task",
                        "mc_jsonl", "--limit", "4", "--top", "3", NULL };
    ck_assert_int_eq(run_cli_captured(route_cli, listing, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "the most true experts"));
    ck_assert_ptr_nonnull(strstr(out, "the fewest"));
    free(out);
    rm_dir(dir);
}
END_TEST

/* a Mixtral model's own top-2 router, no adapter: 2 true experts everywhere, module "ffn" */
START_TEST(test_route_mixtral)
{
    char *dir = tmp_dir_new(), model[256];
    snprintf(model, sizeof model, "%s/mix", dir);
    char *mk[] = { "make-tiny", "--arch", "mixtral", "--format", "hf", "--model-experts", "4", "--model-top-k", "2",
                   "--dim", "32", "--hidden", "64", "--vocab", "64", "--out", model, "--adapter", "none", NULL };
    ck_assert_int_eq(run_cli_concat(make_tiny_cli, mk, NULL, NULL), 0);
    char *r[] = { "route", "--model", model, "--prompt-ids", IDS, "--json", NULL }, *out;
    ck_assert_int_eq(run_cli_captured(route_cli, r, &out), 0);
    JsonDoc doc;
    Error err;
    ck_assert_msg(json_parse(&doc, out, strlen(out), "route", &err) == STATUS_OK, "%s", err.message);
    ck_assert_ptr_nonnull(json_get(json_get(doc.root, "modules"), "ffn"));
    check_tokens(&doc, 2, 2, 1.0, 0, N_TOK * 2);
    json_doc_free(&doc);
    free(out);
    rm_dir(dir);
}
END_TEST

START_TEST(test_route_bad_input)
{
    char *lora[] = { "--adapter", "lora", NULL };
    char *dir = write_case(lora), model[256], adapter[256];
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *head[] = { "route", "--model", model, "--adapter-dir", adapter, NULL };
    char *ids[] = { "--prompt-ids", IDS, NULL }, *bad_id[] = { "--prompt-ids", "1,x", NULL };
    char *big[] = { "--prompt-ids", "1,9999", NULL }, *none[] = { NULL };
    char *module[] = { "--prompt-ids", IDS, "--module", "wq", NULL }, *both[] = { "--prompt-ids", IDS, "--json", "--svg", "x.svg", NULL };
    char *notask[] = { "--data", dir, "--tokenizer", model, NULL };
    run_cli_expect_error(route_cli, head, ids, "no routers");
    run_cli_expect_error(route_cli, head, none, "exactly one of");
    run_cli_expect_error(route_cli, head, module, "--module");
    run_cli_expect_error(route_cli, head, both, "one of --json and --svg");
    run_cli_expect_error(route_cli, head, notask, "--task");
    rm_dir(dir);
    char *ada[] = { "--adapter", "adamoe", "--targets", "q", NULL };
    dir = write_case(ada);
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *down[] = { "--prompt-ids", IDS, "--module", "down", NULL };
    run_cli_expect_error(route_cli, head, big, "outside the vocabulary");
    run_cli_expect_error(route_cli, head, bad_id, "--prompt-ids");
    run_cli_expect_error(route_cli, head, down, "no router");
    rm_dir(dir);
}
END_TEST

Suite *route_cli_suite(void) {
    Suite *s = suite_create("route_cli");
    TCase *tc = tcase_create("route");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_route_molora_top2);
    tcase_add_test(tc, test_route_stochastic_and_dense);
    tcase_add_test(tc, test_route_adamoe_and_expert_choice);
    tcase_add_test(tc, test_route_svg_and_data);
    tcase_add_test(tc, test_route_mixtral);
    tcase_add_test(tc, test_route_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
