/* tests/nn/test_moe_model.c — the Mo-LoRA / AdaMoE linear against a naive dense twin (every
   normalisation and null kind, with padding rows), padding invariance of the tiny Llama, and the
   behaviour the paper predicts: with the Eq. 6 loss on, Load approaches k·n/(n+m) from a router
   that was first pushed towards the true experts, and tokens with 0..k true experts all occur. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include "optim/adamw.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dense twin: torch_ref.py Forward.linear in double, one row at a time ---- */

static void twin_row(const MoeLinear *m, const real *W, const real *x, double *y) {
    int E = m->n_true + m->n_null, order[MOE_MAX_EXPERTS];
    double p[MOE_MAX_EXPERTS], mx = -INFINITY, sum = 0;
    for (int e = 0; e < E; e++) {
        double z = 0;
        for (int j = 0; j < m->in; j++) z += (double)m->router->data[e * m->in + j] * x[j];
        p[e] = z;
        mx = fmax(mx, z);
    }
    for (int e = 0; e < E; e++) { p[e] = exp(p[e] - mx); sum += p[e]; }
    for (int e = 0; e < E; e++) { p[e] /= sum; order[e] = e; }
    for (int i = 1; i < E; i++)                 /* stable insertion sort, descending */
        for (int j = i; j > 0 && p[order[j]] > p[order[j - 1]]; j--) { int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t; }
    double s = 0, null_w = 0;
    for (int q = 0; q < m->top_k; q++)
        if (m->all_selected || order[q] < m->n_true) s += p[order[q]];
    if (s <= 0) s = 1;
    for (int i = 0; i < m->out; i++) {
        y[i] = 0;
        for (int j = 0; j < m->in; j++) y[i] += (double)W[i * m->in + j] * x[j];
    }
    for (int q = 0; q < m->top_k; q++) {
        int e = order[q];
        if (e >= m->n_true) { null_w += m->all_selected ? p[e] / s : p[e]; continue; }
        double w = p[e] / s * m->scaling, h[16];
        for (int r = 0; r < m->rank; r++) {
            h[r] = 0;
            for (int j = 0; j < m->in; j++) h[r] += (double)m->lora_a[e]->data[r * m->in + j] * x[j];
        }
        for (int i = 0; i < m->out; i++)
            for (int r = 0; r < m->rank; r++) y[i] += w * (double)m->lora_b[e]->data[i * m->rank + r] * h[r];
    }
    if (m->identity_nulls)
        for (int i = 0; i < m->out; i++) y[i] += null_w * x[i];
}

typedef struct { int out, n, m, k; MoeNormalize norm; MoeNullKind nk; } TwinSpec;

/* random router with a shared direction u (x·u > 0 favours the nulls, so bypass rows occur),
   random B (a fresh B is zero) */
static void randomise(MoeLinear *lin, Rng *rng) {
    int in = lin->in;
    rng_fill_uniform(rng, lin->router->data, lin->router->numel, -1.5, 1.5);
    real u[16];
    rng_fill_uniform(rng, u, (size_t)in, -1, 1);
    for (int e = 0; e < lin->n_true + lin->n_null; e++)
        for (int j = 0; j < in; j++) lin->router->data[e * in + j] += (e < lin->n_true ? -1 : 1) * u[j];
    for (int e = 0; e < lin->n_true; e++) rng_fill_uniform(rng, lin->lora_b[e]->data, lin->lora_b[e]->numel, -1, 1);
}

