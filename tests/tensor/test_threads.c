/* tests/tensor/test_threads.c — the work-weighted split of tensor/threads.h (parallel_for_weighted,
   used by op_routed_lora over rows with 0..k routed experts): for random, skewed and all-zero work
   profiles and 1..7 parts, the ranges are contiguous, disjoint and cover every item exactly once,
   and no part carries more than its share plus one item's work; run on the pool at 1, 2 and 3
   threads every item is visited exactly once. The critical-path clock (threads_critical_seconds)
   never runs backwards and counts a serial loop as itself. */
#include "tests/support/suites.h"
#include "tensor/threads.h"
#include "tensor/rng.h"
#include <stdlib.h>
#include <string.h>

enum { MAXN = 300 };

/* profile k of n items into cum [n + 1]: 0 random 0..3 (AdaMoE rows), 1 one heavy item, 2 all
   zero, 3 zeros then work, 4 equal work */
static void profile(int k, int n, Rng *rng, int *cum) {
    cum[0] = 0;
    for (int i = 0; i < n; i++) {
        int w = k == 0 ? (int)rng_int(rng, 4) : k == 1 ? (i == n / 3 ? 1000 : 1) : k == 2 ? 0 : k == 3 ? (i < n / 2 ? 0 : 2) : 3;
        cum[i + 1] = cum[i] + w;
    }
}

START_TEST(test_weighted_ranges_cover_once)
{
    Rng rng = rng_derive(99, 1);
    int cum[MAXN + 1];
    for (int k = 0; k < 5; k++)
        for (int n = 1; n <= MAXN; n += 37)
            for (int parts = 1; parts <= 7; parts++) {
                profile(k, n, &rng, cum);
                int maxw = 0;
                for (int i = 0; i < n; i++) maxw = cum[i + 1] - cum[i] > maxw ? cum[i + 1] - cum[i] : maxw;
                long prev = 0;
                for (int p = 0; p < parts; p++) {
                    long b, e;
                    weighted_part_range(n, cum, parts, p, &b, &e);
                    ck_assert_msg(b == prev && b <= e && e <= n, "profile %d, n %d, part %d/%d: [%ld, %ld) after %ld", k,
                                  n, p, parts, b, e, prev);
                    long work = cum[e] - cum[b];
                    ck_assert_msg(work <= (long)cum[n] / parts + 1 + maxw, "profile %d, n %d, part %d/%d: work %ld of %d",
                                  k, n, p, parts, work, cum[n]);
                    prev = e;
                }
                ck_assert_int_eq(prev, n);
            }
}
END_TEST

typedef struct { int *visits; } VisitCtx;
static void visit(void *vc, long b, long e) {
    VisitCtx *c = vc;
    for (long i = b; i < e; i++) c->visits[i]++;
}

START_TEST(test_weighted_visits_once)
{
    Rng rng = rng_derive(7, 3);
    int cum[MAXN + 1], visits[MAXN];
    for (int nt = 1; nt <= 3; nt++) {
        threads_init(nt);
        for (int k = 0; k < 5; k++) {
            profile(k, MAXN, &rng, cum);
            memset(visits, 0, sizeof visits);
            VisitCtx c = { visits };
            parallel_for_weighted(MAXN, cum, visit, &c);
            for (int i = 0; i < MAXN; i++) ck_assert_msg(visits[i] == 1, "%d threads, profile %d: item %d visited %d times", nt, k, i, visits[i]);
        }
    }
    threads_init(0);
}
END_TEST

static void spin(void *vc, long b, long e) {
    volatile double *x = vc;
    for (long i = b; i < e; i++) *x += 1e-9 * (double)i;
}

START_TEST(test_critical_clock)
{
    threads_init(2);
    threads_set_accounting(1);
    volatile double x = 0;
    double t0 = threads_critical_seconds();
    for (int r = 0; r < 20; r++) parallel_for(200000, spin, (void *)&x);
    double t1 = threads_critical_seconds();
    ck_assert(t1 >= t0);
    ck_assert(threads_imbalance_seconds() >= 0);
    threads_set_accounting(0);
    threads_init(0);
}
END_TEST

/* parallel_memzero zeroes exactly [p, p + bytes) for sizes on both sides of the parallel
   threshold and odd byte counts, at 1..3 threads: the guard bytes around it stay untouched. */
START_TEST(test_parallel_memzero_exact)
{
    const size_t sizes[] = { 0, 1, 4095, PARALLEL_ZERO_BYTES - 1, PARALLEL_ZERO_BYTES, 3 * PARALLEL_ZERO_BYTES + 777 };
    const size_t guard = 64;
    for (int t = 1; t <= 3; t++) {
        threads_init(t);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            unsigned char *buf = malloc(n + 2 * guard);
            memset(buf, 0xA5, n + 2 * guard);
            parallel_memzero(buf + guard, n);
            size_t bad = n + 2 * guard;     /* the first byte that is wrong, if any */
            for (size_t i = 0; i < n + 2 * guard && bad == n + 2 * guard; i++)
                if (buf[i] != (i >= guard && i < guard + n ? 0 : 0xA5)) bad = i;
            ck_assert_msg(bad == n + 2 * guard, "%d threads, %zu bytes: byte %zu (guard %zu) is %u", t, n, bad,
                          guard, bad < n + 2 * guard ? buf[bad] : 0);
            free(buf);
        }
    }
    threads_init(0);
}
END_TEST

Suite *threads_suite(void) {
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_weighted_ranges_cover_once);
    tcase_add_test(tc, test_weighted_visits_once);
    tcase_add_test(tc, test_critical_clock);
    tcase_add_test(tc, test_parallel_memzero_exact);
    suite_add_tcase(s, tc);
    return s;
}
