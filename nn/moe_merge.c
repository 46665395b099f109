/* nn/moe_merge.c — MC-SMoE-style expert merging (see moe_merge.h). */
#include "nn/moe_merge.h"
#include "nn/adapter_moe.h"
#include "nn/lowrank.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* MoeState.observe: usage and the logits' Gram matrix over the unmasked rows of one router */
static void observe(void *ctx, int layer, int module, const Tensor *z, const Routing *r) {
    MergeCalib *c = ctx;
    int n = c->n_true, E = r->E, slot = layer * MOE_MODULES + module;
    if (r->n_true != n) return;   /* per-layer sizes are refused by moe_merge_config */
    double *count = c->count + (size_t)slot * n, *zz = c->zz + (size_t)slot * n * n;
    for (int i = 0; i < n; i++) count[i] += r->count[i];
    for (int row = 0; row < r->N; row++) {
        if (r->mask && !r->mask[row]) continue;
        const real *zr = z->data + (size_t)row * E;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) zz[i * n + j] += (double)zr[i] * (double)zr[j];
        c->rows[slot] += 1;
    }
}

void merge_calib_init(MergeCalib *c, LlamaModel *m) {
    CHECK(m->moe, "merge_calib_init: the model has no routers");
    int slots = m->cfg.n_layers * MOE_MODULES, n = m->moe->stats.n_true;
    c->n_layers = m->cfg.n_layers;
    c->n_true = n;
    c->count = xcalloc((size_t)slots * n, sizeof *c->count);
    c->zz = xcalloc((size_t)slots * n * n, sizeof *c->zz);
    c->rows = xcalloc((size_t)slots, sizeof *c->rows);
    c->m = m;
    m->moe->observe = observe;
    m->moe->observe_ctx = c;
}

void merge_calib_free(MergeCalib *c) {
    if (c->m && c->m->moe) c->m->moe->observe = NULL, c->m->moe->observe_ctx = NULL;
    free(c->count);
    free(c->zz);
    free(c->rows);
    memset(c, 0, sizeof *c);
}

void merge_group(const double *count, const double *sim, int n, int N, int *group) {
    CHECK(N >= 1 && N <= n && n <= MOE_MAX_EXPERTS, "merge_group: N %d of n %d", N, n);
    int leader[MOE_MAX_EXPERTS] = { 0 }, is_leader[MOE_MAX_EXPERTS] = { 0 };
    for (int g = 0; g < N; g++) {   /* the N most used, ties -> lower index */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!is_leader[i] && (best < 0 || count[i] > count[best])) best = i;
        is_leader[best] = 1;
    }
    for (int i = 0, g = 0; i < n; i++)
        if (is_leader[i]) leader[g++] = i;   /* merged expert g = the g-th leader by index */
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int g = 0; g < N; g++) {
            if (leader[g] == i) { best = g; break; }
            if (sim[i * n + leader[g]] > sim[i * n + leader[best]]) best = g;
        }
        group[i] = best;
    }
}

Status moe_merge_config(const AdapterConfig *a, int N, AdapterConfig *out, Error *err) {
    if (a->kind != ADAPTER_MOLORA && a->kind != ADAPTER_ADAMOE)
        return error_set(err, STATUS_INVALID, "merge a molora or adamoe adapter", "merge-experts: a %s adapter has no LoRA "
                         "expert banks to merge", adapter_kind_name(a->kind));
    if (a->n_layer_values > 0)
        return error_set(err, STATUS_INVALID, NULL, "merge-experts: adapters with per-layer expert lists are not supported");
    if (N < 1 || N >= a->n_true)
        return error_set(err, STATUS_INVALID, NULL, "--to must be in 1..%d (fewer than the adapter's %d experts), got %d",
                         a->n_true - 1, a->n_true, N);
    *out = *a;
    out->n_true = N;
    int E = N + (a->kind == ADAPTER_ADAMOE ? a->n_null : 0);
    if (out->top_k > E) out->top_k = E;
    return STATUS_OK;
}

/* cos(ΔW_i, ΔW_j) with ⟨B_i A_i, B_j A_j⟩_F = Σ_{k,l} (B_iᵀB_j)_{kl} (A_i A_jᵀ)_{kl} */
static double update_dot(const MoeLinear *x, int i, int j) {
    const Tensor *Ai = x->lora_a[i], *Bi = x->lora_b[i], *Aj = x->lora_a[j], *Bj = x->lora_b[j];
    int R = x->rank;
    double dot = 0;
    for (int k = 0; k < R; k++)
        for (int l = 0; l < R; l++) {
            double bb = 0, aa = 0;
            for (int o = 0; o < x->out; o++) bb += (double)Bi->data[o * R + k] * (double)Bj->data[o * R + l];
            for (int t = 0; t < x->in; t++) aa += (double)Ai->data[k * x->in + t] * (double)Aj->data[l * x->in + t];
            dot += bb * aa;
        }
    return dot;
}

