/* tests/tensor/test_pack_cache.c — frozen weights' GEMM panels kept for the run
   (tensor/pack_cache.h, GemmB.packed, param_store_enable_packs).
   The claim: a product through kept panels is gemm's own bit for bit. Checked against gemm_plus
   packing B per call for both orientations of W (x·Wᵀ and dY·W), with and without an extra
   product (LoRA's rank side, whose B the kept path packs on its own), beta 0 and 1, shapes with
   tail panels (N not a multiple of NR) and K over several slices (> KC_MAX = 512), at 1 and 2
   threads; a pack that does not fit the call (other N / K, other level) is ignored, not misread.
   pack_get: packs once per orientation, within the cap (over it: NULL and nothing held), made
   again for another micro-kernel level, none where the level cannot take a pack with an extra
   product (not AVX-512); release returns the bytes. ParamStore: slots only on frozen f32
   matrices. Ops: op_lora_linear and the fused LM head + cross-entropy give the same loss and
   gradients bit for bit with a store's packs on and off. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/pack_cache.h"
#include "tensor/threads.h"
#include "nn/param_store.h"
#include "autograd/ops.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static real *rnd_array(size_t n) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    for (size_t i = 0; i < n; i++) p[i] = xorshift_unit(&rng_state);
    return p;
}

/* C = beta·C0 + op(X)·op(W) (+ X2·op(B2)) through gemm_plus, with W's kept panels (pb) or not */
static real *product(int tb, int M, int N, int K, int K2, real beta, const real *X, const real *W, const real *X2,
                     const real *B2, const GemmPackedB *pb, const real *C0) {
    real *C = malloc((size_t)M * N * sizeof(real));
    memcpy(C, C0, (size_t)M * N * sizeof(real));
    GemmExtra ext = { X2, K2, B2, tb ? K2 : N, K2 };
    GemmB b = { W, NULL, NULL, tb ? K : N, pb };
    gemm_plus(0, tb, M, N, K, (real)0.5, X, K, b, K2 ? &ext : NULL, beta, C, N);
    return C;
}

static void check_same(int tb, int M, int N, int K, int K2, real beta) {
    real *X = rnd_array((size_t)M * K), *W = rnd_array((size_t)N * K), *X2 = rnd_array((size_t)M * (K2 + 1));
    real *B2 = rnd_array((size_t)N * (K2 + 1)), *C0 = rnd_array((size_t)M * N);
    size_t bytes = (gemm_packed_b_reals(N, K) * sizeof(real) + 63) / 64 * 64;
    real *dst = aligned_alloc(64, bytes);
    GemmPackedB pb = gemm_pack_b_once(tb, N, K, W, NULL, tb ? K : N, dst);
    real *ref = product(tb, M, N, K, K2, beta, X, W, X2, B2, NULL, C0);
    real *got = product(tb, M, N, K, K2, beta, X, W, X2, B2, &pb, C0);
    ck_assert_msg(memcmp(ref, got, (size_t)M * N * sizeof(real)) == 0,
                  "%s, %d thread(s): tb=%d M=%d N=%d K=%d K2=%d beta=%g: kept panels differ from packing per call",
                  gemm_simd_level(), threads_count(), tb, M, N, K, K2, (double)beta);
    /* panels of another shape: ignored (the per-call result), never read as if they fit */
    GemmPackedB wrong = pb;
    wrong.K = K + 1;
    real *ign = product(tb, M, N, K, K2, beta, X, W, X2, B2, &wrong, C0);
    ck_assert_msg(memcmp(ref, ign, (size_t)M * N * sizeof(real)) == 0, "a pack of another K was used");
    free(X); free(W); free(X2); free(B2); free(C0); free(dst); free(ref); free(got); free(ign);
}

