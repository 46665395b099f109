/* tests/tensor/test_threads.c — the work-weighted split of tensor/threads.h (parallel_for_weighted,
   used by op_routed_lora over rows with 0..k routed experts): for random, skewed and all-zero work
   profiles and 1..7 parts, the ranges are contiguous, disjoint and cover every item exactly once,
   and no part carries more than its share plus one item's work; run on the pool at 1, 2 and 3
   threads every item is visited exactly once. The critical-path clock (threads_critical_seconds)
   never runs backwards and counts a serial loop as itself. */
#include "tests/support/suites.h"
#include "tensor/threads.h"
#include "tensor/rng.h"
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

Suite *threads_suite(void) {
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_weighted_ranges_cover_once);
    tcase_add_test(tc, test_weighted_visits_once);
    tcase_add_test(tc, test_critical_clock);
    suite_add_tcase(s, tc);
    return s;
}
