/* tests/nn/test_golden_mixtral.c — Mixtral MoE FFN models and moe-ffn (AdaMoE gate2) adapters against
   PyTorch (tests/golden/mixtral_*, written by regen.sh with shared/tools/torch_ref.py: model
   from make-tiny --arch mixtral, adapter from init-adapter --adapter-kind moe-ffn --nonzero-b;
   no Python at test time). Each fixture's HF dir (+ adapter dir) is loaded as the CLI does, run
   forward + backward on tokens.json and compared with out.json / grads.safetensors:
     loss, ce           relative error <= 1e-5;  logits first 8 within 1e-5·max(1, |l|), sum within
                        1e-6 · sum|logits|
     aux                per layer and summed, relative error <= 1e-5
     routers            Load, null and bypass fraction per layer equal (1e-9: the same selections)
     gradients          every adapter tensor incl. gate2 and expert LoRAs:
                        max|g - g_ref| / max|g_ref| <= 1e-4; norms relative error <= 1e-4 */
#include "tests/support/suites.h"
#include "tests/support/golden_grads.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "nn/checkpoint.h"
#include "nn/forward_backward.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const FIXTURES[] = { "mixtral_base_e4k2", "mixtral_moeffn_m3k3_random",
                                        "mixtral_moeffn_m2k3_allsel_identity", "mixtral_c_lora_q_gate_down",
                                        "mixtral_c_moeffn_copy_m5k4" };
#define N_FIXTURES ((int)(sizeof FIXTURES / sizeof FIXTURES[0]))

typedef struct {
    double loss, ce, first8, sum, aux, load, grad, norm;
    int n_grads;
} MixErr;

static void compare_routers(const JsonValue *ref, const LlamaModel *m, MixErr *e) {
    static const char *const keys[3] = { "load_per_layer", "null_fraction_per_layer", "bypass_fraction_per_layer" };
    const JsonValue *al = json_get(ref, "aux_per_layer");
    ck_assert(al && (int)al->count == m->cfg.n_layers);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        e->aux = fmax(e->aux, golden_rel_err(m->moe->aux_per_layer[l], al->items[l].number));
        MoeSummary s;
        moe_summary_layer(&m->moe->stats, l, &s);
        ck_assert(s.tokens > 0);
        double mine[3] = { s.load, s.null_fraction, s.bypass_fraction };
        for (int k = 0; k < 3; k++) {
            const JsonValue *v = json_get(ref, keys[k]);
            ck_assert(v && (int)v->count == m->cfg.n_layers);
            e->load = fmax(e->load, fabs(mine[k] - v->items[l].number));
        }
    }
}

static void compare_summary(const JsonValue *ref, const ForwardBackwardResult *r, const LlamaModel *m, MixErr *e) {
    double loss, ce, sum, aux;
    ck_assert(json_get_number(ref, "loss", &loss) && json_get_number(ref, "ce", &ce));
    ck_assert(json_get_number(ref, "logits_sum", &sum) && json_get_number(ref, "aux_sum", &aux));
    ck_assert_ptr_nonnull(m->moe);
    compare_routers(ref, m, e);
    e->aux = fmax(e->aux, golden_rel_err(r->aux, aux));
    e->loss = golden_rel_err(r->loss, loss);
    e->ce = golden_rel_err(r->ce, ce);
    e->sum = fabs(r->logits_sum - sum) / r->logits_abs_sum;
    const JsonValue *f8 = json_get(ref, "logits_pos0_first8");
    ck_assert(f8 && (int)f8->count == r->n_first8);
    for (int j = 0; j < r->n_first8; j++)
        e->first8 = fmax(e->first8, fabs(r->logits_pos0_first8[j] - f8->items[j].number) / fmax(1.0, fabs(f8->items[j].number)));
    const JsonValue *gn = json_get(ref, "grad_norms");
    for (size_t i = 0; gn && i < gn->count; i++) {
        const Tensor *t = param_find(&m->ps, gn->keys[i] + strlen(ADAPTER_KEY_PREFIX));
        ck_assert_msg(t && t->grad, "grad_norms key %s is not an adapter tensor", gn->keys[i]);
        double ss = 0;
        for (size_t j = 0; j < t->numel; j++) ss += (double)t->grad[j] * (double)t->grad[j];
        e->norm = fmax(e->norm, golden_rel_err(sqrt(ss), gn->items[i].number));
    }
}

