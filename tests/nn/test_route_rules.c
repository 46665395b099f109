/* tests/nn/test_route_rules.c — the routing variants (nn/route_rules.h route_select_rule, nn/moe.h):
   hand-computed selections and weights for top-p, dense, expert choice, THOR's random and
   averaging rules; Load / shared-expert / %FLOPs accounting; adapter_config round trip of the
   variant keys (incl. shared and constant-null tensors); and module gradchecks (double build) of
   a MoeLinear under each variant. Gradcheck inputs are redrawn until the selection is stable:
   every x and router entry is moved by ±1e-4 (10× the finite-difference step) and the selection
   must not change (checked on the module's own router log). */
#include "tests/support/suites.h"
#include "tests/support/gradcheck.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include "nn/adapter_io.h"
#include "nn/route_rules.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* p [N, E] from a literal table */
static Tensor *probs(Arena *a, int N, int E, const double *v) {
    Tensor *p = tensor_2d(a, N, E, 0);
    for (int i = 0; i < N * E; i++) p->data[i] = (real)v[i];
    return p;
}

static int row_set(const Routing *r, int row, int *out) {
    int n = 0;
    for (int s = 0; s < r->k; s++)
        if (r->sel[(size_t)row * r->k + s] >= 0) out[n++] = r->sel[(size_t)row * r->k + s];
    return n;
}

START_TEST(test_top_p_selection_and_raw_weights)
{
    Arena a;
    arena_init(&a, 1 << 16);
    static const double v[2 * 4] = { 0.5, 0.3, 0.15, 0.05,   0.1, 0.2, 0.6, 0.1 };
    Tensor *p = probs(&a, 2, 4, v);
    const double thr[4] = { 0.4, 0.75, 0.85, 0.99 };   /* away from the exact partial sums */
    const int want0[4] = { 1, 2, 3, 4 }, want1[4] = { 1, 2, 3, 4 };   /* row 1: 0.6, 0.8, 0.9, 1 */
    for (int i = 0; i < 4; i++) {
        RouteSpec sp = { .rule = ROUTE_TOP_P, .n_true = 2, .k = 1, .top_p = thr[i] };
        Routing r;
        route_select_rule(&a, p, &sp, NULL, &r);
        int set[4];
        ck_assert_int_eq(row_set(&r, 0, set), want0[i]);
        ck_assert_int_eq(set[0], 0);
        ck_assert_int_eq(row_set(&r, 1, set), want1[i]);
        ck_assert_int_eq(set[0], 2);
        if (i == 1) ck_assert_int_eq(r.n_true_sel[0], 2);   /* {0, 1}: both true */
        if (i == 1) ck_assert_int_eq(r.n_true_sel[1], 1);   /* {2, 1}: expert 1 is true */
    }
    /* raw weights: W = p on the selected entries (z = log p), 0 elsewhere */
    RouteSpec sp = { .rule = ROUTE_TOP_P, .n_true = 2, .k = 1, .top_p = 0.75 };
    Routing r;
    route_select_rule(&a, p, &sp, NULL, &r);
    Tape t;
    tape_init(&t, &a);
    Tensor *z = tensor_2d(&a, 2, 4, 0);
    for (int i = 0; i < 8; i++) z->data[i] = (real)log(v[i]);
    Tensor *W = op_route_weights(&t, z, &r, ROUTE_W_RAW);
    const double wantW[8] = { 0.5, 0.3, 0, 0,   0, 0.2, 0.6, 0 };
    for (int i = 0; i < 8; i++) ck_assert_msg(fabs((double)W->data[i] - wantW[i]) < 1e-6, "W[%d] = %g", i, (double)W->data[i]);
    tape_free(&t);
    arena_free(&a);
}
END_TEST

