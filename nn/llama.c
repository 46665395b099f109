/* nn/llama.c — Llama model assembly (see llama.h). Forward only: backward is the tape's. */
#include "nn/llama.h"
#include "nn/recompute.h"
#include "autograd/ops.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensor/half.h"
#include "tensor/quant.h"

static Tensor *declare_vec(ParamStore *ps, const char *name, int n, int trainable) {
    return param_declare(ps, name, trainable ? PARAM_TRAINABLE : PARAM_FROZEN, 1, (int[]){ n });
}

static void declare_layer(LlamaModel *m, int i) {
    const ModelConfig *c = &m->cfg;
    const AdapterConfig *a = &m->acfg;
    LlamaLayer *l = &m->layers[i];
    int full = a->kind == ADAPTER_FULL;
    char p[128], name[160];
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    struct { LoraLinear *mod; const char *path; int in, out, bit; } lin[7] = {
        { &l->q, "self_attn.q_proj", c->dim, qd, LORA_TARGET_Q },
        { &l->k, "self_attn.k_proj", c->dim, kvd, LORA_TARGET_K },
        { &l->v, "self_attn.v_proj", c->dim, kvd, LORA_TARGET_V },
        { &l->o, "self_attn.o_proj", qd, c->dim, LORA_TARGET_O },
        { &l->gate, "mlp.gate_proj", c->dim, c->hidden_dim, LORA_TARGET_GATE },
        { &l->up, "mlp.up_proj", c->dim, c->hidden_dim, LORA_TARGET_UP },
        { &l->down, "mlp.down_proj", c->hidden_dim, c->dim, LORA_TARGET_DOWN },
    };
    snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", i);
    l->attn_norm = declare_vec(&m->ps, name, c->dim, full);
    int ffn_experts = c->n_experts > 0 ? c->n_experts : a->upcycle;
    int routed_lin = adapter_is_routed(a) && a->kind != ADAPTER_MOE_FFN;
    int n_lin = c->n_experts > 0 ? 4 : 7;     /* Mixtral: the FFN is the MoE block */
    for (int j = 0; j < n_lin; j++) {
        if (j == 4) {
            snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", i);
            l->ffn_norm = declare_vec(&m->ps, name, c->dim, full);
        }
        snprintf(p, sizeof p, "model.layers.%d.%s", i, lin[j].path);
        int plain = a->kind == ADAPTER_LORA || (a->kind == ADAPTER_MOE_FFN && j < 4);
        int rank = plain && (a->targets & lin[j].bit) ? a->rank : 0;
        lora_linear_declare(lin[j].mod, &m->ps, p, lin[j].in, lin[j].out, rank, a, full);
        if (c->bias_targets & lin[j].bit) lora_linear_declare_bias(lin[j].mod, &m->ps, p, full);
        if (routed_lin && (a->targets & lin[j].bit)) {
            lin[j].mod->moe = xcalloc(1, sizeof(MoeLinear));
            moe_linear_declare(lin[j].mod->moe, &m->ps, p, lin[j].in, lin[j].out, a, m->moe, i, j);
        }
    }
    if (ffn_experts <= 0) return;
    l->ffn = xcalloc(1, sizeof *l->ffn);
    if (c->n_experts > 0) {
        snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", i);
        l->ffn_norm = declare_vec(&m->ps, name, c->dim, full);
        moe_ffn_declare(l->ffn, &m->ps, i, c->dim, c->hidden_dim, c->n_experts, c->experts_per_tok, a, m->moe);
    } else {
        moe_ffn_declare_upcycled(l->ffn, &m->ps, i, l->gate.weight, l->up.weight, l->down.weight, a, m->moe);
    }
}

