/* nn/moe_ffn.c — Mixtral / AdaMoE / upcycled MoE FFN block (see moe_ffn.h). Only ops: the
   backward comes from the tape.
   The block replaces a Llama SwiGLU FFN. h [N, C] is the post-attention-norm input, n true
   experts (each a full SwiGLU FFN, F hidden units), m null experts, E = n + m:
     z = [router(h) | h·gate2ᵀ] [N, E],  p = softmax(z),  S_t = top-k(p_t)   (a constant)
     W = route_weights(z, S) [N, E]   (true-only by default: with m = 0 that is exactly
                                       Mixtral's softmax -> top-k -> renormalise)
   then, per true expert e with n_e routed rows (rows_e = r->rows[offset[e] ..]):
     x_e = gather(h, rows_e) [n_e, C],  d_e = w2_e(swiglu(w1_e x_e, w3_e x_e)) [n_e, C],
     w_e = gather(W, row·E + e) [n_e, 1],  y[rows_e] += w_e · d_e.
   This is "route by gathering rows": each expert runs dense GEMMs on its own contiguous rows,
   never a per-token mat-vec. An expert nobody chose, and every null expert, runs nothing: the
   expert FLOPs per token are Load times one expert's. Plain experts (no LoRA, no bias: full
   training, frozen Mixtral experts) run as ONE op, autograd/ops/routed_ffn.h, bitwise the chain
   below but keeping only g, u and d per routed row (the moe / moe_null benchmark modes: peak RSS
   1178 / 1141 -> 996 / 988 MB with the smaller LM-head chunk); experts with LoRA keep the chain
   of per-expert ops on the tape (gather, w1, w3, swiglu, w2, scatter).
   The routing record goes to the model's MoeState like a routed linear's, so the Eq. 6 aux loss
   and the Load statistics of nn/moe.c apply unchanged. */
#include "nn/moe_ffn.h"
#include "nn/checkpoint.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Mixtral model routes even without a moe-ffn adapter (its own router, top experts_per_tok,
   no nulls, no aux loss); the MoeState still records that routing for the statistics. The kind
   is set to adamoe only because moe_state_new reads n_null for that kind. */
/* Full fine-tuning of a MoE model may also set top_k (> 0) with n_null, normalize and aux
   (null experts with a trainable gate2, a load-balancing loss): moe_ffn_full_routed. */
static int full_routed(const AdapterConfig *a) { return a->kind == ADAPTER_FULL && a->top_k > 0; }

AdapterConfig moe_ffn_state_config(const AdapterConfig *acfg, int n_experts, int experts_per_tok) {
    AdapterConfig s = *acfg;
    if (full_routed(acfg)) {
        s.null_kind = MOE_NULL_ZERO;
    } else if (acfg->kind != ADAPTER_MOE_FFN) {
        s.n_null = 0;
        s.top_k = experts_per_tok;
        s.normalize = MOE_NORM_TRUE_ONLY;
        s.null_kind = MOE_NULL_ZERO;
        s.aux = MOE_AUX_NONE;
        s.aux_coef = 0;
    }
    s.n_true = n_experts;
    s.kind = ADAPTER_ADAMOE;   /* the state only needs "true + null experts" */
    if (s.k_baseline <= 0) s.k_baseline = experts_per_tok > 0 ? experts_per_tok : 2;
    return s;
}

/* a LoraLinear on an existing base weight W [out, in] (LoRA when rank > 0): the experts' linears
   and the router (PREFIX.lora_A.weight [rank, in], PREFIX.lora_B.weight [out, rank]).
   w == NULL declares PREFIX.weight (frozen; trainable for full fine-tuning); a given w is shared
   (the upcycled experts all point at the dense FFN's weights and differ only by their LoRA). */
static void expert_linear(LoraLinear *l, ParamStore *ps, const char *prefix, Tensor *w, int in, int out,
                          int rank, const AdapterConfig *a) {
    char name[320];
    memset(l, 0, sizeof *l);
    l->in = in;
    l->out = out;
    l->rank = rank;
    if (w) l->weight = w;
    else {
        snprintf(name, sizeof name, "%s.weight", prefix);
        l->weight = param_declare(ps, name, a->kind == ADAPTER_FULL ? PARAM_TRAINABLE : PARAM_FROZEN, 2, (int[]){ out, in });
    }
    if (rank <= 0) return;
    snprintf(name, sizeof name, "%s.lora_A.weight", prefix);
    l->lora_a = param_declare(ps, name, PARAM_TRAINABLE, 2, (int[]){ rank, in });
    snprintf(name, sizeof name, "%s.lora_B.weight", prefix);
    l->lora_b = param_declare(ps, name, PARAM_TRAINABLE, 2, (int[]){ out, rank });
    l->scaling = (real)(a->rslora ? a->alpha / sqrt((double)rank) : a->alpha / rank);
    l->dropout = (real)a->dropout;
}

