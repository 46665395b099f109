/* tests/cli/test_sweep.c — the ablation runner on a tiny model (make-tiny, 259-token byte vocabulary)
   and the demo's synthetic task: every (config, seed) runs, results.md / results.csv hold one
   row per config / run with the Load each config implies (k1 -> 1, k2 -> 2), and a second call
   skips the finished runs. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "cli/make_tiny.h"
#include "cli/demo_task.h"
#include "cli/sweep.h"
#include "cli/train.h"
#include "nn/safetensors.h"
#include "tests/support/helpers.h"
#include "tests/support/xml_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *s = calloc(1, 1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

/* dir/{tiny.bin, tokenizer.bin, train.jsonl, dev.jsonl}: a tiny model and the demo task */
static void sweep_fixture(const char *dir, char *model, char *tok) {
    char p[300];
    Error err;
    snprintf(model, 200, "%s/tiny.bin", dir);
    snprintf(tok, 200, "%s/tokenizer.bin", dir);
    MakeTinySpec spec;
    make_tiny_defaults(&spec);
    spec.out = model;
    spec.format = "llama2c";
    spec.vocab = 259;
    spec.dim = 32;
    spec.hidden = 64;
    spec.seq_len = 64;
    ck_assert_msg(make_tiny_write(&spec, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(demo_write_tokenizer(tok, &err), STATUS_OK);
    snprintf(p, sizeof p, "%s/train.jsonl", dir);
    ck_assert_int_eq(demo_write_split(p, 40, 4, 1, &err), STATUS_OK);
    snprintf(p, sizeof p, "%s/dev.jsonl", dir);
    ck_assert_int_eq(demo_write_split(p, 12, 4, 2, &err), STATUS_OK);
}

START_TEST(test_sweep_grid_and_resume)
{
    char *dir = tmp_dir_new(), model[200], tok[200], out[200], p[300];
    sweep_fixture(dir, model, tok);
    snprintf(out, sizeof out, "%s/sweep", dir);
    char *argv[] = { "sweep", "--task", "mc_jsonl", "--data", dir, "--grid", "k1,k2,m2k2", "--seeds", "2",
                     "--experts", "2", "--out", out, "--", "--model", model, "--tokenizer", tok, "--max-steps", "2",
                     "--batch", "4", "--seq", "64" };
    int argc = (int)(sizeof argv / sizeof argv[0]);
    ck_assert_int_eq(sweep_cli(argc, argv), 0);
    snprintf(p, sizeof p, "%s/results.md", out);
    char *md = slurp(p);
    ck_assert_ptr_nonnull(strstr(md, "| k1 |"));
    ck_assert_ptr_nonnull(strstr(md, "| m2k2 |"));
    snprintf(p, sizeof p, "%s/results.csv", out);
    char *csv = slurp(p);
    ck_assert_ptr_nonnull(strstr(csv, "mc_jsonl,k1,1,"));
    ck_assert_ptr_nonnull(strstr(csv, "mc_jsonl,k2,2,"));
    ck_assert_ptr_nonnull(strstr(strstr(csv, "mc_jsonl,k1,1,"), ",1.0000\n"));   /* top-1 over true experts */
    ck_assert_ptr_nonnull(strstr(strstr(csv, "mc_jsonl,k2,1,"), ",2.0000\n"));
    int lines = 0;
    for (char *c = csv; *c; c++) lines += *c == '\n';
    ck_assert_int_eq(lines, 1 + 3 * 2);
    /* results.svg: well-formed, one point with its label per configuration (Load k1 = 1 and k2 = 2
       exactly, so both get no x error bar) */
    snprintf(p, sizeof p, "%s/results.svg", out);
    char *svg = file_slurp(p);
    ck_assert_ptr_nonnull(svg);
    const char *problem = xml_check(svg);
    ck_assert_msg(problem == NULL, "results.svg: %s", problem);
    ck_assert_int_eq(text_count(svg, "<circle"), 3);
    ck_assert_ptr_nonnull(strstr(svg, ">k1 (-50% FLOPs)<"));
    ck_assert_ptr_nonnull(strstr(svg, ">k2 (±0% FLOPs)<"));
    ck_assert_ptr_nonnull(strstr(svg, ">m2k2 ("));
    free(svg);
    /* a second call finds every run finished and only rewrites the tables */
    snprintf(p, sizeof p, "%s/mc_jsonl_k1_s1/metrics.jsonl", out);
    long before = 0;
    FILE *f = fopen(p, "r");
    fseek(f, 0, SEEK_END);
    before = ftell(f);
    fclose(f);
    ck_assert_int_eq(sweep_cli(argc, argv), 0);
    f = fopen(p, "r");
    fseek(f, 0, SEEK_END);
    ck_assert_int_eq(ftell(f), before);
    fclose(f);
    free(md);
    free(csv);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(p), 0);
    free(dir);
}
END_TEST

/* the paper's second experiment: the FFN experts of an upcycled model (moe-ffn), k1 = top-1 over
   the 2 FFN experts (Load exactly 1), m2k2 = 2 gate2 null experts, top-2 (Load at most 2) */
START_TEST(test_sweep_ffn_family)
{
    char *dir = tmp_dir_new(), model[200], tok[200], out[200], p[300];
    sweep_fixture(dir, model, tok);
    snprintf(out, sizeof out, "%s/sweep", dir);
    char *argv[] = { "sweep", "--task", "mc_jsonl", "--data", dir, "--grid", "k1,m2k2", "--family", "ffn",
                     "--out", out, "--", "--model", model, "--tokenizer", tok, "--max-steps", "2",
                     "--batch", "4", "--seq", "64", "--upcycle", "2" };
    ck_assert_int_eq(sweep_cli((int)(sizeof argv / sizeof argv[0]), argv), 0);
    snprintf(p, sizeof p, "%s/results.csv", out);
    char *csv = slurp(p);
    ck_assert_ptr_nonnull(strstr(strstr(csv, "mc_jsonl,k1,1,"), ",1.0000\n"));
    char *m = strstr(csv, "mc_jsonl,m2k2,1,");
    ck_assert_ptr_nonnull(m);
    double load = atof(strrchr(strtok(m, "\n"), ',') + 1);
    ck_assert_msg(load > 0 && load <= 2.0, "m2k2 Load %g", load);
    snprintf(p, sizeof p, "%s/mc_jsonl_m2k2_s1/config.json", out);
    char *cfg = slurp(p);
    ck_assert_msg(strstr(cfg, "moe-ffn") != NULL, "the ffn family trains moe-ffn adapters: %s", cfg);
    char *bad[] = { "sweep", "--task", "mc_jsonl", "--data", dir, "--family", "mlp", "--", "--model", model };
    ck_assert_int_eq(sweep_cli((int)(sizeof bad / sizeof bad[0]), bad), 1);
    free(csv);
    free(cfg);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(p), 0);
    free(dir);
}
END_TEST