void llama_declare_params(LlamaModel *m, const ModelConfig *cfg, const AdapterConfig *acfg, int frozen_bf16) {
    memset(&m->rope, 0, sizeof m->rope);
    m->loss_rows = 0;   /* one process: the CE is the batch mean (the trainer sets it for shards) */
    m->recompute = 0;   /* every layer's activations kept for the backward (the caller may turn it on) */
    m->cfg = *cfg;
    m->acfg = *acfg;
    param_store_init(&m->ps);
    param_store_set_base_dtype(&m->ps, frozen_bf16);   /* 0 f32, 1 bf16, nf4 / int8 codes (param_store.h) */
    int full = acfg->kind == ADAPTER_FULL;
    ParamRole role = full ? PARAM_TRAINABLE : PARAM_FROZEN;
    m->tok_emb = param_declare(&m->ps, "model.embed_tokens.weight", role, 2, (int[]){ cfg->vocab_size, cfg->dim });
    m->layers = xcalloc((size_t)cfg->n_layers, sizeof *m->layers);
    int ffn_experts = cfg->n_experts > 0 ? cfg->n_experts : (acfg->kind == ADAPTER_MOE_FFN ? acfg->upcycle : 0);
    CHECK(acfg->kind != ADAPTER_MOE_FFN || ffn_experts > 0, "moe-ffn needs a Mixtral model or --upcycle n");
    CHECK(cfg->n_experts == 0 || (acfg->kind != ADAPTER_MOLORA && acfg->kind != ADAPTER_ADAMOE),
          "molora / adamoe adapters are not supported on Mixtral models (use moe-ffn)");
    CHECK(!(acfg->targets & LORA_TARGET_ROUTER) || cfg->n_experts > 0 || (acfg->kind != ADAPTER_LORA && !adapter_is_routed(acfg)),
          "the LoRA target 'router' needs a Mixtral model (moe_ffn_check_model)");
    if (acfg->kind == ADAPTER_MOE_FFN) m->acfg.n_true = ffn_experts;
    if (ffn_experts > 0) {
        AdapterConfig sc = moe_ffn_state_config(acfg, ffn_experts, cfg->n_experts > 0 ? cfg->experts_per_tok : acfg->top_k);
        m->moe = moe_state_new(&sc, cfg->n_layers);
    } else {
        m->moe = adapter_is_routed(acfg) ? moe_state_new(acfg, cfg->n_layers) : NULL;
    }
    for (int i = 0; i < cfg->n_layers; i++) declare_layer(m, i);
    m->final_norm = declare_vec(&m->ps, "model.norm.weight", cfg->dim, full);
    m->lm_head = cfg->tied ? m->tok_emb
                           : param_declare(&m->ps, "lm_head.weight", role, 2, (int[]){ cfg->vocab_size, cfg->dim });
}

Status llama_allocate(LlamaModel *m, Error *err) {
    Status s = param_store_try_allocate(&m->ps, err);
    if (s) return s;
    double *inv_freq = xmalloc((size_t)(m->cfg.head_dim / 2) * sizeof *inv_freq);
    rope_inv_freq(&m->cfg, inv_freq);   /* theta^(-2j/D), Llama-3 rescaled when rope_scaling says so */
    rope_table_init_freq(&m->rope, NULL, m->cfg.max_seq_len, m->cfg.head_dim, m->cfg.rope_theta, inv_freq);
    free(inv_freq);
    return STATUS_OK;
}

void llama_declare(LlamaModel *m, const ModelConfig *cfg, const AdapterConfig *acfg, int frozen_bf16) {
    llama_declare_params(m, cfg, acfg, frozen_bf16);
    Error err;
    Status s = llama_allocate(m, &err);
    CHECK(s == STATUS_OK, "%s", err.message);
}

void llama_init_adapter(LlamaModel *m, uint64_t seed) {
    Rng rng = rng_derive(seed, 1);
    for (int i = 0; i < m->cfg.n_layers; i++) {
        LlamaLayer *l = &m->layers[i];
        LoraLinear *lin[7] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
        for (int j = 0; j < 7; j++) lora_linear_init(lin[j], &rng);
        if (l->ffn) moe_ffn_init(l->ffn, &rng);
    }
}