START_TEST(test_kept_panels_bitwise_gemm)
{
    /* the first: K 64, so one sweep over kept panels takes ~2k rows of A, whose extra product's
       columns must all fit the GEMM's scratch (stories260K's layers overflowed it once; first,
       before a larger case grows the scratch) */
    static const int shapes[][3] = { { 2040, 64, 64 }, { 37, 100, 29 }, { 200, 288, 288 }, { 64, 768, 288 },
                                     { 70, 61, 1100 } };
    for (int t = 1; t <= 2; t++) {
        threads_init(t);
        for (int s = 0; s < 5; s++)
            for (int tb = 0; tb < 2; tb++)
                for (int k2 = 0; k2 <= 8; k2 += 8) {
                    check_same(tb, shapes[s][0], shapes[s][1], shapes[s][2], k2, 0);
                    check_same(tb, shapes[s][0], shapes[s][1], shapes[s][2], k2, 1);
                }
    }
    threads_init(0);
}
END_TEST

/* a 2-d tensor over malloc'd data, with a slot of cache c */
static Tensor weight(int rows, int cols, PackSlot *slot, PackCache *c) {
    Tensor w = { 0 };
    w.ndim = 2, w.shape[0] = rows, w.shape[1] = cols, w.numel = (size_t)rows * cols;
    w.data = rnd_array(w.numel);
    memset(slot, 0, sizeof *slot);
    slot->cache = c;
    w.pack = slot;
    return w;
}

START_TEST(test_pack_get_once_cap_release_levels)
{
    PackCache c;
    PackSlot slot;
    pack_cache_init(&c, (size_t)1 << 30);
    Tensor w = weight(100, 70, &slot, &c);
    const GemmPackedB *t1 = pack_get(&w, 1);
    if (!gemm_takes_packed()) {   /* not AVX-512: nothing is ever packed */
        ck_assert_ptr_null(t1);
        ck_assert_uint_eq(c.used, 0);
        free(w.data);
        return;
    }
    ck_assert_ptr_nonnull(t1);
    ck_assert_int_eq(t1->N, 100);
    ck_assert_int_eq(t1->K, 70);
    ck_assert_ptr_eq(pack_get(&w, 1), t1);           /* packed once */
    ck_assert_ptr_eq(t1->data, pack_get(&w, 1)->data);
    const GemmPackedB *n1 = pack_get(&w, 0);
    ck_assert_ptr_nonnull(n1);
    ck_assert_int_eq(n1->N, 70);
    ck_assert_int_eq(n1->K, 100);
    size_t both = c.used;
    ck_assert_uint_ge(both, (gemm_packed_b_reals(100, 70) + gemm_packed_b_reals(70, 100)) * sizeof(real));
    pack_slot_release(&slot);
    ck_assert_uint_eq(c.used, 0);
    /* another level: made again with that level's NR (avx2: nothing, it cannot take one) */
    ck_assert(pack_get(&w, 1) != NULL);
    ck_assert(gemm_force_level("avx2"));
    ck_assert_ptr_null(pack_get(&w, 1));
    ck_assert(gemm_force_level(NULL));
    ck_assert_int_eq(pack_get(&w, 1)->nr, gemm_active_nr());
    pack_slot_release(&slot);
    /* over the cap: NULL, and the cache holds nothing */
    pack_cache_init(&c, gemm_packed_b_reals(100, 70) * sizeof(real) / 2);
    ck_assert_ptr_null(pack_get(&w, 1));
    ck_assert_uint_eq(c.used, 0);
    free(w.data);
}
END_TEST

START_TEST(test_store_slots_only_frozen_f32_matrices)
{
    ParamStore ps;
    param_store_init(&ps);
    Tensor *fm = param_declare(&ps, "frozen.matrix", PARAM_FROZEN, 2, (int[]){ 8, 4 });
    Tensor *fv = param_declare(&ps, "frozen.norm", PARAM_FROZEN, 1, (int[]){ 4 });
    Tensor *tm = param_declare(&ps, "trained.matrix", PARAM_TRAINABLE, 2, (int[]){ 8, 4 });
    param_store_allocate(&ps);
    param_store_enable_packs(&ps, (size_t)1 << 20);
    ck_assert_ptr_nonnull(fm->pack);
    ck_assert_ptr_null(fv->pack);
    ck_assert_ptr_null(tm->pack);
    ck_assert_ptr_null(pack_get(tm, 1));
    param_store_disable_packs(&ps);
    ck_assert_ptr_null(fm->pack);
    param_store_enable_packs(&ps, 0);   /* cap 0: none */
    ck_assert_ptr_null(fm->pack);
    param_store_free(&ps);

    param_store_init(&ps);   /* a bf16 base: its matrices are not f32, no slots */
    param_store_set_base_dtype(&ps, BASE_DTYPE_BF16);
    fm = param_declare(&ps, "frozen.matrix", PARAM_FROZEN, 2, (int[]){ 8, 4 });
    param_store_allocate(&ps);
    param_store_enable_packs(&ps, (size_t)1 << 20);
    ck_assert_ptr_null(fm->pack);
    param_store_free(&ps);
}
END_TEST