/* common part: sizes, routing settings, gate2, the experts (w == NULL: declared per expert).
   Without a moe-ffn adapter the block keeps the checkpoint's routing (top_k_base, no nulls);
   plain LoRA may still put adapters on the experts' w1 / w3 / w2 (targets gate / up / down). */
static void declare_common(MoeFfn *f, ParamStore *ps, const char *pre, const char *const names[3], int n,
                           int top_k_base, Tensor *const w[3], const AdapterConfig *a) {
    int lora_moe = a->kind == ADAPTER_MOE_FFN, moe = lora_moe || full_routed(a);
    f->n_true = n;
    f->n_null = moe ? a->n_null : 0;
    f->top_k = moe ? a->top_k : top_k_base;
    f->all_selected = moe && a->normalize == MOE_NORM_ALL_SELECTED;
    f->identity_nulls = moe && a->null_kind == MOE_NULL_IDENTITY && f->n_null > 0;
    f->gate2_init = a->gate2_init;
    CHECK(f->top_k >= 1 && f->top_k <= n + f->n_null && n + f->n_null <= MOE_MAX_EXPERTS,
          "moe_ffn: top-%d of %d + %d experts", f->top_k, n, f->n_null);
    char name[200];
    if (f->n_null > 0) {
        snprintf(name, sizeof name, "%s.gate2.weight", pre);
        f->gate2 = param_declare(ps, name, PARAM_TRAINABLE, 2, (int[]){ f->n_null, f->dim });
    }
    f->w1 = xcalloc((size_t)n, sizeof *f->w1);
    f->w3 = xcalloc((size_t)n, sizeof *f->w3);
    f->w2 = xcalloc((size_t)n, sizeof *f->w2);
    LoraLinear *lin[3] = { NULL, NULL, NULL };
    int bits[3] = { LORA_TARGET_GATE, LORA_TARGET_UP, LORA_TARGET_DOWN };
    for (int e = 0; e < n; e++) {
        lin[0] = &f->w1[e], lin[1] = &f->w3[e], lin[2] = &f->w2[e];
        for (int j = 0; j < 3; j++) {
            int in = j == 2 ? f->hidden : f->dim, out = j == 2 ? f->dim : f->hidden;
            int rank = (lora_moe || a->kind == ADAPTER_LORA) && (a->targets & bits[j]) ? a->rank : 0;
            snprintf(name, sizeof name, "%s.experts.%d.%s", pre, e, names[j]);
            expert_linear(lin[j], ps, name, w ? w[j] : NULL, in, out, rank, a);
        }
    }
}

/* Mixtral names: gate [n, C] is the pretrained router (frozen unless full fine-tuning); its
   optional LoRA (target "router") is a LoraLinear on it (moe_ffn_router_logits). */
void moe_ffn_declare(MoeFfn *f, ParamStore *ps, int layer, int dim, int hidden, int n_experts, int top_k_base,
                     const AdapterConfig *acfg, MoeState *state) {
    static const char *const names[3] = { "w1", "w3", "w2" };
    char pre[128], name[160];
    memset(f, 0, sizeof *f);
    f->dim = dim;
    f->hidden = hidden;
    f->state = state;
    f->layer = layer;
    snprintf(pre, sizeof pre, "model.layers.%d.block_sparse_moe", layer);
    snprintf(name, sizeof name, "%s.gate.weight", pre);
    f->gate = param_declare(ps, name, acfg->kind == ADAPTER_FULL ? PARAM_TRAINABLE : PARAM_FROZEN, 2, (int[]){ n_experts, dim });
    int lora = acfg->kind == ADAPTER_LORA || acfg->kind == ADAPTER_MOE_FFN;
    snprintf(name, sizeof name, "%s.gate", pre);
    expert_linear(&f->router, ps, name, f->gate, dim, n_experts,
                  lora && (acfg->targets & LORA_TARGET_ROUTER) ? acfg->rank : 0, acfg);
    declare_common(f, ps, pre, names, n_experts, top_k_base, NULL, acfg);
}

/* Sparse upcycling (Komatsuzaki et al. 2023): a dense FFN becomes n experts that start as exact
   copies of it (they share its frozen weights), plus a new router trained from scratch. With
   B = 0 every expert computes the dense FFN and the true weights of a row sum to 1, so a token
   with at least one true expert (and zero nulls) gets exactly the dense output; the experts
   drift apart through their LoRAs. */
