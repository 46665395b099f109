/* tests/nn/test_golden_quant.c — a quantised frozen base (--base-dtype nf4 | nf4-nodq | int8,
   --expert-dtype) against our own PyTorch reference, tests/golden/quant_ref.py (regen.sh quant), which
   quantises the base from the definitions in float32 on top of torch_ref.py's model and adapters.
   For each quant_* fixture the model + adapter are rebuilt from NAME/args (make_tiny_write), loaded
   with NAME/base_args (as forward-backward does) and run forward + backward on NAME/tokens.json:
     loss, ce        relative error <= 1e-5 (and the f32 base must miss it by > 1e-4: the
                     quantisation is visible, so the comparison can fail)
     gradients       max|g - g_ref| / max|g_ref| <= 1e-4 per adapter tensor; norms 1e-4
   Fixtures: NF4 (double-quantised scales) with LoRA on an HF f32 model whose down_proj rows are 96
   wide (blocks of 64 cross rows); NF4 with f32 scales and an AdaMoE adapter on a llama2.c model;
   int8 on an HF bf16 model (tied); a Mixtral model with NF4 attention and int8 experts
   (--expert-dtype). Also: the storage really is 4 / 8 bits (bytes per quantised weight). */
#include "tests/support/suites.h"
#include "tests/support/golden_grads.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/forward_backward.h"
#include "cli/make_tiny.h"
#include "cli/model_flags.h"
#include "data/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FIXTURES[] = { "quant_nf4_hf_lora", "quant_nf4nodq_llama2c_adamoe",
                                        "quant_int8_hf_bf16_lora", "quant_mixtral_nf4_experts_int8" };
#define N_FIXTURES ((int)(sizeof FIXTURES / sizeof FIXTURES[0]))