START_TEST(test_dense_expert_choice_random_average)
{
    Arena a;
    arena_init(&a, 1 << 20);
    /* 4 rows, 2 true + 1 null; expert choice with k = 1: c = ceil(1·3/2) = 2 over the 3 real rows */
    static const double v[4 * 3] = { 0.7, 0.2, 0.1,   0.3, 0.6, 0.1,   0.5, 0.4, 0.1,   0.9, 0.05, 0.05 };
    static const unsigned char mask[4] = { 1, 1, 1, 0 };
    Tensor *p = probs(&a, 4, 3, v);
    Routing r;
    RouteSpec ec = { .rule = ROUTE_EXPERT_CHOICE, .n_true = 2, .k = 1 };
    route_select_rule(&a, p, &ec, mask, &r);
    /* expert 0 takes rows 0 (0.7), 2 (0.5); expert 1 takes rows 1 (0.6), 2 (0.4); row 3 is a pad */
    const int want_true[4] = { 1, 1, 2, 0 };
    for (int i = 0; i < 4; i++) ck_assert_int_eq(r.n_true_sel[i], want_true[i]);
    ck_assert_int_eq(r.count[0], 2);
    ck_assert_int_eq(r.count[1], 2);
    ck_assert_int_eq(r.count[2], 0);
    ck_assert_int_eq(r.n_rows, 3);
    RouteSpec dn = { .rule = ROUTE_DENSE, .n_true = 2, .k = 1 };
    route_select_rule(&a, p, &dn, NULL, &r);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(r.n_true_sel[i], 2);
    ck_assert_int_eq(r.count[2], 4);
    /* THOR: one uniform true expert per row, weight 1; at eval every true expert, weight 1/n */
    enum { NR = 4000, NT = 4 };
    Tensor *pu = tensor_2d(&a, NR, NT + 1, 0);
    for (size_t i = 0; i < pu->numel; i++) pu->data[i] = (real)(1.0 / (NT + 1));
    Rng rng = rng_derive(5, 1);
    RouteSpec rs = { .rule = ROUTE_RANDOM, .n_true = NT, .k = 1, .rng = &rng };
    route_select_rule(&a, pu, &rs, NULL, &r);
    for (int e = 0; e < NT; e++)
        ck_assert_msg(fabs(r.count[e] / (double)NR - 0.25) < 0.03, "expert %d got %d of %d", e, r.count[e], NR);
    ck_assert_int_eq(r.count[NT], 0);
    Tape t;
    tape_init(&t, &a);
    Tensor *z = tensor_2d(&a, NR, NT + 1, 1);
    Tensor *W = op_route_weights(&t, z, &r, ROUTE_W_UNIFORM);
    double s = 0;
    for (size_t i = 0; i < W->numel; i++) s += (double)W->data[i];
    ck_assert_msg(fabs(s - NR) < 1e-6, "each row's weights sum to 1 (got %g)", s);
    RouteSpec av = { .rule = ROUTE_ALL_TRUE, .n_true = NT, .k = 1 };
    route_select_rule(&a, pu, &av, NULL, &r);
    W = op_route_weights(&t, z, &r, ROUTE_W_UNIFORM);
    ck_assert(fabs((double)W->data[0] - 0.25) < 1e-7 && W->data[NT] == 0);
    tape_free(&t);
    arena_free(&a);
}
END_TEST

/* Load counts routed TRUE experts only; shared experts are reported apart and spent in %FLOPs */
START_TEST(test_load_with_shared_experts)
{
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 2 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 1; acfg.routing = MOE_ROUTING_DENSE; acfg.n_shared = 1; acfg.k_baseline = 4;
    MoeState *st = moe_state_new(&acfg, 1);
    Arena a;
    arena_init(&a, 1 << 16);
    static const double v[2 * 3] = { 0.2, 0.3, 0.5,   0.6, 0.3, 0.1 };
    Tensor *p = probs(&a, 2, 3, v);
    RouteSpec dn = { .rule = ROUTE_DENSE, .n_true = 2, .k = 1 };
    Routing r;
    route_select_rule(&a, p, &dn, NULL, &r);
    moe_stats_accumulate(&st->stats, 0, 0, p, &r);
    MoeSummary s;
    moe_summary_model(&st->stats, &s);
    ck_assert(fabs(s.load - 2.0) < 1e-12);
    ck_assert(fabs(s.shared - 1.0) < 1e-12);
    ck_assert(fabs(s.flops_saved - (1.0 - 3.0 / 4.0)) < 1e-12);
    ck_assert(fabs(s.null_fraction - 1.0 / 3.0) < 1e-12);   /* 2 of 6 assignments are the null */
    ck_assert(fabs(s.true_hist[2] - 1.0) < 1e-12);
    arena_free(&a);
    moe_state_free(st);
}
END_TEST