void moe_ffn_declare_upcycled(MoeFfn *f, ParamStore *ps, int layer, Tensor *w_gate, Tensor *w_up,
                              Tensor *w_down, const AdapterConfig *acfg, MoeState *state) {
    static const char *const names[3] = { "gate_proj", "up_proj", "down_proj" };
    char pre[128], name[160];
    memset(f, 0, sizeof *f);
    f->dim = w_gate->shape[1];
    f->hidden = w_gate->shape[0];
    f->state = state;
    f->layer = layer;
    f->gate_trainable = 1;
    snprintf(pre, sizeof pre, "model.layers.%d.mlp", layer);
    CHECK(!(acfg->targets & LORA_TARGET_ROUTER), "moe_ffn: the upcycled router is trained in full, it takes "
          "no LoRA (moe_ffn_check_model refuses the target 'router')");
    snprintf(name, sizeof name, "%s.router.weight", pre);
    f->gate = param_declare(ps, name, PARAM_TRAINABLE, 2, (int[]){ acfg->upcycle, f->dim });
    expert_linear(&f->router, ps, name, f->gate, f->dim, acfg->upcycle, 0, acfg);
    Tensor *const w[3] = { w_gate, w_up, w_down };
    declare_common(f, ps, pre, names, acfg->upcycle, acfg->top_k, w, acfg);
}

/* Call after the base checkpoint is loaded: gate2 "copy" reads the gate. Copy is the official
   exp_2 initialisation (REFERENCE.md §1.1: gate2 = gate tiled): null j starts with the logit of
   true expert j mod n, so a token's top-k at first holds its best true experts next to their
   null clones (ties go to the lower index, the true expert). For an upcycled block the copy
   tiles the freshly drawn router. */
void moe_ffn_init(MoeFfn *f, Rng *rng) {
    for (int e = 0; e < f->n_true; e++) {
        lora_linear_init(&f->w1[e], rng);
        lora_linear_init(&f->w3[e], rng);
        lora_linear_init(&f->w2[e], rng);
    }
    lora_linear_init(&f->router, rng);   /* router LoRA (if any): A kaiming-uniform, B zero */
    if (f->gate_trainable) rng_fill_kaiming_uniform(rng, f->gate->data, f->gate->numel, f->dim);
    if (!f->gate2) return;
    size_t C = (size_t)f->dim;
    float *gate = xmalloc(f->gate->numel * sizeof *gate);   /* the gate may be stored as bf16 */
    param_get_f32(f->gate, gate);
    for (int j = 0; j < f->n_null; j++) {
        real *row = f->gate2->data + (size_t)j * C;
        if (f->gate2_init == MOE_GATE2_COPY) {   /* tile the router: row j = gate row j mod n */
            for (size_t c = 0; c < C; c++) row[c] = (real)gate[(size_t)(j % f->n_true) * C + c];
        } else if (f->gate2_init == MOE_GATE2_ZEROS) {
            memset(row, 0, C * sizeof *row);
        } else {
            rng_fill_kaiming_uniform(rng, row, C, f->dim);
        }
    }
    free(gate);
}

/* y [N, C] += Σ over true experts of their weighted SwiGLU outputs on the routed rows. y is the
   block's own fresh accumulator that nothing else reads, so every expert is added in place (one
   shared gradient buffer, no [N, C] copy per expert forward nor gradient add backward). */
static Tensor *add_experts_chain(Tape *t, const MoeFfn *f, Tensor *h, Tensor *W, const Routing *r, Tensor *y,
                                 Rng *drop_rng) {
    Tensor *Wf = tensor_view(t->arena, W, 2, (int[]){ r->N * r->E, 1 });
    for (int e = 0; e < f->n_true; e++) {
        int off = r->offset[e], n_e = r->offset[e + 1] - off;
        if (n_e == 0) continue;
        Tensor *xe = op_gather_rows(t, h, r->rows + off, n_e);
        Tensor *g = lora_linear_forward(t, &f->w1[e], xe, drop_rng);
        Tensor *u = lora_linear_forward(t, &f->w3[e], xe, drop_rng);
        /* u is fresh and read by the SwiGLU alone (as the dense FFN's up projection): shared grad */
        Tensor *d = lora_linear_forward(t, &f->w2[e], op_swiglu_shared_grad(t, g, u), drop_rng);
        y = op_scatter_add_rows_inplace(t, y, d, r->rows + off, op_gather_rows(t, Wf, r->flat + off, n_e));
    }
    return y;
}

