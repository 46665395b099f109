/* tests/nn/test_field_tools.c — the adapter tools of the field around AdaMoE on hand-computed
   values:
     ComPEFT (nn/adapter_compress.h): v = [0.5, -3, 1, 2, -0.1, 0, 4, -2] at density 0.25 keeps
       -3 and 4 (70 bits: 6 position + 64 value bits, vs 256); ternary makes them ∓3.5 (40 bits);
       --std-scale 1 makes them ∓σ = ∓sqrt(33.54/8); ties go to the lower index;
     rank-r truncation (nn/lowrank.h): diag-like factors with singular values 3 and 2: rank 2
       rebuilds M exactly, rank 1 keeps only the 3; a product with a dependent column;
     MC-SMoE grouping (nn/moe_merge.h): usage [10, 1, 7, 2] -> leaders 0 and 2; 1 joins the leader
       it is closest to (0.9 vs 0.1), 3 the other (0.2 vs 0.8); ties -> lower index;
     merging a tiny AdaMoE (3 experts + 1 null -> 2): with expert 1 a copy of expert 0 and usage
       3 : 1 : 5, merged expert 0 has exactly the update of expert 0 and the router row
       (3 w0 + w1) / 4, merged expert 1 is expert 2 unchanged, the null row is copied; the
       calibration observer's usage equals the router statistics' counts. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_compress.h"
#include "nn/lowrank.h"
#include "nn/moe_merge.h"
#include "autograd/ops.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_compress_hand_values)
{
    const real v0[8] = { 0.5, -3, 1, 2, -0.1, 0, 4, -2 };
    real v[8];
    CompressStats st = { 0 };
    memcpy(v, v0, sizeof v);
    compress_tensor(v, 8, &(CompressSpec){ 0.25, 0, 0 }, &st);
    const real want[8] = { 0, -3, 0, 0, 0, 0, 4, 0 };
    for (int i = 0; i < 8; i++) ck_assert(v[i] == want[i]);
    ck_assert(st.kept == 2 && st.values == 8 && st.lora_bits == 256 && st.lora_bits_compressed == 70);
    memset(&st, 0, sizeof st);
    memcpy(v, v0, sizeof v);
    compress_tensor(v, 8, &(CompressSpec){ 0.25, 1, 0 }, &st);
    for (int i = 0; i < 8; i++) ck_assert(v[i] == (real)(want[i] > 0 ? 3.5 : want[i] < 0 ? -3.5 : 0));
    ck_assert(st.lora_bits_compressed == 40);
    memcpy(v, v0, sizeof v);
    compress_tensor(v, 8, &(CompressSpec){ 0.25, 1, 1.0 }, NULL);
    double sigma = sqrt(33.54 / 8);
    ck_assert(fabs(v[6] - sigma) < 1e-6 && fabs(v[1] + sigma) < 1e-6 && v[0] == 0);
    real t[4] = { 1, -1, 1, -1 };
    compress_tensor(t, 4, &(CompressSpec){ 0.5, 0, 0 }, NULL);
    ck_assert(t[0] == 1 && t[1] == -1 && t[2] == 0 && t[3] == 0);
    memcpy(v, v0, sizeof v);
    compress_tensor(v, 8, &(CompressSpec){ 1.0, 0, 0 }, NULL);
    ck_assert(!memcmp(v, v0, sizeof v));
}
END_TEST

/* max |B·A - M| for B [out, r], A [r, in], M [out, in] */
static double product_error(int out, int in, int r, const double *B, const double *A, const double *M) {
    double worst = 0;
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double acc = 0;
            for (int k = 0; k < r; k++) acc += B[o * r + k] * A[k * in + i];
            worst = fmax(worst, fabs(acc - M[o * in + i]));
        }
    return worst;
}

START_TEST(test_lowrank_hand_values)
{
    const double Bc[6] = { 1, 0, 0, 1, 0, 0 };                 /* [3, 2] */
    const double Ac[8] = { 2, 0, 0, 0, 0, 0, 3, 0 };           /* [2, 4] */
    const double M[12] = { 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0 };
    const double M1[12] = { 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0 };
    double B[6], A[8], sv[2];
    lowrank_truncate(3, 4, 2, Bc, Ac, 2, B, A, sv);
    ck_assert(fabs(sv[0] - 3) < 1e-12 && fabs(sv[1] - 2) < 1e-12);
    ck_assert(product_error(3, 4, 2, B, A, M) < 1e-12);
    lowrank_truncate(3, 4, 2, Bc, Ac, 1, B, A, NULL);
    ck_assert(product_error(3, 4, 1, B, A, M1) < 1e-12);
    /* Bc's columns are dependent (col 1 = 2·col 0): M = b (a0 + 2 a1) has rank 1 */
    const double Bd[4] = { 1, 2, 1, 2 }, Ad[6] = { 1, 0, 1, 0, 1, -1 };   /* [2, 2], [2, 3] */
    const double Md[6] = { 1, 2, -1, 1, 2, -1 };
    double Bo[4], Ao[6], s2[2];
    lowrank_truncate(2, 3, 2, Bd, Ad, 1, Bo, Ao, s2);
    ck_assert(product_error(2, 3, 1, Bo, Ao, Md) < 1e-12);
    ck_assert(fabs(s2[0] - sqrt(2.0 * 6.0)) < 1e-12 && fabs(s2[1]) < 1e-12);   /* |b|·|a0 + 2a1| */
}
END_TEST

