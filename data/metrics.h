/* data/metrics.h — evaluation metrics over predicted / gold choice indices.
   defines: BinaryCounts, metric_accuracy, binary_counts, binary_counts_add, metric_mcc, class_counts,
            score_argmax, score_argmax_norm, utf8_count_chars
   Examples whose gold label is -1 (unknown) are skipped everywhere.
   MCC (REFERENCE.md §5.5) = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)), 0 when the
   denominator is 0 (sklearn). Positive class = the dataset's positive_choice (example.h).
   Scoring (lm-eval): acc = argmax of the per-choice scores, ties -> lowest index; acc_norm =
   argmax of score / len(choice) with len in CHARACTERS (Unicode code points of the choice text,
   without the leading " " delimiter). */
#ifndef METRICS_H
#define METRICS_H

typedef struct {
    long tp, tn, fp, fn;
} BinaryCounts;

/* correct / labelled (0 when nothing is labelled) */
double metric_accuracy(const int *pred, const int *gold, int n);
BinaryCounts binary_counts(const int *pred, const int *gold, int n, int positive);
/* counts one example into *c (nothing when gold < 0): the update binary_counts makes per element */
void binary_counts_add(BinaryCounts *c, int pred, int gold, int positive);
double metric_mcc(const BinaryCounts *c);
/* confusion[g * n_classes + p] += 1 for each labelled example (gold g, prediction p); the
   array is zeroed first. Predictions outside 0..n_classes-1 are not counted. */
void class_counts(const int *pred, const int *gold, int n, int n_classes, long *confusion);

int score_argmax(const double *scores, int n);
int score_argmax_norm(const double *scores, const char *const *choices, int n);
long utf8_count_chars(const char *s);

#endif