/* the experts are plain linears (no LoRA, no bias): the fused op applies */
static int experts_plain(const MoeFfn *f) {
    for (int e = 0; e < f->n_true; e++) {
        const LoraLinear *l[3] = { &f->w1[e], &f->w3[e], &f->w2[e] };
        for (int k = 0; k < 3; k++)
            if (l[k]->lora_a || l[k]->bias || l[k]->moe) return 0;
    }
    return 1;
}

/* The routed experts' output [N, C]: plain experts (full training, frozen experts) in one op
   (autograd/ops/routed_ffn.h: bitwise the chain's values and gradients, with 2F + C saved reals
   per routed row instead of 4C + 5F), experts with LoRA through the chain. */
static Tensor *add_experts(Tape *t, const MoeFfn *f, Tensor *h, Tensor *W, const Routing *r, Rng *drop_rng) {
    if (!experts_plain(f)) {
        Tensor *y = tensor_2d(t->arena, r->N, f->dim, 0);
        memset(y->data, 0, (size_t)r->N * f->dim * sizeof(real));
        return add_experts_chain(t, f, h, W, r, y, drop_rng);
    }
    Tensor **w = arena_alloc(t->arena, 3 * (size_t)(f->n_true ? f->n_true : 1) * sizeof *w);
    for (int e = 0; e < f->n_true; e++) w[e] = f->w1[e].weight, w[f->n_true + e] = f->w3[e].weight,
                                        w[2 * f->n_true + e] = f->w2[e].weight;
    return op_routed_ffn(t, h, W, r, w, w + f->n_true, w + 2 * f->n_true);
}

/* z = x·gateᵀ (+ s·(drop(x)·Aᵀ)·Bᵀ), then | x·gate2ᵀ. The LoRA term is three separate ops, not
   the fused op_lora_linear, so the base product is the same op_linear as without it (B = 0 is
   bitwise the frozen router); its cost is negligible next to the experts. */
Tensor *moe_ffn_router_logits(Tape *t, const MoeFfn *f, Tensor *x, Rng *drop_rng) {
    const LoraLinear *r = &f->router;
    Tensor *z = op_linear(t, x, f->gate);                                  /* [N, n] */
    if (r->lora_a) {
        int drop = r->dropout > 0 && drop_rng && !t->no_grad;
        Tensor *xin = drop ? op_dropout(t, x, r->dropout, drop_rng) : x;
        Tensor *d = op_linear(t, op_linear(t, xin, r->lora_a), r->lora_b);   /* [N, r] -> [N, n] */
        z = op_add_scaled(t, z, d, r->scaling);
    }
    if (f->gate2) z = op_concat_cols(t, z, op_linear(t, x, f->gate2));  /* [N, n+m] */
    return z;
}

/* The equations of the file header. y is a fresh [N, C] (the experts' sum) that only this block
   writes, so identity nulls accumulate into it in place; pads (masked rows) select no expert and
   get 0. */
Tensor *moe_ffn_forward(Tape *t, const MoeFfn *f, Tensor *h, Rng *drop_rng) {
    int N = (int)tensor_rows(h), E = f->n_true + f->n_null;
    MoeState *st = f->state;
    CHECK(tensor_cols(h) == f->dim, "moe_ffn: input has %d columns, dim %d", tensor_cols(h), f->dim);
    const unsigned char *mask = NULL;
    if (st && st->row_mask) {
        CHECK(st->mask_rows == N, "moe_ffn: row mask has %d rows, input %d", st->mask_rows, N);
        mask = st->row_mask;
    }
    Tensor *x2 = tensor_view(t->arena, h, 2, (int[]){ N, f->dim });
    Tensor *z = moe_ffn_router_logits(t, f, x2, drop_rng);
    CHECK(tensor_cols(z) == E, "moe_ffn: %d router logits, %d experts", tensor_cols(z), E);
    Tensor *p = op_softmax(t, z);                                         /* [N, E] */
    Routing *r = arena_alloc(t->arena, sizeof *r);
    route_select(t->arena, p, f->n_true, f->top_k, mask, r);   /* top-k only: no other rules here */
    if (st) {
        st->log[f->layer * MOE_MODULES + MOE_FFN_SLOT] = (MoeRecord){ p, r, NULL, 0, 0 };
        if (st->stats_on) moe_stats_accumulate(&st->stats, f->layer, MOE_FFN_SLOT, p, r);
    }
    Tensor *W = op_route_weights(t, z, r, f->all_selected);
    if (st) st->log[f->layer * MOE_MODULES + MOE_FFN_SLOT].w = W;
    Tensor *y;
    if (!(st && st->experts_off)) {   /* off: bench only */
        MoeExpertSpan sp = moe_expert_span_begin(st, t);
        y = add_experts(t, f, x2, W, r, drop_rng);
        if (st) moe_expert_span_end(st, t, sp, &st->log[f->layer * MOE_MODULES + MOE_FFN_SLOT]);
    } else {
        y = tensor_2d(t->arena, N, f->dim, 0);
        memset(y->data, 0, (size_t)N * f->dim * sizeof(real));
    }
    if (f->identity_nulls) {   /* y += (Σ selected null weights) · h; an FFN always has in == out */
        int *all = arena_alloc(t->arena, (size_t)N * sizeof(int));
        for (int i = 0; i < N; i++) all[i] = i;
        y = op_scatter_add_rows_inplace(t, y, x2, all, op_row_sum_cols(t, W, f->n_true, f->n_null));
    }
    return tensor_view(t->arena, y, h->ndim, h->shape);
}

