/* tests/nn/test_mixtral_router_lora_grad.c — gradient check (double build) of the LoRA on the frozen Mixtral
   router (target "router", nn/moe_ffn.h): z = x·gateᵀ + s·(x·Aᵀ)·Bᵀ [| x·gate2ᵀ], through the
   whole tiny Mixtral (4 experts, top-2), once with a plain LoRA adapter (q + router) and once with
   a moe-ffn adapter (2 null experts with a random gate2, top-3, rsLoRA, expert LoRAs, Eq. 6 aux
   loss on). Analytic gradients come from the tape, numeric ones from central differences
   (tests/support/gradcheck.h, h = 1e-5, every element).
   Top-k is a constant for autograd, so each example is drawn until every row of every FFN router
   has a logit gap >= 1e-3 between its k-th and (k+1)-th expert (log(p_(k)/p_(k+1))), and every
   forward of the check (the analytic one and each ± h evaluation) asserts that each layer's
   selection equals the one at the unperturbed parameters: a flip would make the finite
   difference meaningless. The float build runs the same cases for the sanitizers but compares
   nothing (h = 1e-2 there can flip a selection). */
#include "tests/support/suites.h"
#include "tests/support/gradcheck.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MARGIN 1e-3
#define ROWS 12   /* B = 2, T = 6 */

typedef struct {
    LlamaModel m;
    int ids[ROWS], targets[ROWS];
    int *ref_sel;     /* [n_layers * ROWS * k]: each layer's selection at the example's parameters */
    int k;
    long forwards;    /* forwards compared with ref_sel */
} RouterCase;

static const Routing *ffn_routing(const RouterCase *rc, int layer, const Tensor **p) {
    const MoeRecord *rec = &rc->m.moe->log[layer * MOE_MODULES + MOE_FFN_SLOT];
    CHECK(rec->p && rec->r, "layer %d: no FFN routing recorded", layer);
    if (p) *p = rec->p;
    return rec->r;
}

/* smallest log(p_(k) / p_(k+1)) over the rows of every layer's FFN router (last forward) */
static double ffn_margin(const RouterCase *rc) {
    double worst = INFINITY;
    for (int l = 0; l < rc->m.cfg.n_layers; l++) {
        const Tensor *p;
        const Routing *r = ffn_routing(rc, l, &p);
        for (int row = 0; row < r->N; row++) {
            const int *top = r->sel + (size_t)row * r->k;
            const real *pr = p->data + (size_t)row * r->E;
            double next = 0;
            for (int e = 0; e < r->E; e++) {
                int chosen = 0;
                for (int s = 0; s < r->k; s++) chosen |= top[s] == e;
                if (!chosen && pr[e] > next) next = pr[e];
            }
            worst = fmin(worst, log((double)pr[top[r->k - 1]] / next));
        }
    }
    return worst;
}

static Tensor *case_loss(Tape *t, RouterCase *rc) {
    return llama_loss_padded(t, &rc->m, rc->ids, rc->targets, NULL, 2, 6, rc->m.acfg.aux_coef, NULL, NULL);
}

/* a no-grad forward; returns the margin and (ref != NULL) copies the selections into ref */
static double probe_routing(RouterCase *rc, int *ref) {
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    case_loss(&t, rc);
    double margin = ffn_margin(rc);
    for (int l = 0; ref && l < rc->m.cfg.n_layers; l++)
        memcpy(ref + (size_t)l * ROWS * rc->k, ffn_routing(rc, l, NULL)->sel, (size_t)ROWS * rc->k * sizeof(int));
    tape_free(&t);
    arena_free(&a);
    return margin;
}

static void router_example(Rng *rng, OpExample *ex, const AdapterConfig *acfg, const char *const names[4]) {
    RouterCase *rc = calloc(1, sizeof *rc);
    ModelConfig c = tiny_mixtral_config();
    int ok = 0;
    for (int attempt = 0; attempt < 50 && !ok; attempt++) {
        if (attempt) llama_free(&rc->m);
        tiny_model(&rc->m, &c, acfg, rng_u64(rng), 0.3);   /* every lora_B (the router's too) nonzero */
        rc->m.moe->keep_log = 1;   /* every forward's selections are read after it (probe, router_apply) */
        for (int i = 0; i < ROWS; i++) {
            rc->ids[i] = (int)rng_int(rng, (uint64_t)c.vocab_size);
            rc->targets[i] = i % 3 == 0 ? -100 : (int)rng_int(rng, (uint64_t)c.vocab_size);
        }
        ok = probe_routing(rc, NULL) >= MIN_MARGIN;
    }
    CHECK(ok, "no tiny Mixtral whose FFN routers all have margin >= %g", MIN_MARGIN);
    rc->k = rc->m.layers[0].ffn->top_k;
    rc->ref_sel = xmalloc((size_t)c.n_layers * ROWS * rc->k * sizeof(int));
    probe_routing(rc, rc->ref_sel);
    ex->aux = rc;
    ex->n_in = 4;
    for (int i = 0; i < 4; i++) {
        ex->in[i] = param_find(&rc->m.ps, names[i]);
        CHECK(ex->in[i] && ex->in[i]->grad, "%s missing or not trainable", names[i]);
    }
}

