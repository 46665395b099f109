/* tests/nn/test_moe_grad.c — gradient checks (double build) of the routed-LoRA modules through the
   op harness (tests/support/gradcheck.h): a Mo-LoRA linear, AdaMoE linears with both normalisations and
   both null kinds, and the whole tiny Llama with molora / adamoe adapters (Eq. 6 / vanilla aux
   loss on, padded and unpadded), and the field's pre-gating, frozen router and frozen experts. Top-k is a constant for autograd, so every example is drawn
   until each router row has a margin >= 1e-3 between its k-th and (k+1)-th probability, measured
   as log(p_(k) / p_(k+1)) = the logit gap (central differences use h = 1e-5, which moves a logit
   by ~1e-4 at most here: the selection cannot flip); the AdaMoE
   linear examples also must contain a row with no true expert (bypass) and a row with >= 2.
   The float build runs the same cases for the sanitizers but compares nothing (h = 1e-2 there
   can flip a selection). */
#include "tests/support/suites.h"
#include "tests/support/gradcheck.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MARGIN 1e-3

/* smallest log(p_(k) / p_(k+1)) over the rows of p [N, E] (rows with sel[0] < 0 skipped) */
static double routing_margin(const Tensor *p, const Routing *r) {
    double worst = 1.0;
    if (r->k >= r->E) return worst;
    for (int row = 0; row < r->N; row++) {
        const int *top = r->sel + (size_t)row * r->k;
        if (top[0] < 0) continue;
        const real *pr = p->data + (size_t)row * r->E;
        double kth = pr[top[r->k - 1]], next = -1.0;
        for (int e = 0; e < r->E; e++) {
            int chosen = 0;
            for (int s = 0; s < r->k; s++) chosen |= top[s] == e;
            if (!chosen && pr[e] > next) next = pr[e];
        }
        double gap = log(kth / next);
        if (gap < worst) worst = gap;
    }
    return worst;
}

/* ---- one MoeLinear ---- */

typedef struct {
    ParamStore ps;
    MoeLinear lin;
    Tensor *w;     /* frozen base [out, in] */
} LinCase;

typedef struct { AdapterKind kind; int in, out, n, m, k; MoeNormalize norm; MoeNullKind null_kind; } LinSpec;

static const LinSpec LIN_SPECS[] = {
    { ADAPTER_MOLORA, 5, 4, 3, 0, 2, MOE_NORM_TRUE_ONLY, MOE_NULL_ZERO },
    { ADAPTER_ADAMOE, 5, 4, 2, 3, 3, MOE_NORM_TRUE_ONLY, MOE_NULL_ZERO },
    { ADAPTER_ADAMOE, 5, 4, 2, 3, 3, MOE_NORM_ALL_SELECTED, MOE_NULL_ZERO },
    { ADAPTER_ADAMOE, 5, 5, 2, 3, 3, MOE_NORM_TRUE_ONLY, MOE_NULL_IDENTITY },
    { ADAPTER_ADAMOE, 5, 5, 2, 3, 3, MOE_NORM_ALL_SELECTED, MOE_NULL_IDENTITY },
};

/* The routing of x under the case's router: margin and the range of true experts per row. */
static double lin_routing(LinCase *lc, Tensor *x, int *min_true, int *max_true) {
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    Tensor *p = op_softmax(&t, op_linear(&t, x, lc->lin.router));
    p = tensor_view(&a, p, 2, (int[]){ (int)tensor_rows(p), tensor_cols(p) });
    Routing r;
    route_select(&a, p, lc->lin.n_true, lc->lin.top_k, NULL, &r);
    *min_true = lc->lin.top_k;
    *max_true = 0;
    for (int i = 0; i < r.N; i++) {
        if (r.n_true_sel[i] < *min_true) *min_true = r.n_true_sel[i];
        if (r.n_true_sel[i] > *max_true) *max_true = r.n_true_sel[i];
    }
    double margin = routing_margin(p, &r);
    tape_free(&t);
    arena_free(&a);
    return margin;
}