/* adapter_config.json carries routing / top_p / entropy_coef / n_shared / constant nulls back */
START_TEST(test_variant_adapter_round_trip)
{
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_Q | LORA_TARGET_O, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 2; acfg.n_null = 2; acfg.top_k = 2; acfg.routing = MOE_ROUTING_TOP_P; acfg.top_p = 0.55;
    acfg.entropy_coef = 0.01; acfg.n_shared = 2; acfg.null_kind = MOE_NULL_CONSTANT;
    ModelConfig c = tiny_config(0);
    LlamaModel m, m2;
    tiny_model(&m, &c, &acfg, 3, 0.1);
    Tensor *nc = param_find(&m.ps, "model.layers.1.self_attn.o_proj.null_const.weight");
    Tensor *sb = param_find(&m.ps, "model.layers.0.self_attn.q_proj.shared_B.1.weight");
    ck_assert_ptr_nonnull(nc);
    ck_assert_ptr_nonnull(sb);
    for (size_t i = 0; i < nc->numel; i++) nc->data[i] = (real)(0.25 * (double)i);
    for (size_t i = 0; i < sb->numel; i++) sb->data[i] = (real)(-0.5 * (double)i);
    char *dir = tmp_dir_new(), sub[256];
    snprintf(sub, sizeof sub, "%s/adapter", dir);
    Error err;
    ck_assert_msg(adapter_save(&m, sub, NULL, &err) == STATUS_OK, "%s", err.message);
    AdapterConfig got;
    ck_assert_msg(adapter_read_config(sub, &got, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(got.routing, MOE_ROUTING_TOP_P);
    ck_assert(got.top_p == 0.55 && got.entropy_coef == 0.01);
    ck_assert_int_eq(got.n_shared, 2);
    ck_assert_int_eq(got.null_kind, MOE_NULL_CONSTANT);
    llama_declare(&m2, &c, &got, 0);
    ck_assert_msg(adapter_load(&m2, sub, &err) == STATUS_OK, "%s", err.message);
    const Tensor *nc2 = param_find(&m2.ps, nc->name), *sb2 = param_find(&m2.ps, sb->name);
    ck_assert_int_eq(memcmp(nc->data, nc2->data, nc->numel * sizeof(real)), 0);   /* values exact in f32 */
    ck_assert_int_eq(memcmp(sb->data, sb2->data, sb->numel * sizeof(real)), 0);
    llama_free(&m);
    llama_free(&m2);
    free(dir);
}
END_TEST

/* per-layer lists: parse, model declaration with per-layer shapes, adapter round trip */
START_TEST(test_per_layer_lists)
{
    int v[MOE_MAX_LAYERS], n;
    Error err;
    ck_assert_int_eq(int_list_parse("2,2,4", "experts", 1, v, &n, &err), STATUS_OK);
    ck_assert(n == 3 && v[0] == 2 && v[2] == 4);
    ck_assert_int_eq(int_list_parse("2,,4", "experts", 1, v, &n, &err), STATUS_INVALID);
    ck_assert_int_eq(int_list_parse("0", "experts", 1, v, &n, &err), STATUS_INVALID);
    ModelConfig c = tiny_config(0);   /* 2 layers */
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_Q | LORA_TARGET_DOWN, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_layer_values = 2;
    acfg.layer_n_true[0] = 2; acfg.layer_n_true[1] = 3;
    acfg.layer_n_null[0] = 1; acfg.layer_n_null[1] = 2;
    acfg.layer_top_k[0] = 1; acfg.layer_top_k[1] = 3;
    acfg.layer_rank[0] = 2; acfg.layer_rank[1] = 3;
    ck_assert_int_eq(adapter_moe_check_layers(&acfg, 2, &err), STATUS_OK);
    ck_assert_int_eq(adapter_moe_check_layers(&acfg, 3, &err), STATUS_INVALID);
    LlamaModel m, m2;
    tiny_model(&m, &c, &acfg, 5, 0.1);
    const Tensor *r1 = param_find(&m.ps, "model.layers.1.mlp.down_proj.router.weight");
    const Tensor *a1 = param_find(&m.ps, "model.layers.1.self_attn.q_proj.lora_A.2.weight");
    ck_assert_ptr_nonnull(r1);
    ck_assert_ptr_nonnull(a1);
    ck_assert_int_eq(r1->shape[0], 5);   /* 3 true + 2 null */
    ck_assert_int_eq(a1->shape[0], 3);   /* rank 3 */
    ck_assert_ptr_null(param_find(&m.ps, "model.layers.0.self_attn.q_proj.lora_A.2.weight"));
    ck_assert_int_eq(param_find(&m.ps, "model.layers.0.self_attn.q_proj.router.weight")->shape[0], 3);
    char *dir = tmp_dir_new(), sub[256];
    snprintf(sub, sizeof sub, "%s/adapter", dir);
    ck_assert_msg(adapter_save(&m, sub, NULL, &err) == STATUS_OK, "%s", err.message);
    AdapterConfig got;
    ck_assert_msg(adapter_read_config(sub, &got, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(got.n_layer_values, 2);
    for (int l = 0; l < 2; l++) {
        AdapterConfig x = adapter_moe_layer(&acfg, l), y = adapter_moe_layer(&got, l);
        ck_assert(x.n_true == y.n_true && x.n_null == y.n_null && x.top_k == y.top_k && x.rank == y.rank);
    }
    llama_declare(&m2, &c, &got, 0);
    ck_assert_msg(adapter_load(&m2, sub, &err) == STATUS_OK, "%s", err.message);
    const Tensor *a2 = param_find(&m2.ps, a1->name);   /* files hold f32: equal to float precision */
    for (size_t i = 0; i < a1->numel; i++) ck_assert(fabs((double)a1->data[i] - (double)a2->data[i]) <= 1e-6 * (1 + fabs((double)a1->data[i])));
    /* the Load of layer 0 is at most its top-1 */
    int ids[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    free(tiny_logits(&m, ids, 1, 8));
    MoeSummary s0;
    moe_summary_layer(&m.moe->stats, 0, &s0);
    ck_assert(s0.tokens > 0 && s0.load <= 1.0 + 1e-12);
    ck_assert_int_eq(s0.n_experts, 3);
    llama_free(&m);
    llama_free(&m2);
    free(dir);
}
END_TEST

/* ---- module gradchecks: one MoeLinear (with its own MoeState for the router log) ---- */

typedef struct { int routing, n, m, k, n_shared, null_kind, in, out; double top_p; int stochastic_rule; } VarSpec;

static const VarSpec VAR_SPECS[] = {
    { MOE_ROUTING_TOP_P, 3, 1, 1, 0, MOE_NULL_ZERO, 5, 4, 0.5, 0 },
    { MOE_ROUTING_DENSE, 3, 0, 1, 0, MOE_NULL_ZERO, 5, 4, 0.4, 0 },
    { MOE_ROUTING_STOCHASTIC, 3, 0, 1, 0, MOE_NULL_ZERO, 5, 4, 0.4, 1 },   /* training: random expert */
    { MOE_ROUTING_STOCHASTIC, 3, 0, 1, 0, MOE_NULL_ZERO, 5, 4, 0.4, 2 },   /* eval: average */
    { MOE_ROUTING_EXPERT_CHOICE, 3, 0, 2, 0, MOE_NULL_ZERO, 5, 4, 0.4, 0 },
    { MOE_ROUTING_TOPK, 2, 2, 2, 2, MOE_NULL_CONSTANT, 5, 4, 0.4, 0 },
    { MOE_ROUTING_TOPK, 2, 2, 3, 1, MOE_NULL_IDENTITY, 5, 5, 0.4, 0 },
};

typedef struct {
    ParamStore ps;
    MoeLinear lin;
    MoeState *st;
    Tensor *w;
} VarCase;

/* the selection of x as a flat copy (sel array) */
static int *selection_of(VarCase *vc, Tensor *x, size_t *n) {
    Arena a;
    arena_init(&a, 1 << 18);
    Tape t;
    tape_init(&t, &a);
    Tensor *y = op_linear(&t, x, vc->w);
    moe_linear_forward(&t, &vc->lin, x, y, NULL);
    const Routing *r = vc->st->log[0].r;
    *n = (size_t)r->N * r->k;
    int *sel = malloc(*n * sizeof(int));
    memcpy(sel, r->sel, *n * sizeof(int));
    tape_free(&t);
    arena_free(&a);
    return sel;
}

/* 1 if moving any single entry of x or the router by ±1e-4 keeps the selection */
static int selection_stable(VarCase *vc, Tensor *x) {
    size_t n0, n1;
    int *ref = selection_of(vc, x, &n0), ok = 1;
    Tensor *ts[2] = { x, vc->lin.router };
    for (int k = 0; k < 2 && ok; k++)
        for (size_t i = 0; i < ts[k]->numel && ok; i++)
            for (int sgn = -1; sgn <= 1 && ok; sgn += 2) {
                real keep = ts[k]->data[i];
                ts[k]->data[i] = (real)((double)keep + sgn * 1e-4);
                int *s = selection_of(vc, x, &n1);
                ok = n0 == n1 && !memcmp(ref, s, n0 * sizeof(int));
                free(s);
                ts[k]->data[i] = keep;
            }
    free(ref);
    return ok;
}

static void var_example(Arena *a, Rng *rng, OpExample *ex, const VarSpec *sp) {
    VarCase *vc = calloc(1, sizeof *vc);
    AdapterConfig acfg = { .kind = sp->m ? ADAPTER_ADAMOE : ADAPTER_MOLORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = sp->n; acfg.n_null = sp->m; acfg.top_k = sp->k; acfg.routing = (MoeRouting)sp->routing;
    acfg.top_p = sp->top_p; acfg.n_shared = sp->n_shared; acfg.null_kind = (MoeNullKind)sp->null_kind;
    vc->st = moe_state_new(&acfg, 1);
    vc->st->stats_on = 0;
    vc->st->stochastic_rule = sp->stochastic_rule;
    param_store_init(&vc->ps);
    vc->w = param_declare(&vc->ps, "lin.weight", PARAM_FROZEN, 2, (int[]){ sp->out, sp->in });
    moe_linear_declare(&vc->lin, &vc->ps, "lin", sp->in, sp->out, &acfg, vc->st, 0, 0);
    param_store_allocate(&vc->ps);
    rng_fill_uniform(rng, vc->w->data, vc->w->numel, -1, 1);
    Tensor *x = tensor_3d(a, 2, 3, sp->in, 1);
    int ok = 0;
    for (int attempt = 0; attempt < 100 && !ok; attempt++) {
        moe_linear_init(&vc->lin, rng);
        rng_fill_uniform(rng, vc->lin.router->data, vc->lin.router->numel, -2, 2);
        rng_fill_uniform(rng, x->data, x->numel, -1, 1);
        ok = selection_stable(vc, x);
    }
    CHECK(ok, "no stable selection in 100 draws");
    for (int e = 0; e < vc->lin.n_true; e++) rng_fill_uniform(rng, vc->lin.lora_b[e]->data, vc->lin.lora_b[e]->numel, -1, 1);
    for (int j = 0; j < vc->lin.n_shared; j++)
        rng_fill_uniform(rng, vc->lin.shared_b[j]->data, vc->lin.shared_b[j]->numel, -1, 1);
    if (vc->lin.null_const) rng_fill_uniform(rng, vc->lin.null_const->data, vc->lin.null_const->numel, -1, 1);
    ex->aux = vc;
    ex->in[0] = x;
    ex->in[1] = vc->lin.router;
    ex->in[2] = vc->lin.lora_a[0];
    ex->in[3] = vc->lin.lora_b[vc->lin.n_true - 1];
    ex->n_in = 4;   /* at most 4 inputs: shared / constant-null tensors replace the expert ones */
    if (vc->lin.n_shared) ex->in[2] = vc->lin.shared_a[0];
    if (vc->lin.null_const) ex->in[3] = vc->lin.null_const;
    else if (vc->lin.n_shared) ex->in[3] = vc->lin.shared_b[vc->lin.n_shared - 1];
}

static Tensor *var_apply(Tape *t, const OpExample *ex) {
    const VarCase *vc = ex->aux;
    Tensor *y = op_linear(t, ex->in[0], vc->w);
    return moe_linear_forward(t, &vc->lin, ex->in[0], y, NULL);
}

static void var_cleanup(OpExample *ex) {
    VarCase *vc = ex->aux;
    moe_linear_free(&vc->lin);
    param_store_free(&vc->ps);
    moe_state_free(vc->st);
    free(vc);
}

static void v0(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[0]); }
static void v1(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[1]); }
static void v2(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[2]); }
static void v3(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[3]); }
static void v4(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[4]); }
static void v5(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[5]); }
static void v6(Arena *a, Rng *r, OpExample *ex) { var_example(a, r, ex, &VAR_SPECS[6]); }

