/* nn/generate.c — the KV-cache decode step and the generation loop (see generate.h).
   The arithmetic mirrors the ops llama_hidden uses, row by row: rmsnorm (sum of squares in
   double, y = (x·r)·w), the LoRA delta added as y + s·d, residuals as x + y, SwiGLU as
   (a·σ(a))·b with σ evaluated without exponentiating a positive number. Only the summation
   order of the linears (GEMV below vs the blocked gemm) and of attention differs, so the cached
   logits equal the full forward's up to float rounding.
   Routed modules (Mixtral / upcycled MoE FFN blocks, Mo-LoRA / AdaMoE linears) run on row
   kernels in nn/generate_routed.c, which routes through the training code's selection. Their
   routing is per token (top-k, top-p, dense, stochastic's evaluation rule), so a row routes
   alone exactly as it does inside the full sequence; expert-choice routing is not (experts pick
   among the sequence's tokens) and llama_generate rejects it. */
#include "nn/generate_rows.h"
#include "autograd/ops/attention.h"
#include "autograd/ops/rope.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int imax(int a, int b) { return a > b ? a : b; }

/* the largest LoRA rank over every linear of the model, MoE FFN experts included (0 without
   an adapter) */
static int max_rank(const LlamaModel *m) {
    int r = 0;
    for (int i = 0; i < m->cfg.n_layers; i++) {
        const LlamaLayer *l = &m->layers[i];
        const LoraLinear *lin[7] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
        for (int j = 0; j < 7; j++) r = imax(r, lin[j]->rank);
        for (int e = 0; l->ffn && e < l->ffn->n_true; e++)
            r = imax(r, imax(l->ffn->w1[e].rank, imax(l->ffn->w3[e].rank, l->ffn->w2[e].rank)));
    }
    return r;
}

static real *alloc_reals(size_t n) { return xmalloc((n ? n : 1) * sizeof(real)); }

/* a Mo-LoRA / AdaMoE linear with expert-choice routing (non-causal: no token-by-token decoding) */
static const MoeLinear *noncausal_router(const LlamaModel *m) {
    for (int i = 0; i < m->cfg.n_layers; i++) {
        const LlamaLayer *l = &m->layers[i];
        const LoraLinear *lin[7] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
        for (int j = 0; j < 7; j++)
            if (lin[j]->moe && lin[j]->moe->routing == MOE_ROUTING_EXPERT_CHOICE) return lin[j]->moe;
    }
    return NULL;
}

void decode_state_init(DecodeState *s, const LlamaModel *m, int cap) {
    const ModelConfig *c = &m->cfg;
    CHECK(cap >= 1 && cap <= c->max_seq_len, "decode_state_init: cap %d outside 1..%d", cap, c->max_seq_len);
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    int widest = imax(imax(qd, kvd), imax(c->dim, c->hidden_dim));
    s->m = m;
    s->cap = cap;
    size_t cache = (size_t)c->n_layers * cap * kvd;
    s->k_cache = alloc_reals(cache);
    s->v_cache = alloc_reals(cache);
    s->x = alloc_reals((size_t)c->dim);
    s->xb = alloc_reals((size_t)c->dim);
    s->q = alloc_reals((size_t)qd);
    s->att = alloc_reals((size_t)qd);
    s->out = alloc_reals((size_t)c->dim);
    s->ff_gate = alloc_reals((size_t)c->hidden_dim);
    s->ff_up = alloc_reals((size_t)c->hidden_dim);
    s->lora_h = alloc_reals((size_t)max_rank(m));
    s->lora_d = alloc_reals((size_t)widest);
    s->logits = alloc_reals((size_t)c->vocab_size);
    s->scores = alloc_reals((size_t)c->n_heads * cap);
    s->routed = m->moe != NULL;
    s->count_routes = 0;
    s->rt = NULL;
    if (s->routed) {
        CHECK(!noncausal_router(m), "decode_state_init: expert-choice routing cannot decode token by token");
        s->rt = decode_routed_new(m);
    }
}

void decode_state_free(DecodeState *s) {
    real *bufs[] = { s->k_cache, s->v_cache, s->x, s->xb, s->q, s->att, s->out, s->ff_gate,
                     s->ff_up, s->lora_h, s->lora_d, s->logits, s->scores };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    if (s->rt) decode_routed_free(s->rt);
    memset(s, 0, sizeof *s);
}