START_TEST(test_moe_linear_matches_dense_twin)
{
    static const TwinSpec specs[] = {
        { 7, 4, 0, 2, MOE_NORM_TRUE_ONLY, MOE_NULL_ZERO },  { 7, 4, 4, 4, MOE_NORM_TRUE_ONLY, MOE_NULL_ZERO },
        { 7, 4, 5, 4, MOE_NORM_ALL_SELECTED, MOE_NULL_ZERO }, { 6, 3, 4, 3, MOE_NORM_TRUE_ONLY, MOE_NULL_IDENTITY },
        { 6, 3, 4, 3, MOE_NORM_ALL_SELECTED, MOE_NULL_IDENTITY } };
    const TwinSpec *sp = &specs[_i];
    int in = 6, N = 200;
    AdapterConfig acfg = { .kind = sp->m ? ADAPTER_ADAMOE : ADAPTER_MOLORA, .targets = LORA_TARGET_ALL, .rank = 3, .alpha = 5 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = sp->n; acfg.n_null = sp->m; acfg.top_k = sp->k; acfg.normalize = sp->norm; acfg.null_kind = sp->nk;
    MoeState *st = moe_state_new(&acfg, 1);
    ParamStore ps;
    param_store_init(&ps);
    Tensor *W = param_declare(&ps, "lin.weight", PARAM_FROZEN, 2, (int[]){ sp->out, in });
    MoeLinear lin;
    moe_linear_declare(&lin, &ps, "lin", in, sp->out, &acfg, st, 0, 3);
    param_store_allocate(&ps);
    Rng rng = rng_derive(99, (uint64_t)_i);
    rng_fill_uniform(&rng, W->data, W->numel, -1, 1);
    moe_linear_init(&lin, &rng);
    randomise(&lin, &rng);
    Arena a;
    arena_init(&a, 1 << 18);
    Tape t;
    tape_init(&t, &a);
    Tensor *x = tensor_2d(&a, N, in, 0);
    rng_fill_uniform(&rng, x->data, x->numel, -1, 1);
    unsigned char *mask = arena_alloc(&a, (size_t)N);
    for (int i = 0; i < N; i++) mask[i] = i % 7 != 3;
    moe_forward_begin(st, mask, N);
    Tensor *y = moe_linear_forward(&t, &lin, x, op_linear(&t, x, W), NULL);
    int bypass = 0;
    for (int i = 0; i < N; i++) {
        double want[16], base[16];
        twin_row(&lin, W->data, x->data + (size_t)i * in, want);
        if (!mask[i]) {     /* a pad row: base output only */
            MoeLinear none = lin;
            none.top_k = 0;
            twin_row(&none, W->data, x->data + (size_t)i * in, base);
            memcpy(want, base, sizeof base);
        }
        for (int j = 0; j < sp->out; j++)
            ck_assert_msg(fabs((double)y->data[(size_t)i * sp->out + j] - want[j]) < 1e-5 * (1 + fabs(want[j])),
                          "case %d row %d col %d: %g vs twin %g", _i, i, j, (double)y->data[(size_t)i * sp->out + j], want[j]);
        bypass += mask[i] && st->log[3].r->n_true_sel[i] == 0;
    }
    if (sp->m) ck_assert_msg(bypass > 0, "case %d: no bypass row among %d: the twin never tested it", _i, N);
    MoeSummary s;
    moe_summary_module(&st->stats, 0, 3, &s);
    ck_assert_int_eq((int)s.tokens, N - (N + 3) / 7);
    tape_free(&t);
    arena_free(&a);
    moe_linear_free(&lin);
    param_store_free(&ps);
    moe_state_free(st);
}
END_TEST

/* ---- padding: real rows of a right-padded batch do not see the mask ---- */

START_TEST(test_pad_mask_invariance)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    LlamaModel m;
    tiny_model(&m, &c, &acfg, 5, 0.3);
    const int ids[12] = { 1, 4, 9, 16, 25, 36, 1, 7, 14, 0, 0, 0 }, lengths[2] = { 6, 3 };
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    moe_stats_reset(&m.moe->stats);
    Tensor *h1 = llama_hidden_padded(&t, &m, ids, lengths, 2, 6, NULL);
    MoeSummary s;
    moe_summary_layer(&m.moe->stats, 1, &s);
    ck_assert_int_eq((int)s.tokens, 9 * MOE_MODULES);
    Tensor *h0 = llama_hidden_padded(&t, &m, ids, NULL, 2, 6, NULL);
    for (int row = 0; row < 12; row++) {
        if (row % 6 >= lengths[row / 6]) continue;
        for (int j = 0; j < c.dim; j++) {
            double d = fabs((double)h1->data[row * c.dim + j] - (double)h0->data[row * c.dim + j]);
            ck_assert_msg(d < 1e-5, "row %d dim %d differs by %g with the pad mask", row, j, d);
        }
    }
    tape_free(&t);
    arena_free(&a);
    llama_free(&m);
}
END_TEST

/* ---- behaviour: Eq. 6 drives Load to k·n/(n+m) ---- */

enum { BB = 4, BT = 12 };

/* Load of the model on the batch (no-grad forward), with the true-count histogram */
static double measure_load(LlamaModel *m, const int *ids, Arena *a, MoeSummary *s) {
    Tape t;
    tape_init(&t, a);
    tape_set_no_grad(&t, 1);
    moe_stats_reset(&m->moe->stats);
    llama_hidden(&t, m, ids, BB, BT, NULL);
    moe_summary_model(&m->moe->stats, s);
    tape_free(&t);
    arena_reset(a);
    return s->load;
}

/* one AdamW step on CE + coef·aux, or (skew) on Σ_routers Σ_t (Σ_null p − Σ_true p) / N */
static void train_step(LlamaModel *m, AdamW *opt, const int *ids, const int *tg, Arena *a, int skew, double coef, double lr) {
    Tape t;
    tape_init(&t, a);
    param_store_zero_grad(&m->ps);
    Tensor *loss;
    if (skew) {
        llama_hidden(&t, m, ids, BB, BT, NULL);
        double w[MOE_MAX_EXPERTS];
        int n = m->acfg.n_true, E = n + m->acfg.n_null;
        for (int i = 0; i < E; i++) w[i] = (i < n ? -1.0 : 1.0) / (BB * BT);
        loss = NULL;
        for (int i = 0; i < m->cfg.n_layers * MOE_MODULES; i++) {
            if (!m->moe->log[i].p) continue;
            Tensor *l = op_router_aux(&t, m->moe->log[i].p, w, NULL);
            loss = loss ? op_add(&t, loss, l) : l;
        }
    } else {
        loss = llama_loss_padded(&t, m, ids, tg, NULL, BB, BT, coef, NULL, NULL);
    }
    tape_backward(&t, loss);
    adamw_step(opt, m->ps.train, m->ps.train_grad, lr);
    tape_free(&t);
    arena_reset(a);
}

