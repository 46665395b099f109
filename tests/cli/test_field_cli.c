/* tests/cli/test_field_cli.c — `merge-experts` and `compress-adapter` end to end on a tiny model
   (make-tiny, byte vocabulary) and the demo's synthetic task: a Mo-LoRA adapter (3 experts, top-2)
   trained for 3 steps is merged to 2 experts (the written adapter declares 2 experts and top-2,
   and `eval` loads it), and compressed to density 0.25 ternary (every LoRA value of the written
   adapter is 0 or ± one per-tensor scale, with at most ceil(n/4) nonzeros); bad uses exit 1 with
   their message. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "cli/make_tiny.h"
#include "cli/demo_task.h"
#include "cli/train.h"
#include "cli/eval.h"
#include "cli/merge_experts.h"
#include "cli/compress_adapter.h"
#include "nn/safetensors.h"
#include "tests/support/xml_check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir, model[300], tok[300], run[300], lora[300];

static void fixture(void) {
    dir = tmp_dir_new();
    Error err;
    snprintf(model, sizeof model, "%s/tiny.bin", dir);
    snprintf(tok, sizeof tok, "%s/tok.bin", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(lora, sizeof lora, "%s/lora", dir);
    MakeTinySpec spec;
    make_tiny_defaults(&spec);
    spec.out = model; spec.format = "llama2c"; spec.vocab = 259; spec.dim = 32; spec.hidden = 64; spec.seq_len = 64;
    ck_assert_msg(make_tiny_write(&spec, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(demo_write_tokenizer(tok, &err), STATUS_OK);
    char p[400];
    snprintf(p, sizeof p, "%s/train.jsonl", dir);
    ck_assert_int_eq(demo_write_split(p, 24, 4, 1, &err), STATUS_OK);
    snprintf(p, sizeof p, "%s/dev.jsonl", dir);
    ck_assert_int_eq(demo_write_split(p, 8, 4, 2, &err), STATUS_OK);
    for (int i = 0; i < 2; i++) {
        char *argv[] = { "train", "--model", model, "--tokenizer", tok, "--task", "mc_jsonl", "--data", dir, "--adapter",
                         i ? "lora" : "molora", "--experts", "3", "--max-steps", "3", "--batch", "4", "--seq", "64",
                         "--lr", "1e-2", "--out", i ? lora : run, NULL };
        ck_assert_int_eq(run_cli_concat(train_cli, argv, NULL, NULL), 0);
    }
}

static void fixture_free(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

/* head of a tool command on the fixture, adapter `ad` (a run dir), output `out` */
#define TOOL_HEAD(cmd, ad, out) { cmd, "--model", model, "--tokenizer", tok, "--adapter-dir", ad, "--task", "mc_jsonl", \
                                  "--data", dir, "--out", out, "--seq", "64", NULL }

START_TEST(test_merge_and_compress_cli)
{
    fixture();
    char ad[400], merged[400], small[400], p[500], *out = NULL;
    snprintf(ad, sizeof ad, "%s/adapter", run);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    snprintf(small, sizeof small, "%s/small", dir);
    char *mh[] = TOOL_HEAD("merge-experts", ad, merged), *to[] = { "--to", "2", "--calib-limit", "8", NULL };
    ck_assert_int_eq(run_cli_concat(merge_experts_cli, mh, to, &out), 0);
    ck_assert_msg(strstr(out, "merged 3 -> 2 experts") && strstr(out, "before") && strstr(out, "after"), "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/adapter_config.json", merged);
    char *cfg = file_slurp(p);
    ck_assert_msg(strstr(cfg, "\"n_true\": 2") && strstr(cfg, "\"top_k\": 2"), "%s", cfg);
    free(cfg);
    char *ev[] = { "eval", "--model", model, "--tokenizer", tok, "--adapter-dir", merged, "--task", "mc_jsonl", "--data", dir,
                   "--seq", "64", NULL };
    ck_assert_int_eq(run_cli_concat(eval_cli, ev, NULL, NULL), 0);
    char *ch[] = TOOL_HEAD("compress-adapter", ad, small), *dens[] = { "--density", "0.25", "--ternary", NULL };
    ck_assert_int_eq(run_cli_concat(compress_adapter_cli, ch, dens, &out), 0);
    ck_assert_msg(strstr(out, "size ratio") && strstr(out, "after"), "%s", out);
    free(out);
    SafeTensors st;
    Error err;
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", small);
    ck_assert_int_eq(safetensors_open(&st, p, &err), STATUS_OK);
    const char *key = "base_model.model.model.layers.0.mlp.up_proj.lora_A.1.weight";
    float v[8 * 32], scale = 0;
    int nz = 0;
    ck_assert_int_eq(safetensors_read_f32(&st, key, (int[]){ 8, 32 }, 2, v, &err), STATUS_OK);
    for (int i = 0; i < 8 * 32; i++) {
        if (v[i] == 0) continue;
        if (!scale) scale = fabsf(v[i]);
        ck_assert(fabsf(v[i]) == scale);
        nz++;
    }
    ck_assert_int_eq(nz, 64);
    safetensors_close(&st);
    fixture_free();
}
END_TEST

START_TEST(test_field_tools_bad_use)
{
    fixture();
    char ad[400], la[400], o[400];
    snprintf(ad, sizeof ad, "%s/adapter", run);
    snprintf(la, sizeof la, "%s/adapter", lora);
    snprintf(o, sizeof o, "%s/o", dir);
    char *mh[] = TOOL_HEAD("merge-experts", ad, o), *ml[] = TOOL_HEAD("merge-experts", la, o);
    char *ch[] = TOOL_HEAD("compress-adapter", ad, o);
    char *to3[] = { "--to", "3", NULL }, *to1[] = { "--to", "1", NULL }, *sim[] = { "--to", "1", "--similarity", "x", NULL };
    char *d0[] = { "--density", "0", NULL }, *sd[] = { "--std-scale", "-1", NULL };
    run_cli_expect_error(merge_experts_cli, mh, to3, "--to must be in 1..2 (fewer than the adapter's 3 experts), got 3");
    run_cli_expect_error(merge_experts_cli, ml, to1, "merge-experts: a lora adapter has no LoRA expert banks");
    run_cli_expect_error(merge_experts_cli, mh, sim, "--similarity must be router-logits or weights, got 'x'");
    run_cli_expect_error(compress_adapter_cli, ch, d0, "--density must be in (0, 1], got 0");
    run_cli_expect_error(compress_adapter_cli, ch, sd, "--std-scale must be >= 0, got -1");
    char *missing[] = { "compress-adapter", "--model", model, NULL };
    run_cli_expect_error(compress_adapter_cli, missing, NULL, "--model, --adapter-dir, --task, --data and --out are required");
    fixture_free();
}
END_TEST

Suite *field_cli_suite(void) {
    Suite *s = suite_create("field_cli");
    TCase *tc = tcase_create("tools");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_merge_and_compress_cli);
    tcase_add_test(tc, test_field_tools_bad_use);
    suite_add_tcase(s, tc);
    return s;
}
