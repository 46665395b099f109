/* tests/nn/test_golden_variants.c — golden parity of the routing variants (top-p + entropy loss,
   dense, expert choice, stochastic's evaluation rule, constant and identity null experts, shared
   experts, per-layer lists) against our own PyTorch reference: tests/golden/variant_*, made by
   regen.sh with tests/golden/variants_ref.py (on top of shared/tools/torch_ref.py; float64). No
   Python at test time.
   For each fixture the model is rebuilt from NAME/args with make_tiny_write (as tests/nn/test_golden_parity.c);
   the adapter is the committed NAME/adapter, written by the Python side (the "moe" object's
   variant keys, shared / constant-null tensors, per-layer lists: the C reader meets a file it did
   not write). forward + backward on NAME/tokens.json, compared with NAME/out.json and
   NAME/grads.safetensors:
     loss, ce                    relative error <= 1e-5
     entropy term                |(loss - ce - aux_coef·aux_sum) - entropy_coef·entropy| <= 1e-5·max(1, |loss|)
     aux per layer and aux_sum   relative error <= 1e-5 (an exact zero must stay zero)
     Load, null, bypass fraction per layer equal (1e-9: the same selections)
     every gradient              max|g_c - g_ref| / max|g_ref| <= 1e-4 per tensor (exact zeros stay zero)
     per-tensor gradient norms   relative error <= 1e-4; logits: first 8 within 1e-5·max(1, |l|),
                                 sum within 1e-6 · sum |logits|   (float build; double build below)
   Double build: the reference is float64 too, so every value must agree to rounding (1e-12), and
   the gradients to their F32 storage (1e-6) — a check of the semantics far below float noise.
   Stochastic routing draws a random expert in training; its fixture holds the evaluation rule
   (every true expert, weight 1/n), selected with MoeState.stochastic_rule = 2.
   Pre-gating (variant_pregate_*: 3 layers, layers 1 and 2 route on the previous layer's module
   inputs) is checked the same way.
   The comparison must be able to fail: the top-p fixture routed top-k, the expert-choice fixture
   routed top-k, the stochastic fixture with its training rule and the pre-gated fixtures routed
   on their own inputs must all differ. */
#include "tests/support/suites.h"
#include "tests/support/golden_grads.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "nn/checkpoint.h"
#include "cli/make_tiny.h"
#include "nn/forward_backward.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const FIXTURES[] = { "variant_topp_const_entropy", "variant_dense_identity_shared",
                                        "variant_topk_const_shared", "variant_layers_allsel_const",
                                        "variant_layers_topp_molora", "variant_expert_choice",
                                        "variant_expert_choice_layers", "variant_stochastic_eval",
                                        "variant_pregate_adamoe", "variant_pregate_topp_layers" };
#define N_FIXTURES ((int)(sizeof FIXTURES / sizeof FIXTURES[0]))

#define TOL_VALUE (REAL_IS_DOUBLE ? 1e-12 : 1e-5)   /* loss, ce, entropy, aux, logits */
#define TOL_GRAD (REAL_IS_DOUBLE ? 1e-6 : 1e-4)     /* gradients (stored as F32 in the file) */

enum { AS_IS, ROUTE_TOPK_INSTEAD, STOCHASTIC_TRAINING_RULE, PREGATE_OFF };   /* what run_fixture changes */

typedef struct {
    double loss, ce, entropy, aux, load, grad, norm, logits, logits_sum;
    int n_grads;
} VariantErr;

static double number(const JsonValue *o, const char *key) {
    double v;
    ck_assert_msg(json_get_number(o, key, &v), "out.json: missing number \"%s\"", key);
    return v;
}

/* out.json's per-layer array `key` (one number per layer) */
static const JsonValue *layer_array(const JsonValue *o, const char *key, int n_layers) {
    const JsonValue *a = json_get(o, key);
    ck_assert_msg(a && a->type == JSON_ARRAY && (int)a->count == n_layers, "out.json: \"%s\" needs %d values", key,
                  n_layers);
    return a;
}