/* Tiny Llama, adamoe n = 4, m null, k = 4, all seven targets. Phase 1 pushes every router
   towards the true experts (Load ~3.7). Phase 2 trains CE + 20·aux for 300 AdamW steps (lr 0.01)
   and returns the final Load; s gets the final statistics. (A much harder phase 1 — lr 0.05 —
   saturates the softmax, p of the losing experts ~0, and then the Eq. 6 gradient, ∝ p, can no
   longer rebalance: Load stalls near 2.1 for m5k4. Real routers start near uniform.) */
static double eq6_run(int n_null, MoeAuxKind aux, double *skewed, MoeSummary *s) {
    ModelConfig c = tiny_config(0);
    AdapterConfig acfg = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&acfg);
    acfg.n_true = 4; acfg.n_null = n_null; acfg.top_k = 4; acfg.aux = aux;
    LlamaModel m;
    tiny_model(&m, &c, &acfg, 11, 0.1);
    Rng rng = rng_derive(3, 4);
    int ids[BB * BT], tg[BB * BT];
    for (int i = 0; i < BB * BT; i++) {
        ids[i] = (int)rng_int(&rng, (uint64_t)c.vocab_size);
        tg[i] = (int)rng_int(&rng, (uint64_t)c.vocab_size);
    }
    Arena a;
    arena_init(&a, 1 << 22);
    AdamW opt;
    AdamWConfig oc = { 0.9, 0.999, 1e-8, 0.0 };
    adamw_init(&opt, &oc, m.ps.train_numel);
    for (int step = 0; step < 30; step++) train_step(&m, &opt, ids, tg, &a, 1, 0, 0.01);
    *skewed = measure_load(&m, ids, &a, s);
    for (int step = 0; step < 300; step++) train_step(&m, &opt, ids, tg, &a, 0, 20.0, 0.01);
    double load = measure_load(&m, ids, &a, s);
    printf("Eq. 6 behaviour n=4 m=%d k=4 aux %s: Load %.3f after the skew phase, %.3f after 300 steps; "
           "tokens with 0..4 true experts: %.3f %.3f %.3f %.3f %.3f\n", n_null, moe_aux_kind_name(aux), *skewed, load,
           s->true_hist[0], s->true_hist[1], s->true_hist[2], s->true_hist[3], s->true_hist[4]);
    adamw_free(&opt);
    arena_free(&a);
    llama_free(&m);
    return load;
}

static void load_converges(int n_null, double target) {
    MoeSummary s;
    double skewed, load = eq6_run(n_null, MOE_AUX_EQ6, &skewed, &s);
    ck_assert_msg(skewed > target + 1.0, "m%d: the skew phase left Load at %.3f", n_null, skewed);
    ck_assert_msg(fabs(load - target) < 0.1 * target, "m%d k4: Load %.3f not within 10%% of %.3f", n_null, load, target);
    for (int j = 0; j <= 4; j++) ck_assert_msg(s.true_hist[j] > 0, "no token with %d true experts", j);
}

START_TEST(test_eq6_load_m4k4) { load_converges(4, 2.0); }
END_TEST

START_TEST(test_eq6_load_m5k4) { load_converges(5, 16.0 / 9.0); }
END_TEST

/* the paper's other Table 7 point: m7k4 -> 16/11 = 1.45 */
START_TEST(test_eq6_load_m7k4) { load_converges(7, 16.0 / 11.0); }
END_TEST

/* control: the same run without the aux loss stays far from the balance point */
START_TEST(test_no_aux_load_stays)
{
    MoeSummary s;
    double skewed, load = eq6_run(5, MOE_AUX_NONE, &skewed, &s);
    ck_assert_msg(load > 16.0 / 9.0 + 0.5, "without aux: Load %.3f (skewed %.3f)", load, skewed);
}
END_TEST

Suite *moe_model_suite(void) {
    Suite *s = suite_create("moe_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_moe_linear_matches_dense_twin, 0, 5);
    tcase_add_test(tc, test_pad_mask_invariance);
    tcase_add_test(tc, test_eq6_load_m4k4);
    tcase_add_test(tc, test_eq6_load_m5k4);
    tcase_add_test(tc, test_eq6_load_m7k4);
    tcase_add_test(tc, test_no_aux_load_stays);
    suite_add_tcase(s, tc);
    return s;
}