static Tensor *router_apply(Tape *t, const OpExample *ex) {
    RouterCase *rc = ex->aux;
    Tensor *loss = case_loss(t, rc);
    if (REAL_IS_DOUBLE) {   /* the selection must not move under the ± h perturbations */
        for (int l = 0; l < rc->m.cfg.n_layers; l++) {
            const Routing *r = ffn_routing(rc, l, NULL);
            ck_assert_int_eq(r->k, rc->k);
            ck_assert_msg(!memcmp(r->sel, rc->ref_sel + (size_t)l * ROWS * rc->k, (size_t)ROWS * rc->k * sizeof(int)),
                          "layer %d: the top-%d selection flipped during the gradient check", l, rc->k);
        }
        rc->forwards++;
    }
    return loss;
}

static void router_cleanup(OpExample *ex) {
    RouterCase *rc = ex->aux;
    CHECK(!REAL_IS_DOUBLE || rc->forwards > 2, "the selection was compared in only %ld forwards", rc->forwards);
    free(rc->ref_sel);
    llama_free(&rc->m);
    free(rc);
}

static void plain_lora_router(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_Q | LORA_TARGET_ROUTER, .rank = 2, .alpha = 6.0 };
    static const char *const names[4] = {
        "model.layers.0.block_sparse_moe.gate.lora_A.weight", "model.layers.0.block_sparse_moe.gate.lora_B.weight",
        "model.layers.1.block_sparse_moe.gate.lora_A.weight", "model.layers.1.block_sparse_moe.gate.lora_B.weight" };
    router_example(rng, ex, &acfg, names);
}

static void moe_ffn_router(Arena *a, Rng *rng, OpExample *ex) {
    (void)a;
    AdapterConfig acfg = { .kind = ADAPTER_MOE_FFN, .targets = LORA_TARGET_GATE | LORA_TARGET_DOWN | LORA_TARGET_ROUTER,
                           .rank = 3, .alpha = 4.0, .rslora = 1 };
    adapter_moe_defaults(&acfg);
    acfg.n_null = 2;
    acfg.top_k = 3;
    acfg.aux_coef = 0.3;
    acfg.gate2_init = MOE_GATE2_RANDOM;
    static const char *const names[4] = {
        "model.layers.0.block_sparse_moe.gate.lora_A.weight", "model.layers.1.block_sparse_moe.gate.lora_B.weight",
        "model.layers.0.block_sparse_moe.gate2.weight", "model.layers.1.block_sparse_moe.experts.1.w2.lora_B.weight" };
    router_example(rng, ex, &acfg, names);
}

static const OpCase MODULES[] = {
    { "mixtral_lora_q_router", plain_lora_router, router_apply, router_cleanup },
    { "mixtral_moe_ffn_gate2_router_rslora_eq6", moe_ffn_router, router_apply, router_cleanup },
};

START_TEST(test_router_lora_gradcheck)
{
    const OpCase *op = &MODULES[_i];
    int checked = gradcheck_expect(op, 2024 + (uint64_t)_i, -1);
    /* every element of the four inputs: 2·r·C + 2·n·r (plain, r = 2) or r·C + n·r + m·C + C·r (moe-ffn, r = 3) */
    int expect = _i == 0 ? 2 * 2 * 24 + 2 * 4 * 2 : 3 * 24 + 4 * 3 + 2 * 24 + 24 * 3;
    ck_assert_msg(checked == expect || !REAL_IS_DOUBLE, "%s: %d elements checked, expected %d", op->name, checked, expect);
    ck_assert_msg(checked > 0, "%s: example has no input with a grad", op->name);
}
END_TEST

Suite *router_lora_grad_suite(void) {
    Suite *s = suite_create("router_lora_grad");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_router_lora_gradcheck, 0, (int)(sizeof MODULES / sizeof MODULES[0]));
    suite_add_tcase(s, tc);
    return s;
}
