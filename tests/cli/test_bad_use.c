/* tests/cli/test_bad_use.c — bad use of the command line, one row per class: every option is
   validated, and the message gives the allowed range (or what was expected). Each row runs
   ./train train (forward-backward for tokens.json) on a tiny on-disk fixture: a llama2.c model
   (vocab 259, context 64, 2 layers), the demo byte tokenizer and mc_jsonl data; every row must
   exit 1 with its message. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "cli/demo_task.h"
#include "cli/forward_backward.h"
#include "cli/train.h"
#include "nn/checkpoint.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *dir;
static char model[300], model2[300], tok[300], data[300], badlab[300], run[300], tokens[300];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void write_model(const char *path, int dim, int heads) {
    ModelConfig c = tiny_config(0);
    c.vocab_size = 259;
    c.max_seq_len = 64;
    c.dim = dim;
    c.n_heads = heads;
    c.n_kv_heads = heads;
    c.head_dim = dim / heads;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel m;
    Error err;
    tiny_model(&m, &c, &none, 3, 0);
    ck_assert_int_eq(llama2c_write(&m, path, 1, &err), STATUS_OK);
    llama_free(&m);
}

static void fixture(void) {
    dir = tmp_dir_new();
    setenv("MOETRAIN_CACHE", dir, 1);
    Error err;
    snprintf(model, sizeof model, "%s/model.bin", dir);
    snprintf(model2, sizeof model2, "%s/other.bin", dir);
    snprintf(tok, sizeof tok, "%s/tok.bin", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(badlab, sizeof badlab, "%s/badlab", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(tokens, sizeof tokens, "%s/tokens.json", dir);
    write_model(model, 24, 4);
    write_model(model2, 32, 4);
    ck_assert_int_eq(demo_write_tokenizer(tok, &err), STATUS_OK);
    mkdir(data, 0755);
    mkdir(badlab, 0755);
    char p[400];
    snprintf(p, sizeof p, "%s/train.jsonl", data);
    ck_assert_int_eq(demo_write_split(p, 16, 4, 1, &err), STATUS_OK);
    snprintf(p, sizeof p, "%s/dev.jsonl", data);
    ck_assert_int_eq(demo_write_split(p, 8, 4, 2, &err), STATUS_OK);
    snprintf(p, sizeof p, "%s/train.jsonl", badlab);
    write_text(p, "{\"question\": \"1+1?\", \"choices\": [\"1\", \"2\"], \"answer\": 1}\n"
                  "{\"question\": \"2+2?\", \"choices\": [\"3\", \"4\"], \"answer\": 7}\n");
    snprintf(p, sizeof p, "%s/dev.jsonl", badlab);
    write_text(p, "{\"question\": \"1+1?\", \"choices\": [\"1\", \"2\"], \"answer\": 1}\n");
    write_text(tokens, "{\"inputs\": [[1, 2, 300]], \"targets\": [[2, 3, 4]]}");
}

static void fixture_free(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

typedef struct { const char *what; const char *args[8]; const char *want; } BadUse;

static const BadUse ROWS[] = {
    { "rank 0", { "--rank", "0" }, "--rank must be in 1..4096" },
    { "top-k > experts + nulls", { "--adapter", "adamoe", "--experts", "2", "--null", "1", "--top-k", "4" }, "--top-k 4 outside 1..3 (experts + null)" },
    { "negative null count", { "--adapter", "adamoe", "--null", "-1" }, "--null: bad value at \"-1\" (expected integers >= 0" },
    { "lr 0", { "--lr", "0" }, "--lr must be > 0, got 0" },
    { "negative lr", { "--lr", "-1e-3" }, "--lr must be > 0, got -0.001" },
    { "batch 0", { "--batch", "0" }, "--batch must be >= 1, got 0" },
    { "seq above the context", { "--seq", "100" }, "--seq 100 is above the model's context of 64 tokens" },
    { "per-layer list of the wrong length", { "--adapter", "adamoe", "--experts", "2,2,2", "--top-k", "1" }, "per-layer expert lists have 3 values, the model has 2 layers" },
    { "identity nulls where in != out", { "--adapter", "adamoe", "--null-kind", "identity", "--targets", "gate,up" }, "identity null experts need in == out" },
    { "unknown task", { "--task", "rtee" }, "unknown task 'rtee'" },
    { "skip-nonfinite < 0", { "--skip-nonfinite", "-1" }, "--skip-nonfinite must be >= 0, got -1" },
    { "max-memory not a size", { "--max-memory", "lots" }, "--max-memory: 'lots' is not a size" },
    { "max-memory too small", { "--max-memory", "1k" }, "but --max-memory 0.00 GB" },
    { "recompute not a mode", { "--recompute", "sometimes" }, "--recompute must be auto, on or off, got 'sometimes'" },
    { "recompute with pre-gating", { "--adapter", "adamoe", "--pregate", "--recompute", "on" }, "--recompute on cannot be combined with --pregate" },
    { "base-dtype", { "--base-dtype", "f8" }, "--base-dtype must be auto, f32, bf16, nf4, nf4-nodq or int8, got 'f8'" },
    { "expert-dtype without a quantised base", { "--expert-dtype", "bf16" }, "--expert-dtype needs a quantised base" },
    { "expert-dtype", { "--base-dtype", "nf4", "--expert-dtype", "fp8" }, "--expert-dtype must be f32, bf16, nf4, nf4-nodq or int8, got 'fp8'" },
    { "bad top-k schedule", { "--adapter", "molora", "--top-k-schedule", "linear:0:2" }, "--top-k-schedule: bad schedule 'linear:0:2'" },
    { "top-k and a schedule", { "--adapter", "molora", "--top-k", "2", "--top-k-schedule", "linear:1:2" }, "--top-k and --top-k-schedule both given" },
    { "schedule without experts", { "--top-k-schedule", "linear:1:2" }, "--top-k-schedule needs routed LoRA experts" },
    { "bad eval-top-k", { "--adapter", "molora", "--top-k-schedule", "epoch:1,2", "--eval-top-k", "x" }, "--eval-top-k: 'x' is not final, all or" },
    { "router name", { "--adapter", "molora", "--router", "random" }, "--router must be learned or frozen-random, got 'random'" },
    { "experts-from list", { "--adapter", "molora", "--experts-from", "a,,b" }, "--experts-from: 'a,,b' is not a comma list" },
    { "experts-from missing", { "--adapter", "molora", "--experts-from", "/nonexistent/x,/nonexistent/y" }, "/nonexistent/x/adapter_config.json" },
    { "experts-from on lora", { "--experts-from", "/nonexistent/x,/nonexistent/y" }, "--experts-from needs a molora or adamoe adapter" },
};

START_TEST(test_bad_use_table)
{
    fixture();
    char *head[] = { "train", "--model", model, "--tokenizer", tok, "--task", "mc_jsonl", "--data", data, "--seq", "48",
                     "--max-steps", "1", "--batch", "4", NULL };
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        char *extra[10] = { 0 };
        for (int k = 0; k < 8 && ROWS[i].args[k]; k++) extra[k] = (char *)ROWS[i].args[k];
        run_cli_expect_error(train_cli, head, extra, ROWS[i].want);
    }
    fixture_free();
}
END_TEST

/* labels outside the choices, token ids >= vocab, and --resume with another model / adapter */
START_TEST(test_bad_use_files)
{
    fixture();
    char *head[] = { "train", "--model", model, "--tokenizer", tok, "--task", "mc_jsonl", "--seq", "48", "--max-steps",
                     "1", "--batch", "4", NULL };
    char *bad[] = { "--data", badlab, NULL };
    run_cli_expect_error(train_cli, head, bad, "train.jsonl:2: expected \"answer\": a choice index 0..1");
    char *fb[] = { "forward-backward", "--model", model, "--tokens", tokens, NULL };
    run_cli_expect_error(forward_backward_cli, fb, NULL, "300");
    char *first[] = { "--data", data, "--out", run, "--adapter", "lora", NULL };
    ck_assert_int_eq(run_cli_concat(train_cli, head, first, NULL), 0);
    char *again_adapter[] = { "train", "--resume", run, "--adapter", "molora", "--max-steps", "2", NULL };
    run_cli_expect_error(train_cli, again_adapter, NULL, "was made with adapter lora, this run has adapter molora");
    char *again_model[] = { "train", "--resume", run, "--model", model2, "--max-steps", "2", NULL };
    run_cli_expect_error(train_cli, again_model, NULL, "was made with model dim 24");
    fixture_free();
}
END_TEST

Suite *bad_use_suite(void) {
    Suite *s = suite_create("bad_use");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bad_use_table);
    tcase_add_test(tc, test_bad_use_files);
    suite_add_tcase(s, tc);
    return s;
}