/* the model from NAME/args written to dir/model, loaded with the committed NAME/adapter */
static void load_fixture(const char *name, const char *dir, int change, LlamaModel *m) {
    char buf[1024], mpath[256], adir[256], *argv[64];
    int argc = golden_read_args(name, buf, sizeof buf, argv, 64), help;
    MakeTinySpec s;
    make_tiny_defaults(&s);
    Error err;
    ck_assert_msg(make_tiny_parse(&s, argc, argv, 1, &help, &err) == STATUS_OK, "%s/args: %s", name, err.message);
    snprintf(mpath, sizeof mpath, "%s/model", dir);
    s.out = mpath;
    ck_assert_msg(make_tiny_write(&s, &err) == STATUS_OK, "%s: make_tiny_write: %s", name, err.message);
    snprintf(adir, sizeof adir, GOLDEN "/%s/adapter", name);
    AdapterConfig acfg;
    ck_assert_msg(adapter_read_config(adir, &acfg, &err) == STATUS_OK, "%s", err.message);
    if (change == ROUTE_TOPK_INSTEAD) acfg.routing = MOE_ROUTING_TOPK;
    if (change == PREGATE_OFF) acfg.pregate = 0;
    ck_assert_msg(model_load(m, mpath, &acfg, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(adapter_load(m, adir, &err) == STATUS_OK, "%s", err.message);
    ck_assert(m->moe != NULL);
    if (acfg.routing == MOE_ROUTING_STOCHASTIC) m->moe->stochastic_rule = change == STOCHASTIC_TRAINING_RULE ? 1 : 2;
}

/* aux per layer (relative), router statistics per layer (absolute), entropy term */
static void compare_routers(const JsonValue *ref, const ForwardBackwardResult *r, const LlamaModel *m, VariantErr *e) {
    int L = m->cfg.n_layers;
    const JsonValue *al = layer_array(ref, "aux_per_layer", L);
    static const char *const keys[3] = { "load_per_layer", "null_fraction_per_layer", "bypass_fraction_per_layer" };
    e->aux = golden_rel_err(r->aux, number(ref, "aux_sum"));
    for (int l = 0; l < L; l++) {
        e->aux = fmax(e->aux, golden_rel_err(m->moe->aux_per_layer[l], al->items[l].number));
        MoeSummary s;
        moe_summary_layer(&m->moe->stats, l, &s);
        double mine[3] = { s.load, s.null_fraction, s.bypass_fraction };
        for (int k = 0; k < 3; k++)
            e->load = fmax(e->load, fabs(mine[k] - layer_array(ref, keys[k], L)->items[l].number));
    }
    double aux_term = m->acfg.aux == MOE_AUX_NONE ? 0 : m->acfg.aux_coef * r->aux;
    double ent_ref = number(ref, "entropy_coef") * number(ref, "entropy_loss");
    ck_assert(number(ref, "entropy_coef") == m->acfg.entropy_coef && number(ref, "aux_coef") == m->acfg.aux_coef);
    e->entropy = fabs((r->loss - r->ce - aux_term) - ent_ref) / fmax(1.0, fabs(r->loss));
}

static void compare_summary(const JsonValue *ref, const ForwardBackwardResult *r, const LlamaModel *m, VariantErr *e) {
    const char *kind;
    long long nt, ntt;
    ck_assert(json_get_string(ref, "adapter", &kind) && !strcmp(kind, adapter_kind_name(m->acfg.kind)));
    ck_assert(json_get_int(ref, "n_tokens", &nt) && json_get_int(ref, "n_target_tokens", &ntt));
    ck_assert_int_eq(nt, r->n_tokens);
    ck_assert_int_eq(ntt, r->n_target_tokens);
    compare_routers(ref, r, m, e);
    e->loss = golden_rel_err(r->loss, number(ref, "loss"));
    e->ce = golden_rel_err(r->ce, number(ref, "ce"));
    e->logits_sum = fabs(r->logits_sum - number(ref, "logits_sum")) / r->logits_abs_sum;
    e->norm = golden_rel_err(r->grad_global_norm, number(ref, "grad_global_norm"));
    e->logits = golden_first8_error(ref, r);
    e->norm = fmax(e->norm, golden_grad_norms_error(ref, m));
}

static VariantErr run_fixture(const char *name, int change) {
    char *dir = tmp_dir_new(), path[256], cmd[160];
    LlamaModel m;
    load_fixture(name, dir, change, &m);
    TokenBatch tb;
    ForwardBackwardResult r;
    Error err;
    snprintf(path, sizeof path, GOLDEN "/%s/tokens.json", name);
    ck_assert_msg(token_batch_load(path, &m.cfg, &tb, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(forward_backward_run(&m, &tb, &r, &err) == STATUS_OK, "%s", err.message);
    VariantErr e = { 0 };
    JsonDoc doc;
    snprintf(path, sizeof path, GOLDEN "/%s/out.json", name);
    ck_assert_msg(json_parse_file(&doc, path, &err) == STATUS_OK, "%s", err.message);
    const char *routing;
    ck_assert(json_get_string(doc.root, "routing", &routing));
    ck_assert_msg(change == ROUTE_TOPK_INSTEAD || !strcmp(routing, moe_routing_name(m.acfg.routing)),
                  "%s: out.json routing %s, adapter %s", name, routing, moe_routing_name(m.acfg.routing));
    compare_summary(doc.root, &r, &m, &e);
    json_doc_free(&doc);
    snprintf(path, sizeof path, GOLDEN "/%s/grads.safetensors", name);
    e.grad = golden_grad_error(path, &m, &e.n_grads);
    token_batch_free(&tb);
    llama_free(&m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
    return e;
}

START_TEST(test_variant_parity)
{
    const char *name = FIXTURES[_i];
    VariantErr e = run_fixture(name, AS_IS);
    if (getenv("PARITY_VERBOSE"))
        printf("parity %-30s loss %.2e  ce %.2e  entropy %.2e  aux %.2e  load %.2e  grad %.2e (%d tensors)  "
               "norms %.2e  logits %.2e  sum %.2e\n", name, e.loss, e.ce, e.entropy, e.aux, e.load, e.grad, e.n_grads,
               e.norm, e.logits, e.logits_sum);
    double tn = REAL_IS_DOUBLE ? 1e-12 : 1e-4;   /* norms: computed from the reference's float64 gradients */
    ck_assert_msg(e.loss <= TOL_VALUE, "%s: loss rel err %g", name, e.loss);
    ck_assert_msg(e.ce <= TOL_VALUE, "%s: ce rel err %g", name, e.ce);
    ck_assert_msg(e.entropy <= TOL_VALUE, "%s: entropy term err %g (relative to the loss)", name, e.entropy);
    ck_assert_msg(e.aux <= TOL_VALUE, "%s: aux rel err %g", name, e.aux);
    ck_assert_msg(e.load <= 1e-9, "%s: Load / null / bypass fraction differ by %g (a different routing)", name, e.load);
    ck_assert_msg(e.grad <= TOL_GRAD, "%s: worst gradient err %g", name, e.grad);
    ck_assert_msg(e.norm <= tn, "%s: grad norm rel err %g", name, e.norm);
    ck_assert_msg(e.logits <= TOL_VALUE, "%s: logits err %g", name, e.logits);
    ck_assert_msg(e.logits_sum <= (REAL_IS_DOUBLE ? 1e-12 : 1e-6), "%s: logits sum err %g (relative to sum |logits|)",
                  name, e.logits_sum);
    ck_assert_int_gt(e.n_grads, 0);
}
END_TEST

/* Another rule on the same files must not match: the fixtures see the variant, not just the model. */
START_TEST(test_variant_parity_detects_other_rule)
{
    /* loss floors far above the parity runs' worst (8.2e-8); the small-B pre-gated top-p fixture
       moves its loss by ~1e-5 but its gradients by ~1.8 */
    static const struct { const char *name; int change; double loss; } cases[] = {
        { "variant_topp_const_entropy", ROUTE_TOPK_INSTEAD, 1e-4 },
        { "variant_expert_choice", ROUTE_TOPK_INSTEAD, 1e-4 },
        { "variant_stochastic_eval", STOCHASTIC_TRAINING_RULE, 1e-4 },
        { "variant_pregate_adamoe", PREGATE_OFF, 1e-6 },
        { "variant_pregate_topp_layers", PREGATE_OFF, 1e-6 },
    };
    for (int i = 0; i < 5; i++) {
        VariantErr e = run_fixture(cases[i].name, cases[i].change);
        ck_assert_msg(e.loss > cases[i].loss && e.grad > 1e-2, "%s with another rule still matched (loss %g, grad %g)",
                      cases[i].name, e.loss, e.grad);
    }
}
END_TEST

Suite *parity_variants_suite(void) {
    Suite *s = suite_create("parity_variants");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_variant_parity, 0, N_FIXTURES);
    tcase_add_test(tc, test_variant_parity_detects_other_rule);
    suite_add_tcase(s, tc);
    return s;
}
