/* nn/generate_routed.c — Mo-LoRA / AdaMoE linears and MoE FFN blocks on the decode step's one
   row, with plain row kernels instead of a tape (generate_rows.h).
   A routed linear (moe.c's linear_forward, one row x [in], y = W x (+ b) on entry):
     z = W_r x_r  [E]          decode_matvec; x_r = x, or the same module's input in the
                               previous layer under pre-gating (moe.c router_input)
     p = softmax(z)            softmax_row: op_softmax's own row kernel
     S = the rule's selection  route_select_rule with moe_route_spec's rule (k_now, top-p,
                               stochastic's evaluation rule): the training code itself, on a
                               [1, E] record
     w = route weights         route_weights_rows: op_route_weights's forward
     y += Σ_{e ∈ S, e < n} (s·w_e) · B_e (A_e x)   in ascending e, as op_routed_lora's fwd_rows:
                               h = rowvec_dots(A_e, x), c = (s·w_e)·h, rowvec_axpy_rows(y, B_eᵀ, c)
                               over a transposed copy of B_e made once per DecodeState
     then identity nulls (y += (Σ_null w)·x), shared experts (y + s·B_j(A_j x)) and constant nulls
     (y + V w_null), in the forward's order and with its roundings (sums of weights in double).
   A MoE FFN block (moe_ffn.c): z = [gate h + s·B(A h) | gate2 h], the same softmax, top-k
   (route_select), weights, then each selected true expert's SwiGLU through decode_swiglu,
   out += w_e · d_e in ascending e, and the identity nulls.
   Routing is per token (expert choice is refused before this runs), so given the same logits a
   row makes the very decision the full forward makes for it. The records live in an arena that
   is reset every step (its blocks are kept: nothing is allocated per token after the first).
   Statistics: counted into m->moe->stats only when s->count_routes is set; the observe hook of
   a routed linear (calibration) is called as in the forward. The rows are short (E <= 64
   logits, rank-R experts), so everything here runs on the calling thread; the GEMVs of W x stay
   parallel (generate_matvec.c). */
#include "nn/generate_rows.h"
#include "autograd/ops/activation.h"
#include "autograd/ops/route.h"
#include "tensor/check.h"
#include "tensor/rowvec_rank.h"
#include <stdlib.h>
#include <string.h>

#define PG_NONE (-2)   /* pre-gating: no input kept for the module in this step */

struct DecodeRouted {
    Arena arena;                      /* the routing records of one step */
    real **bt;                        /* [n_slots = n_layers * MOE_MODULES]: B_eᵀ [n_true, R, out] per
                                         routed linear (by its layer and module), else NULL */
    int n_slots;
    real *pg[MOE_MODULES];            /* pre-gating: each module's input in the last layer that ran */
    int pg_layer[MOE_MODULES];        /* ... and that layer (PG_NONE: none yet) */
    real z[MOE_ROUTE_MAX_E], p[MOE_ROUTE_MAX_E], w[MOE_ROUTE_MAX_E];
    real *h, *coef;                   /* [max rank] */
    real *d;                          /* [widest]: a shared expert's, constant nulls' or FFN expert's output */
};

static int imax(int a, int b) { return a > b ? a : b; }

/* B_eᵀ of every true expert, [n_true, R, out] (op_routed_lora's transpose_b) */
static real *transpose_experts(const MoeLinear *ml) {
    int R = ml->rank, out = ml->out;
    real *bt = xmalloc(((size_t)ml->n_true * R * out + 1) * sizeof(real));
    for (int e = 0; e < ml->n_true; e++) {
        const real *B = ml->lora_b[e]->data;
        real *t = bt + (size_t)e * R * out;
        for (int o = 0; o < out; o++)
            for (int k = 0; k < R; k++) t[(size_t)k * out + o] = B[(size_t)o * R + k];
    }
    return bt;
}

