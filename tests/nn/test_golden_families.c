/* tests/nn/test_golden_families.c — the model families of issue 11 against PyTorch
   (tests/golden, made by regen.sh with shared/tools/torch_ref.py and families_ref.py; no Python
   at test time): Llama 3.x rope_scaling "llama3" (sequences past original_max_position_embeddings)
   and Qwen2 / Llama attention_bias biases.
   - family_torch_*: model/ and adapter/ written by torch_ref.py itself (so the C loader reads
     torch's qwen2 and llama3 config.json), forward + backward on tokens.json against out.json /
     grads.safetensors with the tolerances of test_golden_parity.c (loss 1e-5, gradients 1e-4
     max-abs-normalised, norms 1e-4, logits, aux 1e-5, Load / null / bypass equal).
   - every family fixture (the C-written ones rebuilt from args with make_tiny_write): greedy
     generation through the KV-cache decoder equals gen.json (torch_ref's Forward, full
     recompute per step, identical in float32 and float64) token for token.
   - the comparisons can fail: without the llama3 rescaling, or with the biases zeroed, the loss
     moves away from PyTorch's. */
#include "tests/support/suites.h"
#include "tests/support/golden_grads.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "nn/checkpoint.h"
#include "nn/generate.h"
#include "cli/make_tiny.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TORCH_FIXTURES[] = { "family_torch_qwen2_lora", "family_torch_llama3_adamoe" };
static const char *const ALL_FIXTURES[] = { "family_torch_qwen2_lora", "family_torch_llama3_adamoe",
                                            "llama3_lora_f32", "llama3_adamoe_bias", "qwen2_lora_hd20",
                                            "qwen2_adamoe_bf16" };
#define N_TORCH ((int)(sizeof TORCH_FIXTURES / sizeof TORCH_FIXTURES[0]))
#define N_ALL ((int)(sizeof ALL_FIXTURES / sizeof ALL_FIXTURES[0]))