/* NAME/base_args ("--base-dtype X [--expert-dtype Y]") -> the loaders' code */
static int base_code(const char *name) {
    char path[256], buf[256], *w[4] = { 0 };
    snprintf(path, sizeof path, GOLDEN "/%s/base_args", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "missing %s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    int k = 0;
    for (char *t = strtok(buf, " \t\r\n"); t && k < 4; t = strtok(NULL, " \t\r\n")) w[k++] = t;
    ck_assert_msg(k >= 2 && !strcmp(w[0], "--base-dtype") && (k == 2 || (k == 4 && !strcmp(w[2], "--expert-dtype"))),
                  "%s: expected --base-dtype X [--expert-dtype Y]", path);
    int code;
    Error err;
    ck_assert_msg(base_dtype_code(w[1], k == 4 ? w[3] : NULL, 0, &code, &err) == STATUS_OK, "%s", err.message);
    return code;
}

/* the fixture's model + adapter in dir, loaded with storage code */
static void build_and_load(const char *name, const char *dir, int code, LlamaModel *m) {
    char buf[1024], mpath[256], apath[256], *argv[64];
    int argc = golden_read_args(name, buf, sizeof buf, argv, 64), help;
    MakeTinySpec s;
    make_tiny_defaults(&s);
    Error err;
    ck_assert_msg(make_tiny_parse(&s, argc, argv, 1, &help, &err) == STATUS_OK, "%s", err.message);
    snprintf(mpath, sizeof mpath, "%s/model", dir);
    snprintf(apath, sizeof apath, "%s/adapter", dir);
    s.out = mpath;
    s.adapter_out = apath;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s", err.message);
    AdapterConfig acfg;
    ck_assert_msg(adapter_read_config(apath, &acfg, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(model_load(m, mpath, &acfg, code, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(adapter_load(m, apath, &err) == STATUS_OK, "%s", err.message);
}

static ForwardBackwardResult forward_backward(const char *name, LlamaModel *m) {
    char path[256];
    TokenBatch tb;
    ForwardBackwardResult r;
    Error err;
    snprintf(path, sizeof path, GOLDEN "/%s/tokens.json", name);
    ck_assert_msg(token_batch_load(path, &m->cfg, &tb, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(forward_backward_run(m, &tb, &r, &err) == STATUS_OK, "%s", err.message);
    token_batch_free(&tb);
    return r;
}

START_TEST(test_golden_quant) {
    const char *name = FIXTURES[_i];
    char *dir = tmp_dir_new(), path[256];
    int code = base_code(name);
    LlamaModel m, f;
    build_and_load(name, dir, code, &m);
    ck_assert_msg(m.ps.frozen_q_bytes > 0, "%s: nothing was quantised", name);
    ForwardBackwardResult r = forward_backward(name, &m);
    JsonDoc doc;
    Error err;
    snprintf(path, sizeof path, GOLDEN "/%s/out.json", name);
    ck_assert_msg(json_parse_file(&doc, path, &err) == STATUS_OK, "%s", err.message);
    double loss = json_get(doc.root, "loss")->number, ce = json_get(doc.root, "ce")->number;
    double loss_rel = golden_rel_err(r.loss, loss), ce_rel = golden_rel_err(r.ce, ce);
    double norms = golden_grad_norms_error(doc.root, &m);
    snprintf(path, sizeof path, GOLDEN "/%s/grads.safetensors", name);
    int n_grads;
    double grad = golden_grad_error(path, &m, &n_grads);
    build_and_load(name, dir, BASE_DTYPE_F32, &f);
    ForwardBackwardResult rf = forward_backward(name, &f);
    fprintf(stderr, "%s: loss %.9g (torch %.9g, rel %.2e; f32 base %.9g), grads %.2e over %d tensors, norms %.2e\n",
            name, r.loss, loss, loss_rel, rf.loss, grad, n_grads, norms);
    ck_assert_msg(loss_rel <= 1e-5 && ce_rel <= 1e-5, "%s: loss %.9g vs %.9g", name, r.loss, loss);
    ck_assert_msg(grad <= 1e-4 && norms <= 1e-4, "%s: gradient error %g, norms %g", name, grad, norms);
    ck_assert_msg(golden_rel_err(rf.loss, loss) > 1e-4, "%s: the f32 base gives the same loss", name);
    json_doc_free(&doc);
    llama_free(&m);
    llama_free(&f);
    free(dir);
}
END_TEST

/* bytes of storage per quantised weight: NF4 4.5 bits (f32 scale per 64), 4.127 with double
   quantisation (an int8 per 64 + an f32 per 256·64), int8 8 bits + an f32 per row */
START_TEST(test_quant_storage_size) {
    ModelConfig c = tiny_config(0);
    c.dim = 256; c.hidden_dim = 512; c.n_heads = 4; c.head_dim = 64; c.n_kv_heads = 2;
    AdapterConfig a = { .kind = ADAPTER_LORA, .rank = 4, .alpha = 8, .targets = LORA_TARGET_Q | LORA_TARGET_V };
    static const int codes[3] = { BASE_DTYPE_NF4, BASE_DTYPE_NF4_NODQ, BASE_DTYPE_INT8 };
    static const double bits[3] = { 4.127, 4.5, 8.1 };   /* int8: + 32 bits per row of 256..512 */
    for (int k = 0; k < 3; k++) {
        LlamaModel m;
        llama_declare(&m, &c, &a, codes[k]);
        size_t nq = 0;
        for (int i = 0; i < m.ps.n; i++) if (m.ps.params[i]->quant) nq += m.ps.params[i]->numel;
        double b = 8.0 * (double)m.ps.frozen_q_bytes / (double)nq;
        ck_assert_msg(nq > 0 && fabs(b - bits[k]) < 0.1 && !m.tok_emb->quant && m.tok_emb->bf16,
                      "code %d: %.3f bits per weight", codes[k], b);
        llama_free(&m);
    }
}
END_TEST

/* KV-cache decoding (nn/generate.c's quantised matvec) against the full forward (gemm_quant), on a
   Mixtral model with NF4 attention and int8 experts and a dense one with NF4 everywhere */
START_TEST(test_quant_decode_vs_full) {
    ModelConfig cs[2] = { tiny_config(0), tiny_mixtral_config() };
    static const int codes[2] = { BASE_DTYPE_NF4, BASE_DTYPE_NF4 + BASE_DTYPE_EXPERTS(BASE_DTYPE_INT8) };
    AdapterConfig a = { .kind = ADAPTER_NONE };
    int ids[12] = { 1, 5, 9, 3, 17, 22, 4, 8, 30, 2, 11, 6 };
    for (int k = 0; k < 2; k++) {
        LlamaModel m;
        llama_declare(&m, &cs[k], &a, codes[k]);
        llama_init_base_random(&m, 7, 0.3);
        double d = decode_vs_full(&m, ids, 12);
        ck_assert_msg(m.ps.frozen_q_bytes > 0 && d < 1e-4, "model %d: decode vs full %g", k, d);
        llama_free(&m);
    }
}
END_TEST

Suite *golden_quant_suite(void) {
    Suite *s = suite_create("golden_quant");
    TCase *tc = tcase_create("quant");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_golden_quant, 0, N_FIXTURES);
    tcase_add_test(tc, test_quant_storage_size);
    tcase_add_test(tc, test_quant_decode_vs_full);
    suite_add_tcase(s, tc);
    return s;
}
