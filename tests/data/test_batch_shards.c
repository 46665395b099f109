/* tests/data/test_batch_shards.c — data-parallel shards of the batch iterator (data/batch.h):
   R shards of every batch are disjoint, keep the one-process order and padding, together give
   exactly the rows of the unsharded batch (its twin: the same iterator without shards), carry
   the whole batch's target count, and a shard that a short final batch leaves empty gets one
   all-pad row with no targets. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "data/batch.h"

/* the iterator over ts with batch 5 (24 examples: the last batch has 4 rows), shard s of R */
static void iter(BatchIter *it, const TokenizedSet *ts, int s, int R, int group) {
    BatchConfig bc;
    batch_config_default(&bc);
    bc.batch_size = 5;
    bc.seed = 7;
    bc.group_by_length = group;
    bc.shard = s;
    bc.n_shards = R;
    Error err;
    ck_assert_int_eq(batch_iter_init(it, ts, &bc, &err), STATUS_OK);
}

/* every batch of two epochs: the shards' rows, concatenated in shard order, are the batch's */
static void check_shards(const TokenizedSet *ts, int R, int group) {
    BatchIter one, sh[5];
    iter(&one, ts, 0, 1, group);
    for (int s = 0; s < R; s++) iter(&sh[s], ts, s, R, group);
    for (int k = 0; k < 12; k++) {   /* 5 batches per epoch + the end marker, twice */
        Batch b, p;
        int more = batch_next(&one, &b), row = 0, targets = 0;
        for (int s = 0; s < R; s++) {
            ck_assert_int_eq(batch_next(&sh[s], &p), more);
            if (!more) continue;
            ck_assert_int_eq(p.T, b.T);                          /* padded as one process pads */
            ck_assert_int_eq(p.B_global, b.B);
            ck_assert_int_eq(p.n_targets_global, b.n_targets);
            targets += p.n_targets;
            int lo = b.B * s / R, hi = b.B * (s + 1) / R;
            if (hi == lo) {                                      /* the empty shard's stand-in */
                ck_assert_int_eq(p.B, 1);
                ck_assert_int_eq(p.lengths[0], 0);
                ck_assert_int_eq(p.n_targets, 0);
                ck_assert_int_eq(p.label[0], -1);
                for (int t = 0; t < p.T; t++) ck_assert_int_eq(p.targets[t], IGNORE_INDEX);
                continue;
            }
            ck_assert_int_eq(p.B, hi - lo);
            for (int r = 0; r < p.B; r++, row++) {
                ck_assert_int_eq(p.index[r], b.index[row]);
                ck_assert_int_eq(p.lengths[r], b.lengths[row]);
                ck_assert_int_eq(memcmp(p.input_ids + (size_t)r * p.T, b.input_ids + (size_t)row * b.T,
                                        (size_t)b.T * sizeof(int)), 0);
                ck_assert_int_eq(memcmp(p.targets + (size_t)r * p.T, b.targets + (size_t)row * b.T,
                                        (size_t)b.T * sizeof(int)), 0);
            }
        }
        if (more) {
            ck_assert_int_eq(row, b.B);                          /* every row, once */
            ck_assert_int_eq(targets, b.n_targets);
        }
    }
    batch_iter_free(&one);
    for (int s = 0; s < R; s++) batch_iter_free(&sh[s]);
}

START_TEST(test_shards_partition_batches)
{
    TokenizedSet ts;
    synthetic_parity_set(&ts, 3);
    ck_assert_int_eq(ts.n, 24);
    check_shards(&ts, 1, 0);
    check_shards(&ts, 2, 0);   /* last batch 4 rows: 2 + 2; full batches 2 + 3 */
    check_shards(&ts, 5, 1);   /* last batch 4 rows over 5 shards: shard 0 is empty */
    tokenized_set_free(&ts);
}
END_TEST

START_TEST(test_shard_out_of_range)
{
    TokenizedSet ts;
    synthetic_parity_set(&ts, 3);
    BatchConfig bc;
    batch_config_default(&bc);
    bc.shard = 2;
    bc.n_shards = 2;
    BatchIter it;
    Error err;
    ck_assert_int_eq(batch_iter_init(&it, &ts, &bc, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "shard 2 outside 0..1"), "%s", err.message);
    tokenized_set_free(&ts);
}
END_TEST

Suite *data_batch_shards_suite(void) {
    Suite *s = suite_create("data_batch_shards");
    TCase *tc = tcase_create("shards");
    tcase_add_test(tc, test_shards_partition_batches);
    tcase_add_test(tc, test_shard_out_of_range);
    suite_add_tcase(s, tc);
    return s;
}