void moe_ffn_free(MoeFfn *f) {
    free(f->w1);
    free(f->w3);
    free(f->w2);
    f->w1 = f->w3 = f->w2 = NULL;
}

/* see moe_ffn.h; the CLI's --upcycle / --gate2-init land here */
Status moe_ffn_options(AdapterConfig *a, const ModelConfig *c, int upcycle, const char *gate2_init, Error *err) {
    if (upcycle < 0 || upcycle > MOE_MAX_EXPERTS || (upcycle > 0 && a->kind != ADAPTER_MOE_FFN))
        return error_set(err, STATUS_INVALID, "e.g. --adapter moe-ffn --upcycle 4 --top-k 2",
                         "--upcycle %d needs --adapter moe-ffn and at most %d experts", upcycle, MOE_MAX_EXPERTS);
    a->upcycle = upcycle;
    Status s = moe_gate2_init_parse(gate2_init ? gate2_init : "copy", &a->gate2_init, err);
    return s || !c ? s : moe_ffn_check_model(c, a, "the model", err);
}

/* the target "router" (a LoRA on the frozen Mixtral router) on a model without one */
static Status check_router_target(const ModelConfig *c, const AdapterConfig *a, const char *src, Error *err) {
    int adapter = a->kind == ADAPTER_LORA || adapter_is_routed(a);
    if (!adapter || !(a->targets & LORA_TARGET_ROUTER) || c->n_experts > 0) return STATUS_OK;
    if (a->kind == ADAPTER_MOE_FFN && a->upcycle > 0)
        return error_set(err, STATUS_INVALID, "drop 'router' from --targets",
                         "%s: the target 'router' adds a LoRA to a Mixtral router, but the upcycled router "
                         "(model.layers.*.mlp.router) is already trained in full", src);
    return error_set(err, STATUS_INVALID, "drop 'router' from --targets (it is for Mixtral models)",
                     "%s: the target 'router' needs a Mixtral model (block_sparse_moe.gate), this model has "
                     "dense FFNs and no router", src);
}

Status moe_ffn_check_model(const ModelConfig *c, const AdapterConfig *a, const char *src, Error *err) {
    if (check_router_target(c, a, src, err)) return err->status;
    if (c->n_experts > 0 && (a->kind == ADAPTER_MOLORA || a->kind == ADAPTER_ADAMOE))
        return error_set(err, STATUS_INVALID, "use --adapter moe-ffn (or lora) on a Mixtral model",
                         "%s: %s adapters are not supported on Mixtral models", src, adapter_kind_name(a->kind));
    if (a->kind != ADAPTER_MOE_FFN) return STATUS_OK;
    if (c->n_experts > 0 && a->upcycle > 0)
        return error_set(err, STATUS_INVALID, "drop --upcycle", "%s: --upcycle needs a dense model, this is a Mixtral "
                         "model with %d experts", src, c->n_experts);
    if (c->n_experts == 0 && a->upcycle <= 0)
        return error_set(err, STATUS_INVALID, "give --upcycle n to turn each dense FFN into n experts",
                         "%s: moe-ffn needs a Mixtral model (num_local_experts) or --upcycle", src);
    int n = c->n_experts > 0 ? c->n_experts : a->upcycle;
    if (a->top_k < 1 || a->top_k > n + a->n_null || n + a->n_null > MOE_MAX_EXPERTS)
        return error_set(err, STATUS_INVALID, NULL, "%s: --top-k %d outside 1..%d (%d experts + %d null, at most %d)",
                         src, a->top_k, n + a->n_null, n, a->n_null, MOE_MAX_EXPERTS);
    return STATUS_OK;   /* n_true is the model's (llama_declare); adapter files are matched by adapter_load */
}
