/* tests/nn/test_export.c — `./train export` (cli/export.c, nn/lora_merge.c).
   golden   for each tests/golden/export_* fixture the model + adapter are rebuilt from args
            (make_tiny_write); PyTorch (torch_ref.py forward-backward, regen.sh) computed the loss
            of the model that export wrote, alone. Here: C's base + adapter, and C's reload of its
            own export, must both give that loss (1e-5 relative); the base without its adapter must
            not (the adapter matters by far more than the tolerance). One fixture is rsLoRA (the
            merge must use α/√r), one comes from a llama2.c file (Meta rows -> HF rows on export).
   logits   merged f32 export (hf and llama2c) reloaded: every logit within 1e-5 of max |logit|
            of base + adapter.
   refusals Mo-LoRA, AdaMoE and moe-ffn adapters, a Qwen2 model as llama2.c: exit 1, nothing
            written; the messages give the reason and point to generate / eval. */
#include "tests/support/suites.h"
#include "tests/support/golden_grads.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/lora_merge.h"
#include "nn/forward_backward.h"
#include "cli/make_tiny.h"
#include "cli/export.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const FIXTURES[] = { "export_hf_rslora", "export_llama2c_qv_down" };

/* make-tiny from GOLDEN/name/args into dir/model (+ dir/adapter); returns the model path */
static void build(const char *name, const char *dir, char *mpath, char *apath) {
    char buf[1024], *argv[64];
    int argc = golden_read_args(name, buf, sizeof buf, argv, 64), help;
    MakeTinySpec s;
    make_tiny_defaults(&s);
    Error err;
    ck_assert_msg(make_tiny_parse(&s, argc, argv, 1, &help, &err) == STATUS_OK, "%s", err.message);
    snprintf(mpath, 1100, "%s/%s", dir, !strcmp(s.format, "hf") ? "model" : "model.bin");
    snprintf(apath, 1100, "%s/adapter", dir);
    s.out = mpath;
    s.adapter_out = apath;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
}

static int run_export(const char *model, const char *adapter, const char *out, const char *format) {
    char *argv[] = { "export", "--model", (char *)model, "--adapter-dir", (char *)adapter, "--out", (char *)out,
                     "--format", (char *)format, NULL };
    return export_cli(9, argv);
}