DecodeRouted *decode_routed_new(const LlamaModel *m) {
    const ModelConfig *c = &m->cfg;
    DecodeRouted *rt = xcalloc(1, sizeof *rt);
    int widest = imax(imax(c->n_heads * c->head_dim, c->n_kv_heads * c->head_dim), imax(c->dim, c->hidden_dim));
    widest = imax(widest, MOE_ROUTE_MAX_E);   /* d also holds a MoE FFN router's LoRA term [n] */
    int rank = 1;
    rt->n_slots = c->n_layers * MOE_MODULES;
    rt->bt = xcalloc((size_t)rt->n_slots, sizeof *rt->bt);
    for (int i = 0; i < c->n_layers; i++) {
        const LlamaLayer *l = &m->layers[i];
        const LoraLinear *lin[7] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
        for (int j = 0; j < 7; j++) {
            const MoeLinear *ml = lin[j]->moe;
            if (!ml) continue;
            CHECK(ml->layer == i && ml->module >= 0 && ml->module < MOE_MODULES && !rt->bt[i * MOE_MODULES + ml->module],
                  "decode: routed linear slot %d/%d", ml->layer, ml->module);
            rt->bt[i * MOE_MODULES + ml->module] = transpose_experts(ml);
            rank = imax(rank, ml->rank);
            widest = imax(widest, imax(ml->in, ml->out));
        }
        if (l->ffn) rank = imax(rank, l->ffn->router.rank);
    }
    rt->h = xmalloc((size_t)rank * sizeof(real));
    rt->coef = xmalloc((size_t)rank * sizeof(real));
    rt->d = xmalloc((size_t)widest * sizeof(real));
    for (int j = 0; j < MOE_MODULES; j++) rt->pg[j] = xmalloc((size_t)widest * sizeof(real));
    arena_init(&rt->arena, 1 << 14);
    return rt;
}

void decode_routed_free(DecodeRouted *rt) {
    for (int i = 0; i < rt->n_slots; i++) free(rt->bt[i]);
    free(rt->bt);
    arena_free(&rt->arena);
    free(rt->h);
    free(rt->coef);
    free(rt->d);
    for (int j = 0; j < MOE_MODULES; j++) free(rt->pg[j]);
    free(rt);
}

void decode_routed_begin(DecodeState *s) {
    DecodeRouted *rt = s->rt;
    moe_forward_begin(s->m->moe, NULL, 0);
    arena_reset(&rt->arena);
    for (int j = 0; j < MOE_MODULES; j++) rt->pg_layer[j] = PG_NONE;
}

/* a [1, n] tensor header over a row (for the selection code and the statistics) */
static Tensor row_tensor(real *data, int n) {
    Tensor t = { .ndim = 2, .shape = { 1, n }, .numel = (size_t)n, .data = data };
    return t;
}

/* (Σ_{j = n..E-1} w_j) in double, rounded once: op_row_sum_cols on one row */
static real null_weight(const real *w, int n, int E) {
    double s = 0.0;
    for (int j = n; j < E; j++) s += (double)w[j];
    return (real)s;
}

/* z = W_r x_r (moe.c router_input): under pre-gating the router reads the same module's input
   in the previous layer when that layer kept one, and x is kept for the next layer (after z,
   which may read the buffer it replaces) */
static void router_logits(DecodeRouted *rt, const MoeLinear *ml, const real *x) {
    int j = ml->module, prev = ml->pregate && rt->pg_layer[j] == ml->layer - 1;
    decode_matvec(ml->router, prev ? rt->pg[j] : x, rt->z);
    if (!ml->pregate) return;
    memcpy(rt->pg[j], x, (size_t)ml->in * sizeof(real));
    rt->pg_layer[j] = ml->layer;
}

/* after a router selected: the statistics, when s->count_routes asks for them */
static void record(const DecodeState *s, MoeState *st, int layer, int module, const Routing *r) {
    if (!st || !s->count_routes) return;
    Tensor p = row_tensor(s->rt->p, r->E);
    moe_stats_accumulate(&st->stats, layer, module, &p, r);
}

/* y += Σ_{selected true e, ascending} (s·w_e) · B_e (A_e x): op_routed_lora's fwd_rows on one row */
static void add_lora_experts(DecodeRouted *rt, const MoeLinear *ml, const Routing *r, const real *x, real *y) {
    const real *bt = rt->bt[ml->layer * MOE_MODULES + ml->module];
    int R = ml->rank;
    for (int e = 0; e < ml->n_true; e++) {
        if (r->offset[e + 1] == r->offset[e]) continue;
        real w = ml->scaling * rt->w[e];
        rowvec_dots(ml->lora_a[e]->data, R, ml->in, x, rt->h);
        for (int k = 0; k < R; k++) rt->coef[k] = w * rt->h[k];
        rowvec_axpy_rows(y, bt + (size_t)e * R * ml->out, R, ml->out, rt->coef);
    }
}

