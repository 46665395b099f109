/* tests/cli/test_bench_mode.c — `./train bench --mode M` against ../shared/tools/bench_torch/
   torch_llama.py: its parameter counts and its model GFLOP per step (step_flops), as the script
   printed them for batch 8 x seq 128 (PyTorch 1.13, this project's machine; the routed modes with
   the script's measured true experts per token), bad options refused with exit 1, and --model. */
#include "tests/support/suites.h"
#include "bench/bench.h"
#include "bench/bench_step.h"
#include "cli/bench.h"
#include "nn/llama.h"
#include "nn/base_init.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include <stdlib.h>
#include <string.h>

typedef struct { const char *mode; size_t params, trainable; double apt, gflop; } ScriptRow;

static const ScriptRow ROWS[] = {
    { "full", 15191712, 15191712, 0.0, 96.032784384 },
    { "lora", 15454368, 262656, 0.0, 66.541584384 },
    { "molora", 16302240, 1110528, 2.0, 68.523393024 },
    { "adamoe", 16362144, 1170432, 1.5182291666666667, 68.11398144 },
    { "moe", 43074720, 43074720, 2.0, 120.578899968 },
    { "moe_null", 43088544, 43088544, 1.6007486979166667, 110.897676288 },
};

START_TEST(test_bench_mode_matches_script)
{
    const ScriptRow *w = &ROWS[_i];
    ModelConfig c;
    AdapterConfig a;
    ck_assert(bench_mode_setup(w->mode, &c, &a));
    LlamaModel m;
    llama_declare_params(&m, &c, &a, 0);   /* declared only: nothing allocated */
    size_t params, trainable;
    bench_mode_param_counts(&m.ps, &params, &trainable);
    ck_assert_uint_eq(params, w->params);
    ck_assert_uint_eq(trainable, w->trainable);
    double fl = bench_mode_flops(&c, &a, c.n_experts, 128, 8.0 * 128, 8.0 * 128, w->apt);
    ck_assert_double_eq_tol(fl * 1e-9, w->gflop, 1e-6);
    llama_free(&m);
}
END_TEST

START_TEST(test_bench_mode_bad_options)
{
    char *bad[][4] = {
        { "bench", "--mode", "dense", NULL }, { "bench", "--steps", "3", NULL },
        { "bench", "--mode", "lora", "--loss-on" }, { "bench", "--mode", "lora", "--gemm" },
    };
    int argc[4] = { 3, 3, 4, 4 };
    char *loss[] = { "bench", "--mode", "lora", "--loss-on", "some" };
    for (int i = 0; i < 4; i++) ck_assert_int_eq(bench_main(argc[i], bad[i]), 1);
    ck_assert_int_eq(bench_main(5, loss), 1);
}
END_TEST

/* --model: a checkpoint's own shape and storage; the JSON line names them and the estimate; a
   MoE-FFN mode, an unknown storage and a missing model are refused with exit 1 */
START_TEST(test_bench_mode_model)
{
    char *dir = tmp_dir_new();
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    c.max_seq_len = 32;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel m;
    Error err;
    llama_declare_params(&m, &c, &none, 0);
    ck_assert_int_eq(hf_write_random(&m, 3, dir, SAFE_BF16, 1, NULL, &err), STATUS_OK);
    llama_free(&m);
    char *run[] = { "bench", "--mode", "adamoe", "--model", dir, "--batch", "2", "--seq", "16", "--warmup", "0",
                    "--steps", "1", "--json", "--threads", "1", NULL }, *out = NULL;
    ck_assert_int_eq(run_cli_captured(bench_main, run, &out), 0);
    ck_assert_msg(strstr(out, "\"mode\": \"adamoe\"") && strstr(out, "\"base_dtype\": \"bf16\"") &&
                  strstr(out, "\"estimate_mb\": ") && strstr(out, "\"seq\": 16"), "%s", out);
    free(out);
    char *moe[] = { "bench", "--mode", "moe", "--model", dir }, *dt[] = { "bench", "--mode", "lora", "--model", dir, "--base-dtype", "q3" };
    char *seq[] = { "bench", "--mode", "lora", "--model", dir, "--seq", "64" }, *miss[] = { "bench", "--mode", "lora", "--model", "/nonexistent/m" };
    ck_assert_int_eq(bench_main(5, moe), 1);
    ck_assert_int_eq(bench_main(7, dt), 1);
    ck_assert_int_eq(bench_main(7, seq), 1);   /* longer than the model's context */
    ck_assert_int_eq(bench_main(5, miss), 1);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

Suite *bench_mode_suite(void) {
    Suite *s = suite_create("bench_mode");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_bench_mode_matches_script, 0, (int)(sizeof ROWS / sizeof ROWS[0]));
    tcase_add_test(tc, test_bench_mode_bad_options);
    tcase_add_test(tc, test_bench_mode_model);
    suite_add_tcase(s, tc);
    return s;
}
