/* autograd/routing.c — the Routing record and top-k selection (see routing.h). */
#include "autograd/routing.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <string.h>

/* Inserts (e, v) into the descending list top[0..*n) of capacity k; an equal value stays
   behind the earlier (lower-index) entries, so ties go to the lower index. */
static void topk_insert(int *top, const real *p, int *n, int k, int e) {
    int pos = 0;
    while (pos < *n && p[top[pos]] >= p[e]) pos++;
    if (pos >= k) return;
    int last = *n < k ? *n : k - 1;
    for (int i = last; i > pos; i--) top[i] = top[i - 1];
    top[pos] = e;
    if (*n < k) (*n)++;
}

/* The same selection without branches on the values (the insertion's compares mispredict on
   random p): expert e's place in the order "larger p first, ties to the lower index" is
   rank_e = #{j : p_j > p_e} + #{j < e : p_j = p_e}; that order is total when no p is NaN, so
   the ranks are 0 .. E-1 once each and top[rank_e] = e for rank_e < k is exactly the list
   topk_insert builds. Returns 0 (nothing written) for a row with a NaN or more than 64 experts:
   the insertion handles those. */
static inline __attribute__((always_inline)) void rank_place(int *top, const real *p, int E, int k) {
    int rank[64];
    for (int e = 0; e < E; e++) rank[e] = 0;
    for (int q = 0; q < E; q++) {   /* every rank at once: the inner loop runs across e */
        real v = p[q];
        for (int e = 0; e < E; e++) rank[e] += (v > p[e]) | ((v == p[e]) & (q < e));
    }
    int order[64];   /* the ranks are 0 .. E-1 once each: place every expert, keep the first k */
    for (int e = 0; e < E; e++) order[rank[e]] = e;
    for (int s = 0; s < k; s++) top[s] = order[s];
}
static int select_by_rank(int *top, const real *p, int E, int k) {
    if (E > 64) return 0;
    int nan = 0;
    for (int e = 0; e < E; e++) nan |= p[e] != p[e];
    if (nan) return 0;
    switch (E) {   /* the usual sizes with E a constant: the compares unroll and vectorise */
    case 4: rank_place(top, p, 4, k); break;
    case 8: rank_place(top, p, 8, k); break;
    case 16: rank_place(top, p, 16, k); break;
    default: rank_place(top, p, E, k);
    }
    return 1;
}

/* rows [b, e) of the top-k: every row writes its own sel / n_true_sel entries only */
typedef struct { const Tensor *p; const unsigned char *mask; Routing *r; } SelectJob;

static void select_task(void *vj, long b, long e) {
    const SelectJob *j = vj;
    Routing *r = j->r;
    int E = r->E, k = r->k;
    for (long row = b; row < e; row++) {
        int *top = r->sel + (size_t)row * k;
        r->n_true_sel[row] = 0;
        if (j->mask && !j->mask[row]) {
            for (int s = 0; s < k; s++) top[s] = -1;
            continue;
        }
        const real *pr = j->p->data + (size_t)row * E;
        if (!select_by_rank(top, pr, E, k)) {
            int n = 0;
            for (int q = 0; q < E; q++) topk_insert(top, pr, &n, k, q);
        }
        for (int s = 0; s < k; s++) r->n_true_sel[row] += top[s] < r->n_true;
    }
}

/* The per-row top-k runs on the pool over fixed row ranges (rows are independent); the integer
   counts are then summed in one serial pass, so nothing depends on the thread count. */
static void select_rows(const Tensor *p, const unsigned char *mask, Routing *r) {
    SelectJob j = { p, mask, r };
    parallel_for_chunks(r->N, 64, select_task, &j);
    for (int row = 0; row < r->N; row++) {
        if (mask && !mask[row]) continue;
        const int *top = r->sel + (size_t)row * r->k;
        for (int s = 0; s < r->k; s++) r->count[top[s]]++;
        r->n_rows++;
    }
}

/* Counting sort of the (row, true expert) pairs by expert, rows ascending within an expert.
   Without a branch on the slot's expert (null or empty slots are about half of AdaMoE's and
   come in no pattern the predictor learns): such a slot is written to one spare entry past the
   end (fill[nt], never advanced) and the others advance their expert's fill by one. */
static void group_by_expert(Routing *r) {
    int nt = r->n_true;
    r->offset[0] = 0;
    for (int e = 0; e < nt; e++) r->offset[e + 1] = r->offset[e] + r->count[e];
    int *fill = r->offset + nt + 1;   /* scratch [nt + 1] placed after offset (allocated together) */
    memcpy(fill, r->offset, (size_t)(nt + 1) * sizeof(int));   /* fill[nt] = the spare entry */
    for (int row = 0; row < r->N; row++)
        for (int s = 0; s < r->k; s++) {
            int e = r->sel[(size_t)row * r->k + s];
            int ok = (unsigned)e < (unsigned)nt, x = ok ? e : nt, pos = fill[x];
            r->rows[pos] = row;
            r->flat[pos] = row * r->E + x;
            fill[x] = pos + ok;
        }
}

void routing_alloc(Arena *a, int N, int E, int n_true, int slots, const unsigned char *mask, Routing *r) {
    CHECK(n_true >= 0 && n_true <= E && slots >= 1 && slots <= E, "routing: n_true %d, %d slots for E %d",
          n_true, slots, E);
    memset(r, 0, sizeof *r);
    r->N = N; r->E = E; r->n_true = n_true; r->k = slots;
    r->mask = mask;
    size_t nk = (size_t)N * slots;
    r->sel = arena_alloc(a, (nk ? nk : 1) * sizeof(int));
    for (size_t i = 0; i < nk; i++) r->sel[i] = -1;
    r->n_true_sel = arena_alloc_zero(a, (size_t)(N ? N : 1) * sizeof(int));
    r->count = arena_alloc_zero(a, (size_t)E * sizeof(int));
    r->offset = arena_alloc(a, (size_t)(2 * n_true + 2) * sizeof(int));   /* + the fill scratch */
}

void routing_group(Arena *a, Routing *r) {
    size_t n_assign = 0;
    for (int e = 0; e < r->n_true; e++) n_assign += (size_t)r->count[e];
    r->rows = arena_alloc(a, (n_assign + 1) * sizeof(int));   /* + the spare entry of group_by_expert */
    r->flat = arena_alloc(a, (n_assign + 1) * sizeof(int));
    group_by_expert(r);
}

void route_select(Arena *a, const Tensor *p, int n_true, int k, const unsigned char *mask, Routing *r) {
    char sp[64];
    CHECK(p->ndim == 2 && p->data, "route_select: p %s must be 2-D [N, E] with real data",
          tensor_shape_str(p, sp, sizeof sp));
    routing_alloc(a, p->shape[0], p->shape[1], n_true, k, mask, r);
    select_rows(p, mask, r);
    routing_group(a, r);
}
