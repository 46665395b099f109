/* nn/memory_acts.c — the step arena, op by op (see memory_acts.h). Every helper mirrors one op's
   allocations (autograd/ops/ files) and returns bytes; `g` flags say whether a gradient flows (the op
   then records an entry, makes a gradient buffer (zero-filled or unset, autograd/tape.h: the same
   bytes) and keeps its saved data). */
#include "nn/memory_acts.h"
#include "nn/model_memory.h"
#include "autograd/ops/attention.h"
#include "autograd/ops/linear_ce.h"
#include "autograd/ops/matmul.h"
#include "tensor/gemm.h"
#include <math.h>

#define RS ((double)sizeof(real))

static double al(double bytes) { return ceil((bytes > 0 ? bytes : 1) / 64.0) * 64.0; }
static double hdr(void) { return al((double)sizeof(Tensor)); }
static double ten(double n, int grad) { return hdr() + al(n * RS) * (grad ? 2 : 1); }
static double ints(double n) { return al(n * (double)sizeof(int)); }
static int narrow(double M, double N) { return matmul_is_narrow((int)fmin(M, 2e9), (int)fmin(N, 2e9)); }

/* op_linear x [R, I] · wᵀ [O, I]: y (+ grad) and, recorded, the narrow products' saved copy */
static double op_linear_b(double R, double I, double O, int g) {
    double b = ten(R * O, g);
    if (g && (narrow(R, I) || narrow(O, I))) b += al(fmax(R, O) * I * RS);
    return b;
}

/* op_lora_linear(_residual): y (grad shared with the stream when shared), h, dh [R, r], scratch */
static double op_lora_b(double R, double O, double r, int shared) {
    return ten(R * O, !shared) + al(32) + 2 * al(R * r * RS) + al(fmax(R, O) * r * RS);
}

/* route_select / routing_alloc: sel [R·k], n_true_sel [R], count [E], offset, rows and flat [P] */
static double routing_b(double R, double E, double n, double k, double P) {
    return al(sizeof(Routing)) + ints(R * k) + ints(R) + ints(E) + ints(2 * n + 2) + 2 * ints(P + 1);
}

/* op_route_weights, recorded: each row's double p [R, E], kept for its backward */
static double route_p_b(double R, double E, int g) { return g ? al((R * E + 1) * sizeof(double)) : 0; }

/* routed (row, true expert) assignments of R rows: the balanced top-k (the aux loss's aim) */
static double assignments(const MoeLinear *m, double R) {
    double n = m->n_true, E = m->n_true + m->n_null;
    if (m->routing == MOE_ROUTING_DENSE) return R * n;
    if (m->routing == MOE_ROUTING_STOCHASTIC) return R;
    return R * m->top_k * n / E;
}

/* moe_linear_forward_into (nn/moe.c) after the base product: router, softmax, selection, weights,
   dropout, the routed LoRA rows, identity / shared / constant nulls */
static double routed_b(const MoeLinear *m, double R, int gx, int drop) {
    double I = m->in, O = m->out, E = m->n_true + m->n_null, n = m->n_true, r = m->rank, P = assignments(m, R);
    int gz = gx || !m->router_frozen;
    double b = op_linear_b(R, I, E, gz) + ten(R * E, gz) + routing_b(R, E, n, m->top_k, P) + ten(R * E, gz) + al(64) +
               route_p_b(R, E, gz);
    if (drop) b += ten(R * I, 1) + al(R * I * RS) + al(64);
    if (P > 0)
        b += al(256) + 2 * al(n * 8) + 2 * ints(P) + 2 * ints(R + 1) + 3 * al(P * r * RS) + 2 * al(n * r * O * RS) +
             (gx ? 0 : ten(R * O, 1));   /* a fresh gradient comes with a data block (tensor_new) */
    if (m->identity_nulls) b += ints(R) + ten(R, 1) + al(64) + ten(R * O, 1);
    for (int j = 0; j < m->n_shared; j++) b += op_linear_b(R, I, r, 1) + op_linear_b(R, r, O, 1) + ten(R * O, 1);
    if (m->null_const) b += ten(R * m->n_null, 1) + al(64) + op_linear_b(R, m->n_null, O, 1) + ten(R * O, 1);
    return b;
}