/* loss and every gradient of x -> lora_linear(W frozen) -> LM head (V frozen) -> CE, with the
   store's packs on or off */
static real run_ops(ParamStore *ps, Tensor *x, Tensor *w, Tensor *a, Tensor *b, Tensor *v, int packs, real *grads) {
    if (packs) param_store_enable_packs(ps, (size_t)64 << 20);
    else param_store_disable_packs(ps);
    param_store_zero_grad(ps);
    Arena ar;
    arena_init(&ar, (size_t)8 << 20);
    Tape t;
    tape_init(&t, &ar);
    static const int targets[40] = { 1, 5, 9, 2, 0, 7, 3, 3, 8, 6, 1, 2, 4, 9, 0, 5, 7, 6, 2, 8,
                                     3, 1, 0, 4, 6, 9, 5, 7, 2, 8, 4, 3, 1, 0, 9, 6, 5, 2, 7, 8 };
    Tensor *h = op_lora_linear(&t, x, w, a, b, (real)2);
    Tensor *loss = op_linear_cross_entropy_chunked(&t, h, v, targets, 40, 16);
    tape_backward(&t, loss);
    real l = loss->data[0];
    memcpy(grads, ps->train_grad, ps->train_numel * sizeof(real));
    tape_free(&t);
    arena_free(&ar);
    return l;
}

START_TEST(test_ops_same_bits_with_packs)
{
    ParamStore ps;
    param_store_init(&ps);
    Tensor *x = param_declare(&ps, "x", PARAM_TRAINABLE, 2, (int[]){ 40, 64 });
    Tensor *w = param_declare(&ps, "w", PARAM_FROZEN, 2, (int[]){ 100, 64 });
    Tensor *a = param_declare(&ps, "lora_A", PARAM_TRAINABLE, 2, (int[]){ 4, 64 });
    Tensor *b = param_declare(&ps, "lora_B", PARAM_TRAINABLE, 2, (int[]){ 100, 4 });
    Tensor *v = param_declare(&ps, "lm_head", PARAM_FROZEN, 2, (int[]){ 10, 100 });
    param_store_allocate(&ps);
    for (int i = 0; i < ps.n; i++) {
        Tensor *p = ps.params[i];
        for (size_t j = 0; j < p->numel; j++) p->data[j] = xorshift_unit(&rng_state) * (real)0.5;
    }
    real *g0 = malloc(ps.train_numel * sizeof(real)), *g1 = malloc(ps.train_numel * sizeof(real));
    real l0 = run_ops(&ps, x, w, a, b, v, 0, g0);
    real l1 = run_ops(&ps, x, w, a, b, v, 1, g1);
    if (gemm_takes_packed()) ck_assert_uint_gt(ps.pack_cache->used, 0);   /* the packs were made and used */
    ck_assert_msg(l0 == l1, "loss %.9g with packs, %.9g without", (double)l1, (double)l0);
    ck_assert_msg(memcmp(g0, g1, ps.train_numel * sizeof(real)) == 0, "gradients differ with packs");
    ck_assert(isfinite(l0) && l0 > 0);
    free(g0);
    free(g1);
    param_store_free(&ps);
}
END_TEST

Suite *pack_cache_suite(void) {
    Suite *s = suite_create("pack_cache");
    TCase *tc = tcase_create("pack_cache");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kept_panels_bitwise_gemm);
    tcase_add_test(tc, test_pack_get_once_cap_release_levels);
    tcase_add_test(tc, test_store_slots_only_frozen_f32_matrices);
    tcase_add_test(tc, test_ops_same_bits_with_packs);
    suite_add_tcase(s, tc);
    return s;
}
