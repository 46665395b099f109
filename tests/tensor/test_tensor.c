/* tests/tensor/test_tensor.c — arena, tensor, RNG, bf16/f16 conversions, thread pool, CHECK. */
#include "tests/support/suites.h"
#include "tensor/arena.h"
#include "tensor/tensor.h"
#include "tensor/rng.h"
#include "tensor/half.h"
#include "tensor/threads.h"
#include "tensor/check.h"
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

START_TEST(test_arena_alignment_and_growth)
{
    Arena a;
    arena_init(&a, 4096);
    for (int i = 0; i < 100; i++) {
        void *p = arena_alloc(&a, (size_t)(i * 37 + 1));
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        memset(p, 0xAB, (size_t)(i * 37 + 1));   /* ASan catches an overlap/overflow */
    }
    void *big = arena_alloc(&a, 1 << 20);       /* larger than a block: gets its own */
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_ge(a.high_water, (1u << 20));
    arena_free(&a);
}
END_TEST

START_TEST(test_arena_no_malloc_after_first_step)
{
    Arena a;
    arena_init(&a, 8192);
    size_t after_first = 0;
    for (int step = 0; step < 5; step++) {
        /* a "step" with mixed sizes, same every time */
        for (int i = 0; i < 50; i++) arena_alloc(&a, (size_t)(i % 7 + 1) * 1000);
        arena_alloc(&a, 100000);
        if (step == 0) after_first = a.n_block_allocs;
        else ck_assert_uint_eq(a.n_block_allocs, after_first);
        arena_reset(&a);
    }
    ck_assert_uint_gt(after_first, 1);   /* the step really needed several blocks */
    arena_free(&a);
}
END_TEST

START_TEST(test_arena_mark_rewind)
{
    Arena a;
    arena_init(&a, 4096);
    arena_alloc(&a, 100);
    ArenaMark m = arena_mark(&a);
    size_t used = arena_used(&a);
    void *p1 = arena_alloc(&a, 3000);
    arena_alloc(&a, 5000);                       /* spills into a new block */
    ck_assert_uint_gt(arena_used(&a), used);
    arena_rewind(&a, m);
    ck_assert_uint_eq(arena_used(&a), used);
    void *p2 = arena_alloc(&a, 3000);
    ck_assert_ptr_eq(p1, p2);                    /* the same memory is handed out again */
    arena_free(&a);
}
END_TEST

START_TEST(test_tensor_new_and_view)
{
    Arena a;
    arena_init(&a, 4096);
    Tensor *t = tensor_3d(&a, 2, 3, 4, 1);
    ck_assert_uint_eq(t->numel, 24);
    ck_assert_uint_eq(tensor_rows(t), 6);
    ck_assert_int_eq(tensor_cols(t), 4);
    for (size_t i = 0; i < t->numel; i++) ck_assert(t->grad[i] == 0);
    Tensor *v = tensor_view(&a, t, 2, (int[]){ 6, 4 });
    ck_assert_ptr_eq(v->data, t->data);
    char buf[32];
    ck_assert_str_eq(tensor_shape_str(t, buf, sizeof buf), "[2,3,4]");
    arena_free(&a);
}
END_TEST

START_TEST(test_tensor_bad_view_aborts)
{
    Arena a;
    arena_init(&a, 4096);
    Tensor *t = tensor_2d(&a, 2, 3, 0);
    tensor_view(&a, t, 2, (int[]){ 4, 2 });
}
END_TEST

START_TEST(test_rng_deterministic_and_moments)
{
    Rng r1, r2;
    rng_seed(&r1, 42);
    rng_seed(&r2, 42);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(rng_u64(&r1), rng_u64(&r2));
    Rng a = rng_derive(42, 1), b = rng_derive(42, 2);
    ck_assert(rng_u64(&a) != rng_u64(&b));
    double sum = 0, sum2 = 0, usum = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = rng_normal(&r1);
        sum += z;
        sum2 += z * z;
        double u = rng_uniform(&r1);
        ck_assert(u >= 0 && u < 1);
        usum += u;
    }
    ck_assert_double_eq_tol(sum / n, 0.0, 0.01);
    ck_assert_double_eq_tol(sum2 / n, 1.0, 0.02);
    ck_assert_double_eq_tol(usum / n, 0.5, 0.01);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(rng_int(&r1, 7), 7);
}
END_TEST

