/* tests/cli/test_route.c — `./train route` in-process (stdout captured): the JSON per-token counts
   of adapters whose counts are known without running a router (Mo-LoRA top-2: every routed
   module uses exactly 2 true experts; stochastic routing at evaluation: all n true experts;
   dense: all n), the shape of the output, and the exit status of bad input. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "cli/route.h"
#include "data/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* writes a tiny base model + adapter; returns the tmp dir (model.bin, adapter/) */
static char *write_case(const AdapterConfig *acfg) {
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    tiny_model(&m, &c, acfg, 9, 0.1);
    char *dir = tmp_dir_new(), path[256];
    Error err;
    snprintf(path, sizeof path, "%s/model.bin", dir);
    ck_assert_int_eq(llama2c_write(&m, path, 1, &err), STATUS_OK);
    snprintf(path, sizeof path, "%s/adapter", dir);
    ck_assert_msg(adapter_save(&m, path, NULL, &err) == STATUS_OK, "%s", err.message);
    llama_free(&m);
    return dir;
}

static void check_counts(MoeRouting routing, int n, int k, int want) {
    AdapterConfig acfg = { .kind = ADAPTER_MOLORA, .targets = LORA_TARGET_Q | LORA_TARGET_V | LORA_TARGET_UP, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = n; acfg.top_k = k; acfg.routing = routing;
    char *dir = write_case(&acfg), model[256], adapter[256];
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    char *argv[] = { "route", "--model", model, "--adapter-dir", adapter, "--prompt-ids", "1,5,7,9,3", "--json", NULL };
    char *out;
    ck_assert_int_eq(run_cli_captured(route_cli, argv, &out), 0);
    JsonDoc doc;
    Error err;
    ck_assert_msg(json_parse(&doc, out, strlen(out), "route --json", &err) == STATUS_OK, "%s", err.message);
    const JsonValue *toks = json_get(doc.root, "tokens"), *mods = json_get(doc.root, "modules");
    ck_assert(toks && toks->type == JSON_ARRAY && toks->count == 5);
    ck_assert(mods && mods->count == 3);
    for (size_t i = 0; i < toks->count; i++) {
        const JsonValue *te = json_get(&toks->items[i], "true_experts");
        ck_assert(te && te->count == 2);   /* tiny model: 2 layers */
        for (size_t l = 0; l < te->count; l++) {
            ck_assert_int_eq((int)te->items[l].count, 3);
            for (size_t j = 0; j < 3; j++) ck_assert_int_eq((int)te->items[l].items[j].number, want);
        }
    }
    json_doc_free(&doc);
    free(out);
    char *bad[] = { "route", "--model", model, "--adapter-dir", adapter, "--prompt-ids", "1,x", NULL };
    ck_assert_int_eq(run_cli_captured(route_cli, bad, &out), 1);
    free(out);
    char *none[] = { "route", "--model", model, "--adapter-dir", adapter, NULL };
    ck_assert_int_eq(run_cli_captured(route_cli, none, &out), 1);
    free(out);
    free(dir);
}

START_TEST(test_route_json_topk) { check_counts(MOE_ROUTING_TOPK, 3, 2, 2); }
END_TEST
START_TEST(test_route_json_stochastic_eval) { check_counts(MOE_ROUTING_STOCHASTIC, 3, 1, 3); }
END_TEST
START_TEST(test_route_json_dense) { check_counts(MOE_ROUTING_DENSE, 4, 1, 4); }
END_TEST

Suite *route_cli_suite(void) {
    Suite *s = suite_create("route_cli");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_route_json_topk);
    tcase_add_test(tc, test_route_json_stochastic_eval);
    tcase_add_test(tc, test_route_json_dense);
    suite_add_tcase(s, tc);
    return s;
}
