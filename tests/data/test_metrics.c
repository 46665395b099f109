/* tests/data/test_metrics.c — data/metrics.c against hand-computed values: accuracy, MCC
   (incl. the 0-denominator convention and label -1 skipping), confusion counts, argmax ties,
   acc_norm by character (not byte) length. */
#include "tests/support/suites.h"
#include "data/metrics.h"
#include <math.h>

START_TEST(test_metrics_acc_mcc)
{
    /* gold/pred by hand: TP = {0,1,6}, FN = {2}, TN = {3,5}, FP = {4,7}; index 8 unlabeled */
    const int gold[9] = { 1, 1, 1, 0, 0, 0, 1, 0, -1 };
    const int pred[9] = { 1, 1, 0, 0, 1, 0, 1, 1, 0 };
    ck_assert(fabs(metric_accuracy(pred, gold, 9) - 5.0 / 8.0) < 1e-15);
    BinaryCounts c = binary_counts(pred, gold, 9, 1);
    ck_assert_int_eq(c.tp, 3);
    ck_assert_int_eq(c.fn, 1);
    ck_assert_int_eq(c.tn, 2);
    ck_assert_int_eq(c.fp, 2);
    /* (3*2 - 2*1) / sqrt(5 * 4 * 4 * 3) = 4 / sqrt(240) */
    ck_assert(fabs(metric_mcc(&c) - 0.25819888974716112) < 1e-12);
    /* MCC is symmetric in the classes: positive = 0 gives the same value */
    BinaryCounts c0 = binary_counts(pred, gold, 9, 0);
    ck_assert(fabs(metric_mcc(&c0) - metric_mcc(&c)) < 1e-15);
    /* constant predictions: denominator 0 -> 0 (majority-class CoLA baseline) */
    const int ones[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    c = binary_counts(ones, gold, 8, 1);
    ck_assert(metric_mcc(&c) == 0.0);
    ck_assert(fabs(metric_accuracy(ones, gold, 8) - 0.5) < 1e-15);
    c = binary_counts(gold, gold, 8, 1);
    ck_assert(fabs(metric_mcc(&c) - 1.0) < 1e-15);
    int inv[8];
    for (int i = 0; i < 8; i++) inv[i] = 1 - gold[i];
    c = binary_counts(inv, gold, 8, 1);
    ck_assert(fabs(metric_mcc(&c) + 1.0) < 1e-15);
    const int none[2] = { -1, -1 };
    ck_assert(metric_accuracy(ones, none, 2) == 0.0);
}
END_TEST

START_TEST(test_metrics_confusion_argmax)
{
    const int gold[6] = { 0, 1, 2, 2, 1, -1 };
    const int pred[6] = { 0, 2, 2, 1, 1, 0 };
    long conf[9];
    class_counts(pred, gold, 6, 3, conf);
    const long want[9] = { 1, 0, 0, /* gold 1 */ 0, 1, 1, /* gold 2 */ 0, 1, 1 };
    for (int i = 0; i < 9; i++) ck_assert_int_eq(conf[i], want[i]);
    const double s1[3] = { 1.0, 3.0, 3.0 };
    ck_assert_int_eq(score_argmax(s1, 3), 1);   /* tie -> lowest index */
    const double s2[2] = { -5.0, -5.0 };
    ck_assert_int_eq(score_argmax(s2, 2), 0);
    /* acc_norm: -6/3 = -2 vs -8/6 = -1.33 -> choice 1 although its raw score is lower */
    const double s3[2] = { -6.0, -8.0 };
    const char *c3[2] = { "abc", "abcdef" };
    ck_assert_int_eq(score_argmax(s3, 2), 0);
    ck_assert_int_eq(score_argmax_norm(s3, c3, 2), 1);
    /* characters, not bytes: "\xC3\xA9" is one character: -2/1 = -2 vs -3/3 = -1 -> 1
       (by bytes it would be -1 vs -1, a tie -> 0) */
    const double s4[2] = { -2.0, -3.0 };
    const char *c4[2] = { "\xC3\xA9", "abc" };
    ck_assert_int_eq(utf8_count_chars("\xC3\xA9x\xE2\x82\xAC"), 3);
    ck_assert_int_eq(score_argmax_norm(s4, c4, 2), 1);
    const double s5[2] = { -4.0, -2.0 };
    const char *c5[2] = { "abcd", "ab" };
    ck_assert_int_eq(score_argmax_norm(s5, c5, 2), 0);   /* -1 vs -1: tie -> lowest */
}
END_TEST

Suite *data_metrics_suite(void) {
    Suite *s = suite_create("data_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_metrics_acc_mcc);
    tcase_add_test(tc, test_metrics_confusion_argmax);
    suite_add_tcase(s, tc);
    return s;
}