static void lin_example(Arena *a, Rng *rng, OpExample *ex, const LinSpec *sp) {
    LinCase *lc = calloc(1, sizeof *lc);
    AdapterConfig acfg = { .kind = sp->kind, .targets = LORA_TARGET_ALL, .rank = 3, .alpha = 6.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = sp->n; acfg.n_null = sp->m; acfg.top_k = sp->k;
    acfg.normalize = sp->norm; acfg.null_kind = sp->null_kind;
    param_store_init(&lc->ps);
    lc->w = param_declare(&lc->ps, "lin.weight", PARAM_FROZEN, 2, (int[]){ sp->out, sp->in });
    moe_linear_declare(&lc->lin, &lc->ps, "lin", sp->in, sp->out, &acfg, NULL, 0, 0);
    param_store_allocate(&lc->ps);
    rng_fill_uniform(rng, lc->w->data, lc->w->numel, -1, 1);
    Tensor *x = tensor_3d(a, 2, 4, sp->in, 1);
    int ok = 0;
    for (int attempt = 0; attempt < 200 && !ok; attempt++) {
        moe_linear_init(&lc->lin, rng);
        rng_fill_uniform(rng, lc->lin.router->data, lc->lin.router->numel, -2, 2);
        rng_fill_uniform(rng, x->data, x->numel, -1, 1);
        int lo, hi;
        double margin = lin_routing(lc, x, &lo, &hi);
        ok = margin >= MIN_MARGIN && (sp->m == 0 || (lo == 0 && hi >= 2));
    }
    CHECK(ok, "no routing with margin >= %g (and a bypass row) in 200 draws", MIN_MARGIN);
    for (int e = 0; e < lc->lin.n_true; e++)
        rng_fill_uniform(rng, lc->lin.lora_b[e]->data, lc->lin.lora_b[e]->numel, -1, 1);
    ex->aux = lc;
    ex->in[0] = x;
    ex->in[1] = lc->lin.router;
    ex->in[2] = lc->lin.lora_a[lc->lin.n_true - 1];
    ex->in[3] = lc->lin.lora_b[0];
    ex->n_in = 4;
}

static Tensor *lin_apply(Tape *t, const OpExample *ex) {
    const LinCase *lc = ex->aux;
    Tensor *y = op_linear(t, ex->in[0], lc->w);
    return moe_linear_forward(t, &lc->lin, ex->in[0], y, NULL);
}

static void lin_cleanup(OpExample *ex) {
    LinCase *lc = ex->aux;
    moe_linear_free(&lc->lin);
    param_store_free(&lc->ps);
    free(lc);
}

static void lin0(Arena *a, Rng *r, OpExample *ex) { lin_example(a, r, ex, &LIN_SPECS[0]); }
static void lin1(Arena *a, Rng *r, OpExample *ex) { lin_example(a, r, ex, &LIN_SPECS[1]); }
static void lin2(Arena *a, Rng *r, OpExample *ex) { lin_example(a, r, ex, &LIN_SPECS[2]); }
static void lin3(Arena *a, Rng *r, OpExample *ex) { lin_example(a, r, ex, &LIN_SPECS[3]); }
static void lin4(Arena *a, Rng *r, OpExample *ex) { lin_example(a, r, ex, &LIN_SPECS[4]); }

/* ---- the whole tiny Llama ---- */

typedef struct {
    LlamaModel m;
    int ids[2 * 6], targets[2 * 6], lengths[2];
    int padded;
} ModelCase;

/* min margin over every router of a no-grad forward of the case's batch */
static double model_margin(ModelCase *mc) {
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    mc->m.moe->keep_log = 1;   /* the selections are read below */
    llama_hidden_padded(&t, &mc->m, mc->ids, mc->padded ? mc->lengths : NULL, 2, 6, NULL);
    mc->m.moe->keep_log = 0;
    double worst = 1.0;
    for (int i = 0; i < mc->m.cfg.n_layers * MOE_MODULES; i++) {
        const MoeRecord *rec = &mc->m.moe->log[i];
        if (!rec->p) continue;
        double g = routing_margin(rec->p, rec->r);
        if (g < worst) worst = g;
    }
    tape_free(&t);
    arena_free(&a);
    return worst;
}

static void model_example(Rng *rng, OpExample *ex, const AdapterConfig *acfg, int padded, const char *const *names, int n) {
    ModelCase *mc = calloc(1, sizeof *mc);
    ModelConfig c = tiny_config(0);
    mc->padded = padded;
    mc->lengths[0] = 6;
    mc->lengths[1] = 4;
    int ok = 0;
    for (int attempt = 0; attempt < 50 && !ok; attempt++) {
        if (attempt) llama_free(&mc->m);
        tiny_model(&mc->m, &c, acfg, rng_u64(rng), 0.2);
        for (int i = 0; i < mc->m.ps.n; i++)     /* sharper routers: larger logit gaps */
            if (strstr(mc->m.ps.params[i]->name, ".router."))
                for (size_t j = 0; j < mc->m.ps.params[i]->numel; j++) mc->m.ps.params[i]->data[j] *= 3;
        for (int i = 0; i < 12; i++) {
            mc->ids[i] = (int)rng_int(rng, (uint64_t)c.vocab_size);
            int pad = padded && i >= 6 + mc->lengths[1];
            mc->targets[i] = i % 3 == 0 || pad ? -100 : (int)rng_int(rng, (uint64_t)c.vocab_size);
        }
        ok = model_margin(mc) >= MIN_MARGIN;
    }
    CHECK(ok, "no tiny model whose routers all have margin >= %g", MIN_MARGIN);
    ex->aux = mc;
    ex->n_in = 0;
    for (int i = 0; i < n; i++) {
        Tensor *t = param_find(&mc->m.ps, names[i]);
        CHECK(t && t->grad, "%s missing or not trainable", names[i]);
        ex->in[ex->n_in++] = t;
    }
}

static Tensor *model_apply(Tape *t, const OpExample *ex) {
    ModelCase *mc = ex->aux;
    return llama_loss_padded(t, &mc->m, mc->ids, mc->targets, mc->padded ? mc->lengths : NULL, 2, 6,
                             mc->m.acfg.aux_coef, NULL, NULL);
}

static void model_cleanup(OpExample *ex) {
    ModelCase *mc = ex->aux;
    llama_free(&mc->m);
    free(mc);
}

static const char *const MODEL_NAMES[] = { "model.layers.0.self_attn.q_proj.router.weight",
    "model.layers.1.mlp.down_proj.lora_A.1.weight", "model.layers.0.self_attn.o_proj.lora_B.0.weight",
    "model.layers.1.mlp.up_proj.router.weight" };

static void adamoe_model(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 2; acfg.top_k = 2; acfg.aux_coef = 0.3;
    model_example(rng, ex, &acfg, 0, MODEL_NAMES, 4);
}

static void adamoe_model_padded(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 3; acfg.top_k = 3; acfg.aux_coef = 0.5;
    acfg.normalize = MOE_NORM_ALL_SELECTED; acfg.null_kind = MOE_NULL_IDENTITY; acfg.aux = MOE_AUX_VANILLA;
    model_example(rng, ex, &acfg, 1, MODEL_NAMES, 4);
}

static void molora_model(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_MOLORA, .targets = LORA_TARGET_Q | LORA_TARGET_O | LORA_TARGET_DOWN | LORA_TARGET_UP,
                           .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 3; acfg.top_k = 2; acfg.aux_coef = 0.3;
    model_example(rng, ex, &acfg, 0, MODEL_NAMES, 4);
}

/* the field around AdaMoE: pre-gating (layer 1 routes on layer 0's
   module inputs, so the gradient also reaches them through the routing weights); a frozen random
   router (SMoE-Dropout: checked through the experts and the routing's input path, the router
   itself gets no gradient by design); frozen experts (checked through the routers) */
static const char *const LORA_NAMES[] = { "model.layers.1.self_attn.q_proj.lora_A.1.weight",
    "model.layers.0.mlp.down_proj.lora_B.0.weight", "model.layers.0.self_attn.v_proj.lora_A.0.weight",
    "model.layers.1.mlp.up_proj.lora_B.1.weight" };
static const char *const ROUTER_NAMES[] = { "model.layers.0.self_attn.q_proj.router.weight",
    "model.layers.1.mlp.down_proj.router.weight", "model.layers.1.self_attn.o_proj.router.weight" };

static void adamoe_pregate_model(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 2; acfg.top_k = 2; acfg.aux_coef = 0.3; acfg.pregate = 1;
    model_example(rng, ex, &acfg, 1, MODEL_NAMES, 4);
}

static void molora_frozen_router_model(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_MOLORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 3; acfg.top_k = 2; acfg.aux = MOE_AUX_NONE; acfg.router_frozen = 1;
    model_example(rng, ex, &acfg, 0, LORA_NAMES, 4);
}

static void adamoe_frozen_experts_model(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 1; acfg.top_k = 2; acfg.aux_coef = 0.3; acfg.freeze_experts = 1;
    model_example(rng, ex, &acfg, 0, ROUTER_NAMES, 3);
}

static const OpCase MODULES[] = {
    { "llama_adamoe_pregate_padded", adamoe_pregate_model, model_apply, model_cleanup },
    { "llama_molora_frozen_random_router", molora_frozen_router_model, model_apply, model_cleanup },
    { "llama_adamoe_frozen_experts", adamoe_frozen_experts_model, model_apply, model_cleanup },
    { "moe_linear_molora_k2", lin0, lin_apply, lin_cleanup },
    { "moe_linear_adamoe_true_only_zero", lin1, lin_apply, lin_cleanup },
    { "moe_linear_adamoe_all_selected_zero", lin2, lin_apply, lin_cleanup },
    { "moe_linear_adamoe_true_only_identity", lin3, lin_apply, lin_cleanup },
    { "moe_linear_adamoe_all_selected_identity", lin4, lin_apply, lin_cleanup },
    { "llama_adamoe_eq6", adamoe_model, model_apply, model_cleanup },
    { "llama_adamoe_padded_all_selected_identity_vanilla", adamoe_model_padded, model_apply, model_cleanup },
    { "llama_molora", molora_model, model_apply, model_cleanup },
};

START_TEST(test_moe_module_gradcheck)
{
    const OpCase *op = &MODULES[_i];
    ck_assert_msg(gradcheck_expect(op, 777 + (uint64_t)_i, -1) > 0, "%s: example has no input with a grad", op->name);
}
END_TEST

Suite *moe_grad_suite(void) {
    Suite *s = suite_create("moe_grad");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_moe_module_gradcheck, 0, (int)(sizeof MODULES / sizeof MODULES[0]));
    suite_add_tcase(s, tc);
    return s;
}