static const OpCase VARIANTS[] = {
    { "moe_linear_top_p", v0, var_apply, var_cleanup },
    { "moe_linear_dense_loramoe", v1, var_apply, var_cleanup },
    { "moe_linear_stochastic_thor_train", v2, var_apply, var_cleanup },
    { "moe_linear_stochastic_thor_eval", v3, var_apply, var_cleanup },
    { "moe_linear_expert_choice", v4, var_apply, var_cleanup },
    { "moe_linear_shared2_constant_nulls", v5, var_apply, var_cleanup },
    { "moe_linear_shared1_identity_nulls", v6, var_apply, var_cleanup },
};

START_TEST(test_variant_gradcheck)
{
    const OpCase *op = &VARIANTS[_i];
    GradcheckResult r = gradcheck_op(op, 991 + (uint64_t)_i, 0);
    ck_assert_msg(r.checked > 0, "%s: nothing checked", op->name);
    if (sizeof(real) == sizeof(double))
        ck_assert_msg(r.worst_rel_err < GRADCHECK_TOL, "%s: worst rel err %.3e at input %d[%zu] (analytic %.10g, numeric %.10g)",
                      op->name, r.worst_rel_err, r.worst_input, r.worst_index, r.worst_analytic, r.worst_numeric);
}
END_TEST

Suite *moe_variants_suite(void) {
    Suite *s = suite_create("moe_variants");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_top_p_selection_and_raw_weights);
    tcase_add_test(tc, test_dense_expert_choice_random_average);
    tcase_add_test(tc, test_load_with_shared_experts);
    tcase_add_test(tc, test_variant_adapter_round_trip);
    tcase_add_test(tc, test_per_layer_lists);
    suite_add_tcase(s, tc);
    TCase *tg = tcase_create("gradcheck");
    tcase_set_timeout(tg, 300);
    tcase_add_loop_test(tg, test_variant_gradcheck, 0, (int)(sizeof VARIANTS / sizeof VARIANTS[0]));
    suite_add_tcase(s, tg);
    return s;
}