/* y = W x (+ b) + s·B(A x) (lora_linear_forward on one row; dropout is off at inference) */
void decode_linear(DecodeState *s, const LoraLinear *l, const real *x, real *y) {
    decode_matvec(l->weight, x, y);
    if (l->bias)
        for (int i = 0; i < l->out; i++) y[i] = y[i] + l->bias->data[i];
    if (l->moe) decode_moe_linear(s, l->moe, x, y);
    if (!l->lora_a) return;
    decode_matvec(l->lora_a, x, s->lora_h);
    decode_matvec(l->lora_b, s->lora_h, s->lora_d);
    for (int i = 0; i < l->out; i++) y[i] = y[i] + l->scaling * s->lora_d[i];
}

static real sigmoid(real a) {
    if (a >= 0) return (real)1 / ((real)1 + real_exp(-a));
    real e = real_exp(a);
    return e / ((real)1 + e);
}

/* out [C] = down(silu(gate(h)) * up(h)) through decode_linear (the dense FFN and every MoE expert) */
void decode_swiglu(DecodeState *s, const LoraLinear *gate, const LoraLinear *up, const LoraLinear *down,
                   const real *h, real *out) {
    CHECK(gate->out <= s->m->cfg.hidden_dim, "decode: FFN hidden %d > the buffers' %d", gate->out, s->m->cfg.hidden_dim);
    decode_linear(s, gate, h, s->ff_gate);
    decode_linear(s, up, h, s->ff_up);
    for (int i = 0; i < gate->out; i++) s->ff_gate[i] = s->ff_gate[i] * sigmoid(s->ff_gate[i]) * s->ff_up[i];
    decode_linear(s, down, s->ff_gate, out);
}

/* y = (x · rsqrt(mean(x²) + eps)) · w, as op_rmsnorm */
static void rmsnorm_row(real *y, const real *x, const real *w, int C, real eps) {
    double ss = 0.0;
    for (int i = 0; i < C; i++) ss += (double)x[i] * (double)x[i];
    real rs = (real)(1.0 / sqrt(ss / C + (double)eps));
    for (int i = 0; i < C; i++) y[i] = (x[i] * rs) * w[i];
}


static void add_inplace(real *x, const real *y, int n) {
    for (int i = 0; i < n; i++) x[i] = x[i] + y[i];
}

/* one decoder layer on s->x at position pos; appends this position's k/v to the caches */
static void layer_step(DecodeState *s, int li, int pos) {
    const LlamaModel *m = s->m;
    const ModelConfig *c = &m->cfg;
    const LlamaLayer *l = &m->layers[li];
    int C = c->dim, H = c->n_heads, KV = c->n_kv_heads, D = c->head_dim;
    size_t kvd = (size_t)KV * D;
    RopeMode mode = c->rope_half ? ROPE_HALF : ROPE_INTERLEAVED;
    real eps = (real)c->norm_eps;
    real *kc = s->k_cache + (size_t)li * s->cap * kvd, *vc = s->v_cache + (size_t)li * s->cap * kvd;
    real *k_row = kc + (size_t)pos * kvd, *v_row = vc + (size_t)pos * kvd;

    rmsnorm_row(s->xb, s->x, l->attn_norm->data, C, eps);
    decode_linear(s, &l->q, s->xb, s->q);
    decode_linear(s, &l->k, s->xb, k_row);
    decode_linear(s, &l->v, s->xb, v_row);
    rope_apply_inplace(s->q, 1, H, D, &m->rope, pos, mode);
    rope_apply_inplace(k_row, 1, KV, D, &m->rope, pos, mode);
    attention_decode_step(s->att, s->q, kc, vc, pos, H, KV, D, s->scores);
    decode_linear(s, &l->o, s->att, s->out);
    add_inplace(s->x, s->out, C);

    rmsnorm_row(s->xb, s->x, l->ffn_norm->data, C, eps);
    if (l->ffn) decode_moe_ffn(s, l->ffn, s->xb, s->out);
    else decode_swiglu(s, &l->gate, &l->up, &l->down, s->xb, s->out);
    add_inplace(s->x, s->out, C);
}