/* the loss of model (+ adapter, may be NULL) on tokens */
static double loss_of(const char *model, const char *adapter, const char *tokens) {
    LlamaModel m;
    Error err;
    ck_assert_msg(model_load_with_adapter(&m, model, adapter, 0, &err) == STATUS_OK, "%s", err.message);
    TokenBatch tb = { 0 };
    ForwardBackwardResult r;
    ck_assert_msg(token_batch_load(tokens, &m.cfg, &tb, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(forward_backward_run(&m, &tb, &r, &err) == STATUS_OK, "%s", err.message);
    token_batch_free(&tb);
    llama_free(&m);
    return r.loss;
}

START_TEST(test_export_golden) {
    const char *name = FIXTURES[_i];
    char *dir = tmp_dir_new(), mpath[1100], apath[1100], out[1100], path[1100];
    build(name, dir, mpath, apath);
    snprintf(out, sizeof out, "%s/merged", dir);
    ck_assert_int_eq(run_export(mpath, apath, out, "hf"), 0);
    snprintf(path, sizeof path, GOLDEN "/%s/out.json", name);
    JsonDoc ref;
    Error err;
    ck_assert_msg(json_parse_file(&ref, path, &err) == STATUS_OK, "%s", err.message);
    double want = json_get(ref.root, "loss")->number;
    snprintf(path, sizeof path, GOLDEN "/%s/tokens.json", name);
    double with_adapter = loss_of(mpath, apath, path), merged = loss_of(out, NULL, path), base = loss_of(mpath, NULL, path);
    fprintf(stderr, "%s: torch(export) %.9g  C base+adapter %.9g  C export %.9g  C base %.9g\n", name, want,
            with_adapter, merged, base);
    ck_assert_msg(golden_rel_err(with_adapter, want) <= 1e-5, "%s: base + adapter %.9g vs %.9g", name, with_adapter, want);
    ck_assert_msg(golden_rel_err(merged, want) <= 1e-5, "%s: export %.9g vs %.9g", name, merged, want);
    ck_assert_msg(golden_rel_err(base, want) > 1e-3, "%s: the adapter does not change the loss", name);
    json_doc_free(&ref);
    free(dir);
}
END_TEST

/* max |a - b| / max |b| */
static double rel_diff(const real *a, const real *b, size_t n) {
    double d = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {   /* plain comparisons: aarch64 GCC 12 crashes vectorising two fmax reductions */
        double e = fabs((double)a[i] - (double)b[i]), m = fabs((double)b[i]);
        if (e > d) d = e;
        if (m > mx) mx = m;
    }
    return d / mx;
}

START_TEST(test_export_logits) {
    const char *name = FIXTURES[_i / 2], *format = _i % 2 ? "llama2c" : "hf";
    char *dir = tmp_dir_new(), mpath[1100], apath[1100], out[1100], merged[1200];
    build(name, dir, mpath, apath);
    snprintf(out, sizeof out, "%s/merged", dir);
    ck_assert_int_eq(run_export(mpath, apath, out, format), 0);
    snprintf(merged, sizeof merged, "%s%s", out, _i % 2 ? "/model.bin" : "");
    LlamaModel a, b;
    Error err;
    ck_assert_msg(model_load_with_adapter(&a, mpath, apath, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(model_load_with_adapter(&b, merged, NULL, 0, &err) == STATUS_OK, "%s", err.message);
    int ids[16];
    for (int i = 0; i < 16; i++) ids[i] = (i * 37 + 5) % a.cfg.vocab_size;
    real *la = tiny_logits(&a, ids, 2, 8), *lb = tiny_logits(&b, ids, 2, 8);
    double d = rel_diff(lb, la, (size_t)16 * a.cfg.vocab_size);
    fprintf(stderr, "%s -> %s: merged logits vs base + adapter, max rel %.3g\n", name, format, d);
    ck_assert_msg(d <= 1e-5, "%s -> %s: merged logits differ by %.3g relative", name, format, d);
    free(la); free(lb);
    llama_free(&a); llama_free(&b);
    free(dir);
}
END_TEST

/* export --base-dtype nf4: the exported model is the one trained on the NF4 base (its loss equals
   base(nf4) + adapter's to 1e-5), not the f32 base + adapter (which differs by > 1e-4) */
START_TEST(test_export_quantised_base) {
    char *dir = tmp_dir_new(), mpath[1100], apath[1100], out[1100], tokens[256];
    build("export_hf_rslora", dir, mpath, apath);
    snprintf(out, sizeof out, "%s/merged", dir);
    char *argv[] = { "export", "--model", mpath, "--adapter-dir", apath, "--out", out, "--base-dtype", "nf4", NULL };
    ck_assert_int_eq(export_cli(9, argv), 0);
    snprintf(tokens, sizeof tokens, GOLDEN "/export_hf_rslora/tokens.json");
    LlamaModel m;
    Error err;
    ck_assert_msg(model_load_with_adapter(&m, mpath, apath, BASE_DTYPE_NF4, &err) == STATUS_OK, "%s", err.message);
    TokenBatch tb = { 0 };
    ForwardBackwardResult r;
    ck_assert_msg(token_batch_load(tokens, &m.cfg, &tb, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(forward_backward_run(&m, &tb, &r, &err) == STATUS_OK, "%s", err.message);
    token_batch_free(&tb);
    llama_free(&m);
    double merged = loss_of(out, NULL, tokens), f32 = loss_of(mpath, apath, tokens);
    fprintf(stderr, "export --base-dtype nf4: %.9g, nf4 base + adapter %.9g, f32 base + adapter %.9g\n", merged, r.loss, f32);
    ck_assert_msg(golden_rel_err(merged, r.loss) <= 1e-5, "%.9g vs %.9g", merged, r.loss);
    ck_assert_msg(golden_rel_err(f32, r.loss) > 1e-4, "nf4 changes nothing");
    free(dir);
}
END_TEST

/* make-tiny args -> exit code of export; out must not exist afterwards */
static int export_of(const char *const *args, int n, const char *format, const char *dir) {
    char mpath[1100], apath[1100], out[1100];
    char *argv[64] = { "make-tiny" };
    int argc = 1;
    snprintf(mpath, sizeof mpath, "%s/model", dir);
    snprintf(apath, sizeof apath, "%s/adapter", dir);
    for (int i = 0; i < n; i++) argv[argc++] = (char *)args[i];
    MakeTinySpec s;
    make_tiny_defaults(&s);
    Error err;
    int help;
    ck_assert_msg(make_tiny_parse(&s, argc, argv, 1, &help, &err) == STATUS_OK, "%s", err.message);
    s.out = mpath;
    s.adapter_out = apath;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
    snprintf(out, sizeof out, "%s/out", dir);
    int rc = run_export(mpath, apath, out, format);
    struct stat st;
    ck_assert_msg(stat(out, &st) != 0, "a refused export left %s", out);
    return rc;
}

START_TEST(test_export_refuses) {
    static const char *const molora[] = { "--format", "hf", "--dim", "16", "--layers", "1", "--heads", "2",
                                          "--kv-heads", "1", "--hidden", "32", "--vocab", "40", "--adapter", "molora",
                                          "--experts", "3", "--top-k", "2" };
    static const char *const adamoe[] = { "--format", "hf", "--dim", "16", "--layers", "1", "--heads", "2",
                                          "--kv-heads", "1", "--hidden", "32", "--vocab", "40", "--adapter", "adamoe",
                                          "--experts", "2", "--null", "2", "--top-k", "2" };
    static const char *const moeffn[] = { "--format", "hf", "--arch", "mixtral", "--model-experts", "4", "--model-top-k",
                                          "2", "--dim", "16", "--layers", "1", "--heads", "2", "--kv-heads", "1",
                                          "--hidden", "32", "--vocab", "40", "--adapter", "moe-ffn", "--null", "2",
                                          "--top-k", "3" };
    static const char *const qwen2[] = { "--format", "hf", "--arch", "qwen2", "--dim", "16", "--layers", "1",
                                         "--heads", "2", "--kv-heads", "1", "--hidden", "32", "--vocab", "40" };
    char *dir = tmp_dir_new(), sub[600];
    snprintf(sub, sizeof sub, "%s/1", dir);
    ck_assert_int_eq(export_of(molora, 20, "hf", sub), 1);
    snprintf(sub, sizeof sub, "%s/2", dir);
    ck_assert_int_eq(export_of(adamoe, 22, "hf", sub), 1);
    snprintf(sub, sizeof sub, "%s/3", dir);
    ck_assert_int_eq(export_of(moeffn, 26, "hf", sub), 1);
    snprintf(sub, sizeof sub, "%s/4", dir);
    ck_assert_int_eq(export_of(qwen2, 16, "llama2c", sub), 1);
    AdapterConfig a = { .kind = ADAPTER_ADAMOE };
    Error err;
    ck_assert_int_eq(lora_merge_check(&a, "runs/x/adapter", &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "depends on the input") && strstr(err.hint, "generate") &&
                  strstr(err.hint, "runs/x/adapter"), "%s / %s", err.message, err.hint);
    free(dir);
}
END_TEST

Suite *export_suite(void) {
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_export_golden, 0, 2);
    tcase_add_loop_test(tc, test_export_logits, 0, 4);
    tcase_add_test(tc, test_export_refuses);
    tcase_add_test(tc, test_export_quantised_base);
    suite_add_tcase(s, tc);
    return s;
}