/* expert e's A in the k2+xf+fz run = source e's A, bit for bit (frozen while training) */
static void check_frozen_experts(const char *out, const char *la, const char *lb) {
    char p[400];
    for (int e = 0; e < 2; e++) {   /* expert e's A = source e's A, bit for bit (frozen while training) */
        SafeTensors src, dst;
        Error err;
        float a[8 * 32], b[8 * 32];
        char key[200];
        snprintf(p, sizeof p, "%s/adapter/adapter_model.safetensors", e ? lb : la);
        ck_assert_int_eq(safetensors_open(&src, p, &err), STATUS_OK);
        snprintf(p, sizeof p, "%s/mc_jsonl_k2+xf+fz_s1/adapter/adapter_model.safetensors", out);
        ck_assert_int_eq(safetensors_open(&dst, p, &err), STATUS_OK);
        const char *mod = "base_model.model.model.layers.0.self_attn.q_proj";
        snprintf(key, sizeof key, "%s.lora_A.weight", mod);
        ck_assert_int_eq(safetensors_read_f32(&src, key, (int[]){ 8, 32 }, 2, a, &err), STATUS_OK);
        snprintf(key, sizeof key, "%s.lora_A.%d.weight", mod, e);
        ck_assert_int_eq(safetensors_read_f32(&dst, key, (int[]){ 8, 32 }, 2, b, &err), STATUS_OK);
        ck_assert(!memcmp(a, b, sizeof a));
        safetensors_close(&src);
        safetensors_close(&dst);
    }
}