/* One decoder layer (llama.h): x [N, C] -> x' [N, C]. The q / k projections, the up projection and the two
   residual branches are fresh tensors read by one op only, so RoPE works in place, the SwiGLU
   shares the up projection's gradient buffer and the residual adds go into the branch outputs
   (autograd/tape.h tape_output_inplace). The residual stream x is read by its norm first and
   by the residual add last, so the o / down projections with a plain LoRA share x's gradient
   buffer (op_lora_linear_residual): one gradient buffer for the whole stream. The same values,
   about 45 % less activation memory per layer. */
Tensor *llama_layer_forward(Tape *t, const LlamaModel *m, int i, Tensor *x, int B, int T, Rng *drop_rng) {
    const ModelConfig *c = &m->cfg;
    const LlamaLayer *l = &m->layers[i];
    RopeMode mode = c->rope_half ? ROPE_HALF : ROPE_INTERLEAVED;
    Tensor *h = op_rmsnorm(t, x, l->attn_norm, (real)c->norm_eps);
    Tensor *q = lora_linear_forward(t, &l->q, h, drop_rng);
    Tensor *k = lora_linear_forward(t, &l->k, h, drop_rng);
    Tensor *v = lora_linear_forward(t, &l->v, h, drop_rng);
    q = tensor_view(t->arena, q, 4, (int[]){ B, T, c->n_heads, c->head_dim });
    k = tensor_view(t->arena, k, 4, (int[]){ B, T, c->n_kv_heads, c->head_dim });
    v = tensor_view(t->arena, v, 4, (int[]){ B, T, c->n_kv_heads, c->head_dim });
    q = op_rope_inplace(t, q, &m->rope, 0, mode);
    k = op_rope_inplace(t, k, &m->rope, 0, mode);
    Tensor *a = op_causal_attention(t, q, k, v);
    a = tensor_view(t->arena, a, 2, (int[]){ B * T, c->n_heads * c->head_dim });
    x = lora_linear_forward_residual(t, &l->o, a, x, drop_rng);
    h = op_rmsnorm(t, x, l->ffn_norm, (real)c->norm_eps);
    if (l->ffn) return op_add_inplace(t, moe_ffn_forward(t, l->ffn, h, drop_rng), x);
    Tensor *g = lora_linear_forward(t, &l->gate, h, drop_rng);
    Tensor *u = lora_linear_forward(t, &l->up, h, drop_rng);
    return lora_linear_forward_residual(t, &l->down, op_swiglu_shared_grad(t, g, u), x, drop_rng);
}

/* the router row mask of a right-padded batch (arena: it must outlive the backward) */
static const unsigned char *pad_mask(Tape *t, const int *lengths, int B, int T) {
    if (!lengths) return NULL;
    unsigned char *mask = arena_alloc(t->arena, (size_t)B * T);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) mask[(size_t)b * T + i] = i < lengths[b];
    return mask;
}

Tensor *llama_hidden(Tape *t, const LlamaModel *m, const int *ids, int B, int T, Rng *drop_rng) {
    return llama_hidden_padded(t, m, ids, NULL, B, T, drop_rng);
}

Tensor *llama_hidden_padded(Tape *t, const LlamaModel *m, const int *ids, const int *lengths, int B, int T,
                            Rng *drop_rng) {
    const ModelConfig *c = &m->cfg;
    CHECK(T >= 1 && T <= c->max_seq_len, "sequence length %d outside 1..%d", T, c->max_seq_len);
    if (m->moe) moe_forward_begin(m->moe, pad_mask(t, lengths, B, T), B * T);
    Tensor *x = op_embedding(t, m->tok_emb, ids, B * T);
    if (m->recompute && !t->no_grad) x = llama_layers_recompute(t, m, x, B, T, drop_rng);   /* nn/recompute.h */
    else if (t->no_grad && (!m->moe || (!m->moe->keep_log && !m->acfg.pregate)))
        x = llama_layers_no_grad(t, m, x, B, T, drop_rng);
    else
        for (int i = 0; i < c->n_layers; i++) x = llama_layer_forward(t, m, i, x, B, T, drop_rng);
    return op_rmsnorm(t, x, m->final_norm, (real)c->norm_eps);
}