/* lora_linear_forward(_residual) (nn/lora.c) on x [R, in]: gx = x has a gradient, res = the
   output adds into a stream whose gradient it shares (sg) or not; *gy = the output's gradient */
static double linear_b(const LoraLinear *l, double R, int gx, int res, int sg, int full, int *gy) {
    double I = l->in, O = l->out, r = l->rank, b = l->bias ? hdr() : 0;
    int drop = l->lora_a && l->dropout > 0;
    if (l->lora_a && !drop && !l->moe) {
        *gy = 1;
        return b + op_lora_b(R, O, r, res && sg);
    }
    *gy = gx || full;
    b += op_linear_b(R, I, O, *gy);
    if (l->moe) {
        b += routed_b(l->moe, R, gx, l->moe->dropout > 0);
        *gy = 1;
    } else if (l->lora_a) {
        b += ten(R * I, 1) + al(R * I * RS) + al(64) + op_linear_b(R, I, r, 1) + op_linear_b(R, r, O, 1) + ten(R * O, 1);
        *gy = 1;
    }
    return b + (res ? hdr() : 0);
}

static double rmsnorm_b(double N, double C, int g) { return ten(N * C, g) + (g ? al(N * RS) + al(64) : 0); }

/* moe_ffn_forward (nn/moe_ffn.c) on h [N, C]: router logits (+ router LoRA, + gate2), p, the
   selection, W, the accumulator, then per assignment the expert's SwiGLU on the gathered row */
static double moe_ffn_b(const MoeFfn *f, double N, int gx, int full) {
    double C = f->dim, F = f->hidden, n = f->n_true, m = f->n_null, E = n + m;
    double P = N * f->top_k * n / E;
    const LoraLinear *rl = &f->router;
    int gz = gx || full || f->gate_trainable || rl->lora_a;
    double b = op_linear_b(N, C, n, gx || full || f->gate_trainable);
    if (rl->lora_a)
        b += (rl->dropout > 0 ? ten(N * C, 1) + al(N * C * RS) : 0) + op_linear_b(N, C, rl->rank, 1) +
             op_linear_b(N, rl->rank, n, 1) + ten(N * n, 1);
    if (f->gate2) b += op_linear_b(N, C, m, 1) + ten(N * E, 1);
    b += ten(N * E, gz) + routing_b(N, E, n, f->top_k, P) + ten(N * E, gz) + al(64) + route_p_b(N, E, gz) + ten(N * C, 0);
    if (P > 0) {
        int g1 = 0, g3 = 0, g2 = 0;
        b += ten(P * C, gx) + al(64) + ints(P);                               /* gathered rows */
        b += linear_b(&f->w1[0], P, gx, 0, 0, full, &g1) + linear_b(&f->w3[0], P, gx, 0, 0, full, &g3);
        b += ten(P * F, !g3);                                                   /* SwiGLU */
        b += linear_b(&f->w2[0], P, g1 || g3, 0, 0, full, &g2);
        b += ten(P, 1) + 2 * (al(64) + ints(P)) + ten(N * C, 1);               /* W rows, scatter */
        b += n * 12 * hdr();                                                    /* per-expert views */
    }
    if (f->identity_nulls) b += ints(N) + ten(N, 1) + al(64) + hdr();
    return b + hdr();   /* + the residual add in place */
}

/* llama_layer_forward (nn/llama.c); gx = the stream entering the layer has a gradient; *gout:
   the stream leaving it */