const real *decode_step(DecodeState *s, int id, int pos, int want_logits) {
    const LlamaModel *m = s->m;
    const ModelConfig *c = &m->cfg;
    int C = c->dim;
    CHECK(id >= 0 && id < c->vocab_size, "decode_step: id %d outside vocab %d", id, c->vocab_size);
    CHECK(pos >= 0 && pos < s->cap, "decode_step: position %d outside the cache (0..%d)", pos, s->cap - 1);
    const Tensor *emb = m->tok_emb;
    if (emb->bf16)
        for (int i = 0; i < C; i++) s->x[i] = (real)bf16_to_f32(emb->bf16[(size_t)id * C + i]);
    else memcpy(s->x, emb->data + (size_t)id * C, (size_t)C * sizeof(real));
    if (s->rt) decode_routed_begin(s);
    for (int li = 0; li < c->n_layers; li++) layer_step(s, li, pos);
    if (!want_logits) return NULL;
    rmsnorm_row(s->xb, s->x, m->final_norm->data, C, (real)c->norm_eps);
    decode_matvec(m->lm_head, s->xb, s->logits);
    return s->logits;
}

/* ---- the generation loop ---- */

GenerateConfig generate_config_default(void) {
    GenerateConfig g = { 64, 0.0, 1.0, 42, 0, 0 };
    return g;
}

static Status check_request(const LlamaModel *m, const int *prompt, int n_prompt, const GenerateConfig *gc,
                            Error *err) {
    const ModelConfig *c = &m->cfg;
    if (n_prompt < 1)
        return error_set(err, STATUS_INVALID, "start the prompt with BOS (id 1 for llama2.c models)",
                         "empty prompt: generation needs at least one token");
    if (gc->steps < 0) return error_set(err, STATUS_INVALID, NULL, "steps must be >= 0, got %d", gc->steps);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size)
            return error_set(err, STATUS_INVALID, NULL, "prompt id %d at index %d is outside the vocabulary "
                             "(expected 0..%d)", prompt[i], i, c->vocab_size - 1);
    if ((long)n_prompt + gc->steps > c->max_seq_len)
        return error_set(err, STATUS_INVALID, "use fewer steps or a shorter prompt",
                         "prompt of %d tokens + %d steps exceeds the model's context of %d",
                         n_prompt, gc->steps, c->max_seq_len);
    if (!(gc->temperature >= 0) || !isfinite(gc->temperature))
        return error_set(err, STATUS_INVALID, NULL, "temperature must be a finite number >= 0, got %g",
                         gc->temperature);
    if (!(gc->top_p > 0 && gc->top_p <= 1))
        return error_set(err, STATUS_INVALID, NULL, "top_p must be in (0, 1], got %g", gc->top_p);
    const MoeLinear *ec = noncausal_router(m);
    if (ec)
        return error_set(err, STATUS_INVALID, "use an adapter trained with top-k, top-p or dense routing",
                         "layer %d: expert-choice routing is non-causal (experts pick among the whole "
                         "sequence's tokens), so it cannot generate token by token", ec->layer);
    return STATUS_OK;
}

Status llama_generate(const LlamaModel *m, const int *prompt, int n_prompt, const GenerateConfig *gc,
                      GenerateTokenFn on_token, void *ctx, int *out_ids, int *n_out, Error *err) {
    *n_out = 0;
    Status st = check_request(m, prompt, n_prompt, gc, err);
    if (st != STATUS_OK || gc->steps == 0) return st;
    DecodeState s;
    Sampler smp;
    decode_state_init(&s, m, n_prompt + gc->steps);
    s.count_routes = gc->count_routes;
    sampler_init(&smp, m->cfg.vocab_size);
    Rng rng = rng_derive(gc->seed, GENERATE_RNG_STREAM);
    for (int pos = 0; pos < n_prompt - 1; pos++) decode_step(&s, prompt[pos], pos, 0);
    int prev = prompt[n_prompt - 1], n = 0;
    for (int i = 0; i < gc->steps; i++) {
        const real *logits = decode_step(&s, prev, n_prompt - 1 + i, 1);
        int id = sampler_next(&smp, logits, gc->temperature, gc->top_p, &rng);
        out_ids[n++] = id;
        int stop = on_token ? on_token(ctx, prev, id) : 0;
        prev = id;
        if (stop || (gc->stop_at_eos && model_is_eos(&m->cfg, id))) break;
    }
    *n_out = n;
    sampler_free(&smp);
    decode_state_free(&s);
    return STATUS_OK;
}