/* loads NAME/model (+ NAME/adapter when present) */
static int load_fixture(const char *name, LlamaModel *m) {
    char mpath[256], apath[256];
    Error err;
    AdapterConfig acfg = { 0 };
    snprintf(mpath, sizeof mpath, GOLDEN "/%s/model", name);
    snprintf(apath, sizeof apath, GOLDEN "/%s/adapter", name);
    FILE *f = fopen(mpath, "r");
    ck_assert_msg(f != NULL, "missing fixture %s (run from the repo root; tests/golden/regen.sh)", mpath);
    fclose(f);
    char cfgp[300];
    snprintf(cfgp, sizeof cfgp, "%s/adapter_config.json", apath);
    int has_adapter = (f = fopen(cfgp, "r")) != NULL;
    if (f) fclose(f);
    if (has_adapter) ck_assert_msg(adapter_read_config(apath, &acfg, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(model_load(m, mpath, &acfg, 0, &err) == STATUS_OK, "%s", err.message);
    if (has_adapter) ck_assert_msg(adapter_load(m, apath, &err) == STATUS_OK, "%s", err.message);
    return has_adapter;
}

START_TEST(test_mixtral_golden)
{
    const char *name = FIXTURES[_i];
    LlamaModel m;
    int has_adapter = load_fixture(name, &m);
    ck_assert_int_gt(m.cfg.n_experts, 0);
    char path[256];
    Error err;
    TokenBatch tb;
    ForwardBackwardResult r;
    snprintf(path, sizeof path, GOLDEN "/%s/tokens.json", name);
    ck_assert_msg(token_batch_load(path, &m.cfg, &tb, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(forward_backward_run(&m, &tb, &r, &err) == STATUS_OK, "%s", err.message);
    MixErr e = { 0 };
    JsonDoc doc;
    snprintf(path, sizeof path, GOLDEN "/%s/out.json", name);
    ck_assert_msg(json_parse_file(&doc, path, &err) == STATUS_OK, "%s", err.message);
    compare_summary(doc.root, &r, &m, &e);
    json_doc_free(&doc);
    if (has_adapter) {
        snprintf(path, sizeof path, GOLDEN "/%s/grads.safetensors", name);
        e.grad = golden_grad_error(path, &m, &e.n_grads);
        ck_assert_int_gt(e.n_grads, 0);
    }
    if (getenv("PARITY_VERBOSE"))
        printf("mixtral %-36s loss %.2e ce %.2e logits %.2e sum %.2e aux %.2e load %.2e grad %.2e (%d) norms %.2e\n",
               name, e.loss, e.ce, e.first8, e.sum, e.aux, e.load, e.grad, e.n_grads, e.norm);
    ck_assert_msg(e.loss <= 1e-5 && e.ce <= 1e-5, "%s: loss %g ce %g", name, e.loss, e.ce);
    ck_assert_msg(e.first8 <= 1e-5 && e.sum <= 1e-6, "%s: logits %g sum %g", name, e.first8, e.sum);
    ck_assert_msg(e.aux <= 1e-5, "%s: aux rel err %g", name, e.aux);
    ck_assert_msg(e.load <= 1e-9, "%s: Load / null / bypass differ by %g", name, e.load);
    ck_assert_msg(e.grad <= 1e-4 && e.norm <= 1e-4, "%s: grad %g norms %g", name, e.grad, e.norm);
    token_batch_free(&tb);
    llama_free(&m);
}
END_TEST

Suite *mixtral_suite(void) {
    Suite *s = suite_create("mixtral");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_mixtral_golden, 0, N_FIXTURES);
    suite_add_tcase(s, tc);
    return s;
}