static void similarity(const MoeLinear *x, const double *zz, MergeSimilarity how, double *sim) {
    int n = x->n_true;
    double g[MOE_MAX_EXPERTS * MOE_MAX_EXPERTS];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) g[i * n + j] = how == MERGE_SIM_WEIGHTS ? (j < i ? g[j * n + i] : update_dot(x, i, j)) : zz[i * n + j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double d = sqrt(g[i * n + i] * g[j * n + j]);
            sim[i * n + j] = d > 0 ? g[i * n + j] / d : 0;
        }
}

/* merged expert g of dst from src's members (group[i] == g) weighted by usage */
static void merge_expert(const MoeLinear *src, MoeLinear *dst, const double *count, const int *group, int g) {
    int n = src->n_true, R = src->rank, K = 0, in = src->in, out = src->out;
    double f[MOE_MAX_EXPERTS], total = 0;
    int mem[MOE_MAX_EXPERTS];
    for (int i = 0; i < n; i++)
        if (group[i] == g) mem[K++] = i, total += count[i];
    for (int k = 0; k < K; k++) f[k] = total > 0 ? count[mem[k]] / total : 1.0 / K;
    real *rd = dst->router->data + (size_t)g * in;
    for (int t = 0; t < in; t++) {
        double acc = 0;
        for (int k = 0; k < K; k++) acc += f[k] * (double)src->router->data[(size_t)mem[k] * in + t];
        rd[t] = (real)acc;
    }
    Tensor *A = dst->lora_a[g], *B = dst->lora_b[g];
    if (K == 1) {   /* a group of one: the expert itself */
        memcpy(A->data, src->lora_a[mem[0]]->data, A->numel * sizeof(real));
        memcpy(B->data, src->lora_b[mem[0]]->data, B->numel * sizeof(real));
        return;
    }
    double *Bc = xmalloc((size_t)out * K * R * sizeof *Bc), *Ac = xmalloc((size_t)K * R * in * sizeof *Ac);
    double *Bm = xmalloc((size_t)out * R * sizeof *Bm), *Am = xmalloc((size_t)R * in * sizeof *Am);
    for (int k = 0; k < K; k++)
        for (int q = 0; q < R; q++) {
            for (int o = 0; o < out; o++) Bc[(size_t)o * K * R + k * R + q] = f[k] * (double)src->lora_b[mem[k]]->data[o * R + q];
            for (int t = 0; t < in; t++) Ac[(size_t)(k * R + q) * in + t] = (double)src->lora_a[mem[k]]->data[q * in + t];
        }
    lowrank_truncate(out, in, K * R, Bc, Ac, R, Bm, Am, NULL);
    for (size_t i = 0; i < B->numel; i++) B->data[i] = (real)Bm[i];
    for (size_t i = 0; i < A->numel; i++) A->data[i] = (real)Am[i];
    free(Bc); free(Ac); free(Bm); free(Am);
}

/* every adapter tensor of m2 that m has with the same shape: copied (the rest is overwritten) */
static void copy_common(const LlamaModel *m, LlamaModel *m2) {
    for (int i = 0; i < m2->ps.n; i++) {
        Tensor *t = m2->ps.params[i];
        const Tensor *s = adapter_is_param_name(t->name) ? param_find(&m->ps, t->name) : NULL;
        if (s && s->numel == t->numel) memcpy(t->data, s->data, t->numel * sizeof(real));
    }
}

Status moe_merge_into(const LlamaModel *m, const MergeCalib *c, MergeSimilarity how, LlamaModel *m2, int *groups,
                      Error *err) {
    if (m2->cfg.n_layers != m->cfg.n_layers || !m2->moe || !m->moe)
        return error_set(err, STATUS_INVALID, NULL, "moe_merge_into: the two models differ");
    copy_common(m, m2);
    int n = c->n_true;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const LlamaLayer *a = &m->layers[l];
        LlamaLayer *b = &m2->layers[l];
        const LoraLinear *la[7] = { &a->q, &a->k, &a->v, &a->o, &a->gate, &a->up, &a->down };
        LoraLinear *lb[7] = { &b->q, &b->k, &b->v, &b->o, &b->gate, &b->up, &b->down };
        for (int j = 0; j < 7; j++) {
            int slot = l * MOE_MODULES + j, grp[MOE_MAX_EXPERTS];
            if (groups) for (int i = 0; i < n; i++) groups[slot * n + i] = -1;
            const MoeLinear *src = la[j]->moe;
            MoeLinear *dst = lb[j]->moe;
            if (!src || !dst) continue;
            CHECK(src->n_true == n && dst->n_true < n, "moe_merge_into: layer %d module %d sizes", l, j);
            double sim[MOE_MAX_EXPERTS * MOE_MAX_EXPERTS];
            similarity(src, c->zz + (size_t)slot * n * n, how, sim);
            merge_group(c->count + (size_t)slot * n, sim, n, dst->n_true, grp);
            for (int g = 0; g < dst->n_true; g++) merge_expert(src, dst, c->count + (size_t)slot * n, grp, g);
            for (int e = 0; e < src->n_null; e++)   /* null rows: as they were */
                memcpy(dst->router->data + (size_t)(dst->n_true + e) * src->in,
                       src->router->data + (size_t)(n + e) * src->in, (size_t)src->in * sizeof(real));
            if (groups) memcpy(groups + (size_t)slot * n, grp, (size_t)n * sizeof *grp);
        }
    }
    return STATUS_OK;
}