static double layer_b(const LlamaModel *m, int i, double B, double T, int gx, int threads, int *gout) {
    const ModelConfig *c = &m->cfg;
    const LlamaLayer *l = &m->layers[i];
    int full = m->acfg.kind == ADAPTER_FULL, gq, gk, gv, go, gg, gu, gd;
    double N = B * T, C = c->dim, Q = (double)c->n_heads * c->head_dim;
    int gh = gx || full;
    double b = rmsnorm_b(N, C, gh);
    b += linear_b(&l->q, N, gh, 0, 0, full, &gq) + linear_b(&l->k, N, gh, 0, 0, full, &gk) +
         linear_b(&l->v, N, gh, 0, 0, full, &gv);
    b += 5 * hdr() + 2 * al(64);                                  /* q/k/v views, RoPE in place */
    int ga = gq || gk || gv;
    b += ten(N * Q, ga) + 2 * hdr() + al(64);
    if (ga) b += al((double)op_causal_attention_saved((int)B, (int)T, c->n_heads, c->n_kv_heads, threads) * RS);
    b += linear_b(&l->o, N, ga, 1, gx, full, &go);
    int gs = gx || go;
    b += rmsnorm_b(N, C, gs || full);
    if (l->ffn) {
        b += moe_ffn_b(l->ffn, N, gs || full, full);
        *gout = 1;
        return b;
    }
    b += linear_b(&l->gate, N, gs || full, 0, 0, full, &gg) + linear_b(&l->up, N, gs || full, 0, 0, full, &gu);
    b += ten(N * c->hidden_dim, !gu && gg);
    b += linear_b(&l->down, N, gg || gu, 1, gs, full, &gd);
    *gout = gs || gd;
    return b;
}

/* what recompute keeps of layer i: the hook, the output copy, per router p (+ grad) and counts */
static double kept_b(const LlamaModel *m, int i, double N) {
    const LlamaLayer *l = &m->layers[i];
    double b = al(1024) + ten(N * m->cfg.dim, 0);
    const LoraLinear *lin[7] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
    for (int j = 0; j < 7; j++) {
        double E = l->ffn && j == 4 ? l->ffn->n_true + l->ffn->n_null
                   : lin[j]->moe     ? lin[j]->moe->n_true + lin[j]->moe->n_null
                                     : 0;
        if (E > 0) b += ten(N * E, 1) + al(sizeof(Routing)) + ints(E);
    }
    return b;
}

void memory_activations(const LlamaModel *m, int B, int T, int recompute, int threads, MemActs *a) {
    const ModelConfig *c = &m->cfg;
    int full = m->acfg.kind == ADAPTER_FULL, gx = full;
    double N = (double)B * T, C = c->dim, V = c->vocab_size;
    *a = (MemActs){ 0 };
    a->head = ten(N * C, full) + (full ? al(64) + ints(N) : 0) + al(N);
    for (int i = 0; i < c->n_layers; i++) {
        double lb = layer_b(m, i, B, T, gx, threads, &gx);
        a->layers += lb;
        a->layer_max = fmax(a->layer_max, lb);
        a->kept += kept_b(m, i, N);
    }
    if (!full) a->kept += al(N * C * RS);   /* G, the kept stream's gradient */
    double routers = m->moe ? c->n_layers * MOE_MODULES : 0;
    a->tail = rmsnorm_b(N, C, 1) + 2 * ints(N) + ten(1, 1) + al(64) + al(N * C * RS) + (full ? al(V * C * RS) : 0) +
              routers * 4 * hdr();
    double rows = fmin(N, fmax(1, floor((double)linear_ce_chunk_elems() / V)));
    /* the logits chunk, the row losses, and wᵀ's panels packed once (V rounded up to a panel)
       unless training keeps them (memory_pack_bytes, counted with the runtime) */
    int kept;
    memory_pack_bytes(m, &kept);
    a->transient = al(rows * V * RS) + al(N * 8) +
                   (!kept && linear_ce_packs_once((int)N, (int)rows, (int)V, (int)C) ? al((double)gemm_packed_b_reals((int)V, (int)C) * RS) : 0);
    a->peak = recompute ? a->head + a->kept + a->tail + fmax(a->layer_max, a->transient)
                        : a->head + a->layers + a->tail + a->transient;
}