/* the field's grid entries: sd1-2 (SMoE-Dropout: k 1 -> 2 while training, evaluated at top-2 of
   2 experts: Load exactly 2), k2+pg (pre-gating in the run's config and adapter), k2+xf+fz (the
   experts from two LoRA runs, frozen: the saved experts are the sources' A exactly); bad entries
   and +xf without --experts-from are usage errors */
START_TEST(test_sweep_field_entries)
{
    char *dir = tmp_dir_new(), model[200], tok[200], out[200], p[400], la[200], lb[200], both[500];
    sweep_fixture(dir, model, tok);
    snprintf(out, sizeof out, "%s/sweep", dir);
    snprintf(la, sizeof la, "%s/lora_a", dir);
    snprintf(lb, sizeof lb, "%s/lora_b", dir);
    for (int i = 0; i < 2; i++) {
        char *targv[] = { "train", "--model", model, "--tokenizer", tok, "--task", "mc_jsonl", "--data", dir, "--adapter",
                          "lora", "--max-steps", "1", "--batch", "4", "--seq", "64", "--seed", i ? "2" : "1", "--out",
                          i ? lb : la, NULL };
        ck_assert_int_eq(run_cli_concat(train_cli, targv, NULL, NULL), 0);
    }
    snprintf(both, sizeof both, "%s/adapter,%s/adapter", la, lb);
    char *argv[] = { "sweep", "--task", "mc_jsonl", "--data", dir, "--grid", "sd1-2,k2+pg,k2+xf+fz", "--experts", "2",
                     "--experts-from", both, "--out", out, "--", "--model", model, "--tokenizer", tok, "--max-steps", "2",
                     "--batch", "4", "--seq", "64" };
    ck_assert_int_eq(sweep_cli((int)(sizeof argv / sizeof argv[0]), argv), 0);
    snprintf(p, sizeof p, "%s/results.csv", out);
    char *csv = slurp(p);
    ck_assert_ptr_nonnull(strstr(strstr(csv, "mc_jsonl,sd1-2,1,"), ",2.0000\n"));
    ck_assert_ptr_nonnull(strstr(strstr(csv, "mc_jsonl,k2+xf+fz,1,"), ",2.0000\n"));
    snprintf(p, sizeof p, "%s/mc_jsonl_sd1-2_s1/config.json", out);
    char *cfg = slurp(p);
    ck_assert_msg(strstr(cfg, "\"top-k-schedule\": \"linear:1:2\"") && strstr(cfg, "\"router\": \"frozen-random\""), "%s", cfg);
    free(cfg);
    snprintf(p, sizeof p, "%s/mc_jsonl_k2+pg_s1/adapter/adapter_config.json", out);
    cfg = slurp(p);
    ck_assert_ptr_nonnull(strstr(cfg, "\"pregate\": true"));
    free(cfg);
    snprintf(p, sizeof p, "%s/mc_jsonl_k2+xf+fz_s1/adapter/adapter_config.json", out);
    cfg = slurp(p);
    ck_assert_ptr_nonnull(strstr(cfg, "\"freeze_experts\": true"));
    free(cfg);
    check_frozen_experts(out, la, lb);
    for (int i = 0; i < 2; i++) {   /* an unknown modifier; +xf without --experts-from */
        char *bad[] = { "sweep", "--task", "mc_jsonl", "--data", dir, "--grid", i ? "k2+xf" : "k2+zz", "--", "--model", model };
        ck_assert_int_eq(sweep_cli((int)(sizeof bad / sizeof bad[0]), bad), 1);
    }
    free(csv);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(p), 0);
    free(dir);
}
END_TEST

Suite *sweep_suite(void) {
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("grid");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sweep_grid_and_resume);
    tcase_add_test(tc, test_sweep_ffn_family);
    tcase_add_test(tc, test_sweep_field_entries);
    suite_add_tcase(s, tc);
    return s;
}