START_TEST(test_merge_group_hand_values)
{
    const double count[4] = { 10, 1, 7, 2 };
    double sim[16] = { 0 };
    sim[1 * 4 + 0] = 0.9; sim[1 * 4 + 2] = 0.1;
    sim[3 * 4 + 0] = 0.2; sim[3 * 4 + 2] = 0.8;
    int g[4];
    merge_group(count, sim, 4, 2, g);
    ck_assert(g[0] == 0 && g[1] == 0 && g[2] == 1 && g[3] == 1);
    const double flat[3] = { 5, 5, 5 }, zero[9] = { 0 };
    merge_group(flat, zero, 3, 1, g);
    ck_assert(g[0] == 0 && g[1] == 0 && g[2] == 0);
    merge_group(flat, zero, 3, 2, g);   /* leaders 0, 1 (ties -> lower index); 2 -> the lower leader */
    ck_assert(g[0] == 0 && g[1] == 1 && g[2] == 0);
}
END_TEST

/* s·B·A of expert e of linear x, element (o, i) */
static double update(const MoeLinear *x, int e, int o, int i) {
    double acc = 0;
    for (int k = 0; k < x->rank; k++)
        acc += (double)x->lora_b[e]->data[o * x->rank + k] * (double)x->lora_a[e]->data[k * x->in + i];
    return x->scaling * acc;
}

START_TEST(test_merge_tiny_adamoe)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_Q | LORA_TARGET_DOWN, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&a);
    a.n_true = 3; a.n_null = 1; a.top_k = 3;
    LlamaModel m, m2;
    tiny_model(&m, &c, &a, 5, 0.1);
    MergeCalib cal;
    merge_calib_init(&cal, &m);
    Arena ar;   /* the observer's usage = the statistics' counts */
    arena_init(&ar, 1 << 20);
    Tape t;
    tape_init(&t, &ar);
    tape_set_no_grad(&t, 1);
    int ids[8] = { 3, 7, 9, 11, 4, 8, 20, 30 };
    moe_stats_reset(&m.moe->stats);
    llama_hidden(&t, &m, ids, 2, 4, NULL);
    const MoeModuleStats *ms = &m.moe->stats.mod[1 * MOE_MODULES + 6];
    for (int e = 0; e < 3; e++) ck_assert(cal.count[(1 * MOE_MODULES + 6) * 3 + e] == ms->counts[e]);
    ck_assert(cal.rows[1 * MOE_MODULES + 6] == 8);
    tape_free(&t);
    arena_free(&ar);
    const MoeLinear *x = m.layers[1].down.moe;   /* expert 1 := expert 0; usage 3 : 1 : 5 */
    memcpy(x->lora_a[1]->data, x->lora_a[0]->data, x->lora_a[0]->numel * sizeof(real));
    memcpy(x->lora_b[1]->data, x->lora_b[0]->data, x->lora_b[0]->numel * sizeof(real));
    int slot = 1 * MOE_MODULES + 6;
    double *cnt = cal.count + slot * 3, *zz = cal.zz + slot * 9;
    cnt[0] = 3; cnt[1] = 1; cnt[2] = 5;
    memset(zz, 0, 9 * sizeof *zz);
    zz[0] = zz[4] = zz[8] = 1; zz[1] = zz[3] = 0.9;   /* 1 is close to 0, far from 2 */
    AdapterConfig a2;
    Error err;
    ck_assert_int_eq(moe_merge_config(&m.acfg, 2, &a2, &err), STATUS_OK);
    ck_assert(a2.n_true == 2 && a2.top_k == 3);
    tiny_model(&m2, &c, &a2, 6, 0);
    int groups[2 * MOE_MODULES * 3];
    ck_assert_int_eq(moe_merge_into(&m, &cal, MERGE_SIM_ROUTER_LOGITS, &m2, groups, &err), STATUS_OK);
    ck_assert(groups[slot * 3] == 0 && groups[slot * 3 + 1] == 0 && groups[slot * 3 + 2] == 1);
    const MoeLinear *y = m2.layers[1].down.moe;
    double worst = 0;
    for (int o = 0; o < x->out; o++)
        for (int i = 0; i < x->in; i++) worst = fmax(worst, fabs(update(y, 0, o, i) - update(x, 0, o, i)));
    ck_assert_msg(worst < 1e-5, "merged expert 0 off by %g", worst);
    ck_assert(!memcmp(y->lora_a[1]->data, x->lora_a[2]->data, x->lora_a[2]->numel * sizeof(real)));
    ck_assert(!memcmp(y->lora_b[1]->data, x->lora_b[2]->data, x->lora_b[2]->numel * sizeof(real)));
    for (int i = 0; i < x->in; i++) {
        double want = (3 * (double)x->router->data[i] + (double)x->router->data[x->in + i]) / 4;
        ck_assert(fabs(y->router->data[i] - want) < 1e-6);
        ck_assert(y->router->data[x->in + i] == x->router->data[2 * x->in + i]);
        ck_assert(y->router->data[2 * x->in + i] == x->router->data[3 * x->in + i]);   /* the null row */
    }
    ck_assert_int_eq(moe_merge_config(&m.acfg, 3, &a2, &err), STATUS_INVALID);   /* not fewer */
    merge_calib_free(&cal);
    llama_free(&m2);
    llama_free(&m);
}
END_TEST

Suite *field_tools_suite(void) {
    Suite *s = suite_create("field_tools");
    TCase *tc = tcase_create("tools");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_compress_hand_values);
    tcase_add_test(tc, test_lowrank_hand_values);
    tcase_add_test(tc, test_merge_group_hand_values);
    tcase_add_test(tc, test_merge_tiny_adamoe);
    suite_add_tcase(s, tc);
    return s;
}