static void load_dirs(const char *mpath, const char *apath, LlamaModel *m) {
    Error err;
    AdapterConfig acfg;
    ck_assert_msg(adapter_read_config(apath, &acfg, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(model_load(m, mpath, &acfg, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(adapter_load(m, apath, &err) == STATUS_OK, "%s", err.message);
}

/* NAME/model + NAME/adapter (torch-written), or rebuilt from NAME/args in a temp dir (*tmp) */
static void load_fixture(const char *name, LlamaModel *m, char **tmp) {
    char mpath[256], apath[256];
    *tmp = NULL;
    if (!strncmp(name, "family_torch_", 13)) {
        snprintf(mpath, sizeof mpath, GOLDEN "/%s/model", name);
        snprintf(apath, sizeof apath, GOLDEN "/%s/adapter", name);
        load_dirs(mpath, apath, m);
        return;
    }
    char buf[1024], *argv[64];
    int argc = golden_read_args(name, buf, sizeof buf, argv, 64), help;
    MakeTinySpec s;
    Error err;
    make_tiny_defaults(&s);
    ck_assert_msg(make_tiny_parse(&s, argc, argv, 1, &help, &err) == STATUS_OK, "%s/args: %s", name, err.message);
    *tmp = tmp_dir_new();
    snprintf(mpath, sizeof mpath, "%s/model", *tmp);
    snprintf(apath, sizeof apath, "%s/adapter", *tmp);
    s.out = mpath;
    s.adapter_out = apath;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s: %s", name, err.message);
    load_dirs(mpath, apath, m);
}

static void unload(LlamaModel *m, char *tmp) {
    llama_free(m);
    if (!tmp) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
    free(tmp);
}

typedef struct { double loss, ce, first8, sum, aux, load, grad, norm; int n_grads; } FamErr;

/* aux per layer (relative; aux_sum_err is the summed aux's) and the per-layer router statistics */
static void compare_routers(const JsonValue *ref, const LlamaModel *m, double aux_sum_err, FamErr *e) {
    static const char *const keys[3] = { "load_per_layer", "null_fraction_per_layer", "bypass_fraction_per_layer" };
    const JsonValue *al = json_get(ref, "aux_per_layer");
    ck_assert(al && (int)al->count == m->cfg.n_layers);
    e->aux = aux_sum_err;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        e->aux = fmax(e->aux, golden_rel_err(m->moe->aux_per_layer[l], al->items[l].number));
        MoeSummary s;
        moe_summary_layer(&m->moe->stats, l, &s);
        double mine[3] = { s.load, s.null_fraction, s.bypass_fraction };
        for (int k = 0; k < 3; k++) {
            const JsonValue *v = json_get(ref, keys[k]);
            ck_assert(v && (int)v->count == m->cfg.n_layers);
            e->load = fmax(e->load, fabs(mine[k] - v->items[l].number));
        }
    }
}

/* forward + backward on NAME/tokens.json, compared with NAME/out.json (+ grads when with_grads) */
static FamErr run_parity(const char *name, LlamaModel *m, int with_grads) {
    char path[256];
    Error err;
    TokenBatch tb;
    ForwardBackwardResult r;
    FamErr e = { 0 };
    snprintf(path, sizeof path, GOLDEN "/%s/tokens.json", name);
    ck_assert_msg(token_batch_load(path, &m->cfg, &tb, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(forward_backward_run(m, &tb, &r, &err) == STATUS_OK, "%s", err.message);
    JsonDoc doc;
    snprintf(path, sizeof path, GOLDEN "/%s/out.json", name);
    ck_assert_msg(json_parse_file(&doc, path, &err) == STATUS_OK, "%s", err.message);
    double loss, ce, sum, aux;
    ck_assert(json_get_number(doc.root, "loss", &loss) && json_get_number(doc.root, "ce", &ce));
    ck_assert(json_get_number(doc.root, "logits_sum", &sum) && json_get_number(doc.root, "aux_sum", &aux));
    if (m->moe) compare_routers(doc.root, m, golden_rel_err(r.aux, aux), &e);
    e.loss = golden_rel_err(r.loss, loss);
    e.ce = golden_rel_err(r.ce, ce);
    e.sum = fabs(r.logits_sum - sum) / r.logits_abs_sum;
    e.first8 = golden_first8_error(doc.root, &r);
    e.norm = golden_grad_norms_error(doc.root, m);
    json_doc_free(&doc);
    snprintf(path, sizeof path, GOLDEN "/%s/grads.safetensors", name);
    if (with_grads) e.grad = golden_grad_error(path, m, &e.n_grads);
    token_batch_free(&tb);
    return e;
}

START_TEST(test_family_torch_parity)
{
    const char *name = TORCH_FIXTURES[_i];
    LlamaModel m;
    char *tmp;
    load_fixture(name, &m, &tmp);
    ck_assert_int_ne(m.cfg.bias_targets, 0);
    FamErr e = run_parity(name, &m, 1);
    if (getenv("PARITY_VERBOSE"))
        printf("family %-28s loss %.2e ce %.2e logits %.2e sum %.2e aux %.2e load %.2e grad %.2e (%d) norms %.2e\n",
               name, e.loss, e.ce, e.first8, e.sum, e.aux, e.load, e.grad, e.n_grads, e.norm);
    ck_assert_msg(e.loss <= 1e-5 && e.ce <= 1e-5, "%s: loss %g ce %g", name, e.loss, e.ce);
    ck_assert_msg(e.first8 <= 1e-5 && e.sum <= 1e-6, "%s: logits %g sum %g", name, e.first8, e.sum);
    ck_assert_msg(e.aux <= 1e-5 && e.load <= 1e-9, "%s: aux %g, Load / null / bypass differ by %g", name, e.aux, e.load);
    ck_assert_msg(e.grad <= 1e-4 && e.norm <= 1e-4, "%s: grad %g norms %g", name, e.grad, e.norm);
    ck_assert_int_gt(e.n_grads, 0);
    unload(&m, tmp);
}
END_TEST

START_TEST(test_family_generation)
{
    const char *name = ALL_FIXTURES[_i];
    LlamaModel m;
    char *tmp, path[256];
    Error err;
    load_fixture(name, &m, &tmp);
    JsonDoc doc;
    snprintf(path, sizeof path, GOLDEN "/%s/gen.json", name);
    ck_assert_msg(json_parse_file(&doc, path, &err) == STATUS_OK, "%s", err.message);
    const JsonValue *pv = json_get(doc.root, "prompt_ids"), *gv = json_get(doc.root, "generated_ids");
    ck_assert(pv && gv && pv->count > 0 && gv->count > 0 && pv->count + gv->count <= 128);
    int prompt[128], out[128], n_out = 0;
    for (size_t i = 0; i < pv->count; i++) prompt[i] = (int)pv->items[i].number;
    GenerateConfig gc = generate_config_default();
    gc.steps = (int)gv->count;
    gc.temperature = 0;
    ck_assert_msg(llama_generate(&m, prompt, (int)pv->count, &gc, NULL, NULL, out, &n_out, &err) == STATUS_OK,
                  "%s", err.message);
    ck_assert_int_eq(n_out, (int)gv->count);
    for (int i = 0; i < n_out; i++)
        ck_assert_msg(out[i] == (int)gv->items[i].number, "%s: generated id %d is %d, PyTorch %d", name, i, out[i],
                      (int)gv->items[i].number);
    json_doc_free(&doc);
    unload(&m, tmp);
}
END_TEST

/* Llama 3 fixture without its rescaling: the frequencies of the positions past the original
   context are wrong, and the loss leaves PyTorch's */
START_TEST(test_family_detects_unscaled_rope)
{
    LlamaModel m;
    char *tmp;
    load_fixture("family_torch_llama3_adamoe", &m, &tmp);
    ck_assert_int_eq(m.cfg.rope_scaling, ROPE_SCALING_LLAMA3);
    m.cfg.rope_scaling = ROPE_SCALING_NONE;
    rope_table_free(&m.rope);
    rope_table_init(&m.rope, NULL, m.cfg.max_seq_len, m.cfg.head_dim, m.cfg.rope_theta);
    FamErr e = run_parity("family_torch_llama3_adamoe", &m, 0);
    ck_assert_msg(e.loss > 1e-4, "unscaled RoPE still matched (loss rel err %g)", e.loss);
    unload(&m, tmp);
}
END_TEST

/* Qwen2 fixture with its q/k/v biases zeroed: the loss leaves PyTorch's */
START_TEST(test_family_detects_missing_bias)
{
    LlamaModel m;
    char *tmp;
    load_fixture("family_torch_qwen2_lora", &m, &tmp);
    int n = 0;
    for (int i = 0; i < m.ps.n; i++) {
        Tensor *t = m.ps.params[i];
        if (!strstr(t->name, ".bias")) continue;
        for (size_t j = 0; j < t->numel; j++) t->data[j] = 0;
        n++;
    }
    ck_assert_int_eq(n, 3 * m.cfg.n_layers);   /* q, k, v per layer; no o_proj bias on Qwen2 */
    FamErr e = run_parity("family_torch_qwen2_lora", &m, 0);
    ck_assert_msg(e.loss > 1e-4, "zero biases still matched (loss rel err %g)", e.loss);
    unload(&m, tmp);
}
END_TEST

Suite *golden_families_suite(void) {
    Suite *s = suite_create("golden_families");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_family_torch_parity, 0, N_TORCH);
    tcase_add_loop_test(tc, test_family_generation, 0, N_ALL);
    tcase_add_test(tc, test_family_detects_unscaled_rope);
    tcase_add_test(tc, test_family_detects_missing_bias);
    suite_add_tcase(s, tc);
    return s;
}
