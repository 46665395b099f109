/* nn/generate_sample.c — choosing the next token from logits (see generate.h).
   greedy (temperature 0): the first index of the maximum logit.
   sampling: p_i = exp((l_i - max l) / T) / Σ_j exp((l_j - max l) / T) in double; with
   top_p < 1 only the nucleus is kept: candidates sorted by p descending (ties: lower id first),
   the shortest prefix whose mass reaches top_p. Candidates below (1 - top_p) / (V - 1) are
   dropped before sorting: they can never be in the nucleus, because all of them together weigh
   less than 1 - top_p (the trick of llama2.c's sample_topp). The draw is u · mass with one
   uniform u in [0, 1) from the caller's Rng, walked over the candidates in order, so a seed
   fixes the whole sequence. */
#include "nn/generate.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>

/* two [V] scratch arrays, allocated once and reused for every token */
void sampler_init(Sampler *s, int V) {
    CHECK(V >= 1, "sampler_init: vocabulary size %d", V);
    s->V = V;
    s->prob = xmalloc((size_t)V * sizeof *s->prob);
    s->cand = xmalloc((size_t)V * sizeof *s->cand);
}

void sampler_free(Sampler *s) {
    free(s->prob);
    free(s->cand);
    s->prob = NULL;
    s->cand = NULL;
}

int argmax_first(const real *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* descending p, then ascending id: a total order, so qsort's result is unique */
static int cmp_prob_desc(const void *a, const void *b) {
    const ProbIndex *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* s->prob = softmax(logits / temperature), in double. Subtracting the max first keeps every
   exponent <= 0, so nothing overflows whatever the logits; the max itself gets exp(0) = 1, so
   the sum is >= 1 and the division is safe. Temperature < 1 sharpens, > 1 flattens. */
static void softmax_temperature(Sampler *s, const real *logits, double temperature) {
    int V = s->V;
    double mx = (double)logits[argmax_first(logits, V)], sum = 0.0;
    for (int i = 0; i < V; i++) {
        s->prob[i] = exp(((double)logits[i] - mx) / temperature);
        sum += s->prob[i];
    }
    for (int i = 0; i < V; i++) s->prob[i] /= sum;
}

/* inverse-CDF draw over the whole vocabulary: the first id whose cumulative p exceeds u */
static int sample_all(const Sampler *s, Rng *rng) {
    double u = rng_uniform(rng), acc = 0.0;
    for (int i = 0; i < s->V; i++) {
        acc += s->prob[i];
        if (u < acc) return i;
    }
    for (int i = s->V - 1; i > 0; i--)   /* rounding left u >= the total: the last possible id */
        if (s->prob[i] > 0) return i;
    return 0;
}

/* Nucleus sampling (see the file header): filter, sort, cut at top_p, draw within the nucleus
   renormalised to its own mass. If no token passes the filter (only when top_p is so small
   that the cutoff exceeds even the largest p), every token is a candidate. */
static int sample_nucleus(Sampler *s, double top_p, Rng *rng) {
    int V = s->V, n = 0;
    double cutoff = V > 1 ? (1.0 - top_p) / (V - 1) : 0.0;
    for (int i = 0; i < V; i++)
        if (s->prob[i] >= cutoff) s->cand[n++] = (ProbIndex){ s->prob[i], i };
    if (n == 0)
        for (int i = 0; i < V; i++) s->cand[n++] = (ProbIndex){ s->prob[i], i };
    qsort(s->cand, (size_t)n, sizeof *s->cand, cmp_prob_desc);
    int last = n - 1;
    double mass = 0.0;
    for (int i = 0; i < n; i++) {
        mass += s->cand[i].p;
        if (mass >= top_p) {
            last = i;
            break;
        }
    }
    double u = rng_uniform(rng) * mass, acc = 0.0;   /* u in [0, nucleus mass) */
    for (int i = 0; i <= last; i++) {
        acc += s->cand[i].p;
        if (u < acc) return s->cand[i].id;
    }
    return s->cand[last].id;   /* rounding left u >= acc: the last nucleus token */
}

/* greedy needs no probabilities and no rng; top_p >= 1 skips the sort */
int sampler_next(Sampler *s, const real *logits, double temperature, double top_p, Rng *rng) {
    if (temperature <= 0) return argmax_first(logits, s->V);
    softmax_temperature(s, logits, temperature);
    return top_p < 1 ? sample_nucleus(s, top_p, rng) : sample_all(s, rng);
}