START_TEST(test_bf16_rounding)
{
    /* exact values survive; ties round to even; NaN stays NaN; inf stays inf */
    ck_assert_float_eq(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
    ck_assert_float_eq(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
    ck_assert_uint_eq(f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);          /* tie -> even (down) */
    ck_assert_uint_eq(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);      /* tie -> even (up) */
    ck_assert_uint_eq(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81); /* above tie -> up */
    ck_assert(isnan(bf16_to_f32(f32_to_bf16(NAN))));
    ck_assert(isinf(bf16_to_f32(f32_to_bf16(INFINITY))));
    /* every bf16 bit pattern that is not NaN round-trips exactly */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bf16_to_f32((uint16_t)h);
        if (!isnan(f)) ck_assert_uint_eq(f32_to_bf16(f), h);
    }
}
END_TEST

START_TEST(test_f16_known_values_and_roundtrip)
{
    ck_assert_float_eq(f16_to_f32(0x3C00), 1.0f);
    ck_assert_float_eq(f16_to_f32(0xC000), -2.0f);
    ck_assert_float_eq(f16_to_f32(0x7BFF), 65504.0f);                /* largest normal */
    ck_assert_float_eq(f16_to_f32(0x0001), 0x1p-24f);                /* smallest subnormal */
    ck_assert_float_eq(f16_to_f32(0x03FF), 1023 * 0x1p-24f);         /* largest subnormal */
    ck_assert_float_eq(f16_to_f32(0x0400), 0x1p-14f);                /* smallest normal */
    ck_assert(isinf(f16_to_f32(0x7C00)) && f16_to_f32(0xFC00) < 0);
    ck_assert(isnan(f16_to_f32(0x7E00)));
    ck_assert_uint_eq(f32_to_f16(65520.0f), 0x7C00);                 /* rounds to inf */
    ck_assert_uint_eq(f32_to_f16(65519.0f), 0x7BFF);
    ck_assert_uint_eq(f32_to_f16(0x1p-25f), 0x0000);                 /* tie -> even zero */
    ck_assert_uint_eq(f32_to_f16(0x1.8p-25f), 0x0001);
    ck_assert_uint_eq(f32_to_f16(1.0f + 0x1p-11f), 0x3C00);          /* tie -> even */
    ck_assert_uint_eq(f32_to_f16(-0.0f), 0x8000);
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        if (!isnan(f)) ck_assert_uint_eq(f32_to_f16(f), h);
        else ck_assert(isnan(f16_to_f32(f32_to_f16(f))));
    }
}
END_TEST

typedef struct { int *owner; long calls; } PoolCtx;

static void mark_owner(void *ctx, long b, long e) {
    PoolCtx *c = ctx;
    for (long i = b; i < e; i++) c->owner[i] += 1;
}

START_TEST(test_threads_cover_every_item_once)
{
    for (int nt = 1; nt <= 4; nt++) {
        threads_init(nt);
        ck_assert_int_eq(threads_count(), nt);
        for (long n = 0; n < 300; n += 37) {
            int owner[300] = { 0 };
            PoolCtx c = { owner, 0 };
            parallel_for_chunks(n, 8, mark_owner, &c);
            for (long i = 0; i < n; i++) ck_assert_int_eq(owner[i], 1);
        }
    }
    threads_init(1);
}
END_TEST

START_TEST(test_check_aborts)
{
    int three = 3;
    CHECK(three == 4, "deliberate failure %d", three);
}
END_TEST

Suite *tensor_suite(void) {
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_arena_alignment_and_growth);
    tcase_add_test(tc, test_arena_no_malloc_after_first_step);
    tcase_add_test(tc, test_arena_mark_rewind);
    tcase_add_test(tc, test_tensor_new_and_view);
    tcase_add_abort_test(tc, test_tensor_bad_view_aborts);
    tcase_add_test(tc, test_rng_deterministic_and_moments);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_f16_known_values_and_roundtrip);
    tcase_add_test(tc, test_threads_cover_every_item_once);
    tcase_add_abort_test(tc, test_check_aborts);
    suite_add_tcase(s, tc);
    return s;
}