Tensor *llama_logits(Tape *t, const LlamaModel *m, Tensor *hidden) {
    return op_linear(t, hidden, m->lm_head);
}

Tensor *llama_loss(Tape *t, const LlamaModel *m, const int *ids, const int *targets, int B, int T,
                   Rng *drop_rng, int *n_counted) {
    LossParts parts;
    Tensor *loss = llama_loss_padded(t, m, ids, targets, NULL, B, T, m->acfg.aux_coef, drop_rng, &parts);
    if (n_counted) *n_counted = parts.n_counted;
    return loss;
}

/* mean CE over the target rows of hidden [B*T, C] (LM head on those rows only) */
static Tensor *answer_ce(Tape *t, const LlamaModel *m, Tensor *hidden, const int *targets, int N, int *n_counted) {
    int n = 0;
    int *rows = arena_alloc(t->arena, (size_t)N * sizeof(int));
    int *tg = arena_alloc(t->arena, (size_t)N * sizeof(int));
    for (int i = 0; i < N; i++)
        if (targets[i] != -100) {
            CHECK(targets[i] >= 0 && targets[i] < m->cfg.vocab_size, "target %d at %d outside vocab %d",
                  targets[i], i, m->cfg.vocab_size);
            rows[n] = i;
            tg[n++] = targets[i];
        }
    if (n_counted) *n_counted = n;
    if (n == 0) {   /* nothing to score: a zero loss that still carries the graph's shape */
        rows[0] = 0;
        tg[0] = -100;
        n = 1;
    }
    Tensor *sel = n == N ? hidden : op_gather_rows(t, hidden, rows, n);
    return op_linear_cross_entropy(t, sel, m->lm_head, tg, n);   /* no [n, V] logits kept */
}

Tensor *llama_loss_padded(Tape *t, const LlamaModel *m, const int *ids, const int *targets, const int *lengths,
                          int B, int T, double aux_coef, Rng *drop_rng, LossParts *parts) {
    LossParts lp = { 0 };
    Tensor *hidden = llama_hidden_padded(t, m, ids, lengths, B, T, drop_rng);
    Tensor *loss = answer_ce(t, m, hidden, targets, B * T, &lp.n_counted);
    if (m->loss_rows > 0 && m->loss_rows != lp.n_counted)   /* a shard: its share of the global mean */
        loss = op_scale(t, loss, (real)((double)lp.n_counted / m->loss_rows));
    lp.ce = (double)loss->data[0];
    Tensor *aux = m->moe ? moe_aux_loss(t, m->moe) : NULL;
    if (aux) {
        lp.aux = (double)aux->data[0];
        loss = op_add_scaled(t, loss, aux, (real)aux_coef);
    }
    Tensor *ent = m->moe ? moe_entropy_loss(t, m->moe) : NULL;   /* top-p routing's entropy loss */
    if (ent) loss = op_add(t, loss, ent);
    if (parts) *parts = lp;
    return loss;
}

void llama_free(LlamaModel *m) {
    for (int i = 0; m->layers && i < m->cfg.n_layers; i++) {
        LlamaLayer *l = &m->layers[i];
        LoraLinear *lin[7] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
        for (int j = 0; j < 7; j++)
            if (lin[j]->moe) { moe_linear_free(lin[j]->moe); free(lin[j]->moe); lin[j]->moe = NULL; }
        if (l->ffn) { moe_ffn_free(l->ffn); free(l->ffn); l->ffn = NULL; }
    }
    moe_state_free(m->moe);
    m->moe = NULL;
    rope_table_free(&m->rope);
    param_store_free(&m->ps);
    free(m->layers);
    m->layers = NULL;
}
