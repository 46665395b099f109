/* data/metrics.c — accuracy, MCC, confusion counts and per-choice score argmax (metrics.h). */
#include "data/metrics.h"
#include <math.h>
#include <string.h>

double metric_accuracy(const int *pred, const int *gold, int n) {
    long ok = 0, total = 0;
    for (int i = 0; i < n; i++) {
        if (gold[i] < 0) continue;
        total++;
        ok += pred[i] == gold[i];
    }
    return total ? (double)ok / (double)total : 0.0;
}

void binary_counts_add(BinaryCounts *c, int pred, int gold, int positive) {
    if (gold < 0) return;
    int g = gold == positive, p = pred == positive;
    if (g && p) c->tp++;
    else if (!g && !p) c->tn++;
    else if (p) c->fp++;
    else c->fn++;
}

BinaryCounts binary_counts(const int *pred, const int *gold, int n, int positive) {
    BinaryCounts c = { 0, 0, 0, 0 };
    for (int i = 0; i < n; i++) binary_counts_add(&c, pred[i], gold[i], positive);
    return c;
}

double metric_mcc(const BinaryCounts *c) {
    double tp = (double)c->tp, tn = (double)c->tn, fp = (double)c->fp, fn = (double)c->fn;
    double den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
    if (den == 0.0) return 0.0;
    return (tp * tn - fp * fn) / sqrt(den);
}

void class_counts(const int *pred, const int *gold, int n, int n_classes, long *confusion) {
    memset(confusion, 0, (size_t)n_classes * (size_t)n_classes * sizeof *confusion);
    for (int i = 0; i < n; i++)
        if (gold[i] >= 0 && gold[i] < n_classes && pred[i] >= 0 && pred[i] < n_classes)
            confusion[(size_t)gold[i] * (size_t)n_classes + (size_t)pred[i]]++;
}

int score_argmax(const double *scores, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}

long utf8_count_chars(const char *s) {
    long n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += (*p & 0xC0) != 0x80;
    return n;
}

int score_argmax_norm(const double *scores, const char *const *choices, int n) {
    int best = 0;
    double best_v = 0;
    for (int i = 0; i < n; i++) {
        long l = utf8_count_chars(choices[i]);
        double v = scores[i] / (double)(l > 0 ? l : 1);
        if (i == 0 || v > best_v) {
            best = i;
            best_v = v;
        }
    }
    return best;
}