/* identity nulls, shared experts and constant nulls (moe.c add_identity_nulls,
   add_shared_and_const), in that order */
static void add_nulls_and_shared(DecodeRouted *rt, const MoeLinear *ml, const real *x, real *y) {
    int n = ml->n_true, E = n + ml->n_null;
    if (ml->identity_nulls) {
        real wn = null_weight(rt->w, n, E);
        for (int o = 0; o < ml->out; o++) y[o] += wn * x[o];
    }
    for (int j = 0; j < ml->n_shared; j++) {
        decode_matvec(ml->shared_a[j], x, rt->h);
        decode_matvec(ml->shared_b[j], rt->h, rt->d);
        for (int o = 0; o < ml->out; o++) y[o] = y[o] + ml->scaling * rt->d[o];
    }
    if (ml->null_const) {   /* y + V w[n..E), V [out, m] */
        decode_matvec(ml->null_const, rt->w + n, rt->d);
        for (int o = 0; o < ml->out; o++) y[o] = y[o] + rt->d[o];
    }
}

void decode_moe_linear(DecodeState *s, const MoeLinear *ml, const real *x, real *y) {
    DecodeRouted *rt = s->rt;
    MoeState *st = ml->state;
    int E = ml->n_true + ml->n_null;
    CHECK(E <= MOE_ROUTE_MAX_E, "decode: %d experts > %d", E, MOE_ROUTE_MAX_E);
    router_logits(rt, ml, x);
    softmax_row(rt->p, rt->z, E);
    Rng fixed = moe_route_rng(ml);
    RouteSpec spec;
    int mode = moe_route_spec(ml, st && st->stochastic_rule == 1, &spec, &fixed);   /* no-grad: eval rule */
    Tensor p = row_tensor(rt->p, E);
    Routing r;
    route_select_rule(&rt->arena, &p, &spec, NULL, &r);
    if (st && st->observe) {
        Tensor z = row_tensor(rt->z, E);
        st->observe(st->observe_ctx, ml->layer, ml->module, &z, &r);
    }
    record(s, st, ml->layer, ml->module, &r);
    route_weights_rows(rt->w, rt->z, &r, mode);
    if (!(st && st->experts_off)) add_lora_experts(rt, ml, &r, x, y);
    add_nulls_and_shared(rt, ml, x, y);
}

/* z = [gate h + s·B(A h) | gate2 h] (moe_ffn_router_logits; y = a + s·b as op_add_scaled) */
static void ffn_router_logits(DecodeRouted *rt, const MoeFfn *f, const real *h) {
    const LoraLinear *lr = &f->router;
    decode_matvec(f->gate, h, rt->z);
    if (lr->lora_a) {
        decode_matvec(lr->lora_a, h, rt->h);
        decode_matvec(lr->lora_b, rt->h, rt->d);
        for (int e = 0; e < f->n_true; e++) rt->z[e] = rt->z[e] + lr->scaling * rt->d[e];
    }
    if (f->gate2) decode_matvec(f->gate2, h, rt->z + f->n_true);
}

void decode_moe_ffn(DecodeState *s, const MoeFfn *f, const real *h, real *out) {
    DecodeRouted *rt = s->rt;
    MoeState *st = f->state;
    int E = f->n_true + f->n_null;
    CHECK(E <= MOE_ROUTE_MAX_E, "decode: %d experts > %d", E, MOE_ROUTE_MAX_E);
    ffn_router_logits(rt, f, h);
    softmax_row(rt->p, rt->z, E);
    Tensor p = row_tensor(rt->p, E);
    Routing r;
    route_select(&rt->arena, &p, f->n_true, f->top_k, NULL, &r);
    record(s, st, f->layer, MOE_FFN_SLOT, &r);
    route_weights_rows(rt->w, rt->z, &r, f->all_selected);
    memset(out, 0, (size_t)f->dim * sizeof(real));
    for (int e = 0; e < f->n_true && !(st && st->experts_off); e++) {
        if (r.offset[e + 1] == r.offset[e]) continue;
        decode_swiglu(s, &f->w1[e], &f->w3[e], &f->w2[e], h, rt->d);
        for (int c = 0; c < f->dim; c++) out[c] += rt->w[e] * rt->d[c];
    }
    if (f->identity_nulls) {
        real wn = null_weight(rt->w, f->n_true, E);
        for (int c = 0; c < f->dim; c++) out[c] += wn * h[c];
    }
}
