/* tests/cli/test_bench_mode.c — `./train bench --mode M` against ../shared/tools/bench_torch/
   torch_llama.py: its parameter counts and its model GFLOP per step (step_flops), as the script
   printed them for batch 8 x seq 128 (PyTorch 1.13, this project's machine; the routed modes with
   the script's measured true experts per token), and bad options refused with exit 1. */
#include "tests/support/suites.h"
#include "bench/bench.h"
#include "bench/bench_step.h"
#include "cli/bench.h"
#include "nn/llama.h"

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

Suite *bench_mode_suite(void) {
    Suite *s = suite_create("bench_mode");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_bench_mode_matches_script, 0, (int)(sizeof ROWS / sizeof ROWS[0]));
    tcase_add_test(tc, test_bench_mode_bad_options);
    suite_add_tcase(s, tc);
    return s;
}
