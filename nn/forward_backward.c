/* nn/forward_backward.c — tokens.json reader and the forward + backward pass of `forward-backward`
   (see forward_backward.h). This is the parity check against PyTorch: the same batch, model and
   adapter go through shared/tools/torch_ref.py, and the loss, a few logits, logit sums, the
   gradient norm and (forward_backward_write_grads) every adapter gradient are compared.
   With B sequences of T tokens, N = B·T rows, V vocab:
     logits = llama_hidden(ids) · lm_headᵀ       [N, V]   every position, not only targets
     ce     = mean over targets != -100 of -log softmax(logits)[target]
     loss   = ce + aux_coef · Σ_layers aux  (+ entropy_coef · Σ_modules mean H(p))
   One backward from `loss` fills the trainable grads; the arena and tape are local, the
   gradients stay in the model's ParamStore. */
#include "nn/forward_backward.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "autograd/ops.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IGNORE_INDEX (-100)   /* PyTorch cross_entropy's default ignore_index */

/* key [[int]...] with B rows of T ints each (B, T fixed by the first array read, so "targets"
   must match "inputs"). *out is allocated on the first row; errors carry line:column. The
   1 << 20 and 1 << 24 caps stop a hostile file from asking for a huge buffer; the integer
   check (|v| <= 1e9, no fraction) makes the int conversion exact. */
static Status read_matrix(const JsonValue *root, const char *key, const char *path, int *B, int *T,
                          int **out, Error *err) {
    const char *hint = "tokens.json is {\"inputs\": [[ids]...], \"targets\": [[ids or -100]...]}";
    const JsonValue *a = json_get(root, key);
    if (!a || a->type != JSON_ARRAY || a->count == 0 || a->count > (1u << 20))
        return error_set(err, STATUS_FORMAT, hint, "%s: \"%s\" must be a non-empty array of sequences", path, key);
    for (size_t b = 0; b < a->count; b++) {
        const JsonValue *row = &a->items[b];
        if (row->type != JSON_ARRAY || row->count == 0 || row->count > (1u << 20))
            return error_set(err, STATUS_FORMAT, hint, "%s:%d:%d: %s[%zu] must be a non-empty array of ids",
                             path, row->line, row->col, key, b);
        if (*B == 0) { *B = (int)a->count; *T = (int)row->count; }
        if ((size_t)*B * (size_t)*T > ((size_t)1 << 24))
            return error_set(err, STATUS_INVALID, NULL, "%s: %d x %d tokens is too many for one pass", path, *B, *T);
        if (!*out) *out = xmalloc((size_t)*B * (size_t)*T * sizeof(int));
        if ((int)a->count != *B || (int)row->count != *T)
            return error_set(err, STATUS_FORMAT, "every sequence has the same length T; targets has the shape of inputs",
                             "%s:%d:%d: %s[%zu] has %zu ids, expected %d x %d", path, row->line, row->col, key, b,
                             row->count, *B, *T);
        for (size_t t = 0; t < row->count; t++) {
            const JsonValue *v = &row->items[t];
            if (v->type != JSON_NUMBER || v->number != floor(v->number) || fabs(v->number) > 1e9)
                return error_set(err, STATUS_FORMAT, hint, "%s:%d:%d: %s[%zu][%zu] is not an integer",
                                 path, v->line, v->col, key, b, t);
            (*out)[b * (size_t)*T + t] = (int)v->number;
        }
    }
    return STATUS_OK;
}

/* every id must index the vocabulary (else the embedding / cross-entropy would read out of
   bounds), T must fit the RoPE table, and at least one target must count (a mean over 0) */
static Status check_ids(const TokenBatch *tb, const ModelConfig *c, const char *path, Error *err) {
    int counted = 0;
    if (tb->T > c->max_seq_len)
        return error_set(err, STATUS_INVALID, NULL, "%s: sequence length %d exceeds the model's max_seq_len %d",
                         path, tb->T, c->max_seq_len);
    for (int i = 0; i < tb->B * tb->T; i++) {
        int x = tb->inputs[i], y = tb->targets[i];
        if (x < 0 || x >= c->vocab_size)
            return error_set(err, STATUS_INVALID, NULL, "%s: inputs[%d][%d] = %d is outside the vocabulary 0..%d",
                             path, i / tb->T, i % tb->T, x, c->vocab_size - 1);
        if (y != IGNORE_INDEX && (y < 0 || y >= c->vocab_size))
            return error_set(err, STATUS_INVALID, NULL, "%s: targets[%d][%d] = %d is neither -100 nor in 0..%d",
                             path, i / tb->T, i % tb->T, y, c->vocab_size - 1);
        counted += y != IGNORE_INDEX;
    }
    if (!counted) return error_set(err, STATUS_INVALID, NULL, "%s: every target is -100: nothing to score", path);
    return STATUS_OK;
}

Status token_batch_load(const char *path, const ModelConfig *cfg, TokenBatch *tb, Error *err) {
    memset(tb, 0, sizeof *tb);
    JsonDoc doc;
    Status s = json_parse_file(&doc, path, err);
    if (s) return s;
    if (doc.root->type != JSON_OBJECT) s = error_set(err, STATUS_FORMAT, NULL, "%s: expected a JSON object", path);
    if (!s) s = read_matrix(doc.root, "inputs", path, &tb->B, &tb->T, &tb->inputs, err);
    if (!s) s = read_matrix(doc.root, "targets", path, &tb->B, &tb->T, &tb->targets, err);
    json_doc_free(&doc);
    if (!s) s = check_ids(tb, cfg, path, err);
    if (s) token_batch_free(tb);
    return s;
}

void token_batch_free(TokenBatch *tb) {
    free(tb->inputs);
    free(tb->targets);
    memset(tb, 0, sizeof *tb);
}

/* the adapter's tensors (LoRA, routers, gate2, ...): what the gradient norm and file cover */
static int is_lora(const Tensor *t) { return adapter_is_param_name(t->name); }

/* A cheap fingerprint of all B·T·V logits for comparison with torch_ref: the first few of row 0
   (exact values) and the sum, with the sum of |logits| as its scale (sums in double). */
static void summarise_logits(const Tensor *lg, int V, ForwardBackwardResult *r) {
    r->n_first8 = V < 8 ? V : 8;
    for (int j = 0; j < r->n_first8; j++) r->logits_pos0_first8[j] = (double)lg->data[j];
    double sum = 0, abs_sum = 0;
    for (size_t i = 0; i < lg->numel; i++) {
        sum += (double)lg->data[i];
        abs_sum += fabs((double)lg->data[i]);
    }
    r->logits_sum = sum;
    r->logits_abs_sum = abs_sum;
}

Status forward_backward_run(LlamaModel *m, const TokenBatch *tb, ForwardBackwardResult *r, Error *err) {
    memset(r, 0, sizeof *r);
    int N = tb->B * tb->T;
    Arena arena;
    arena_init(&arena, (size_t)1 << 24);
    Tape tape;
    tape_init(&tape, &arena);
    param_store_zero_grad(&m->ps);                       /* grads accumulate: start from 0 */
    if (m->moe) moe_stats_reset(&m->moe->stats);         /* statistics of this pass only */
    Tensor *hidden = llama_hidden(&tape, m, tb->inputs, tb->B, tb->T, NULL);
    Tensor *logits = llama_logits(&tape, m, hidden);                 /* [N, V]: every position */
    Tensor *loss = op_cross_entropy(&tape, logits, tb->targets, N);
    r->loss = r->ce = (double)loss->data[0];
    Tensor *aux = m->moe ? moe_aux_loss(&tape, m->moe) : NULL;     /* routers: + coef·Σ_layers aux */
    if (aux) {
        r->aux = (double)aux->data[0];
        loss = op_add_scaled(&tape, loss, aux, (real)m->acfg.aux_coef);
        r->loss = (double)loss->data[0];
    }
    Tensor *ent = m->moe ? moe_entropy_loss(&tape, m->moe) : NULL;  /* --entropy-coef: as llama_loss_padded */
    if (ent) {
        loss = op_add(&tape, loss, ent);
        r->loss = (double)loss->data[0];
    }
    summarise_logits(logits, m->cfg.vocab_size, r);
    r->n_tokens = N;
    for (int i = 0; i < N; i++) r->n_target_tokens += tb->targets[i] != IGNORE_INDEX;
    if (loss->grad) tape_backward(&tape, loss);   /* no grad: nothing is trainable */
    double ss = 0;
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (t->grad && is_lora(t))
            for (size_t j = 0; j < t->numel; j++) ss += (double)t->grad[j] * (double)t->grad[j];
    }
    r->grad_global_norm = sqrt(ss);
    tape_free(&tape);
    arena_free(&arena);
    if (!isfinite(r->loss))
        return error_set(err, STATUS_RUNTIME, "check the model weights", "the loss is not finite (%g)", r->loss);
    return STATUS_OK;
}

/* The gradients under the adapter file's keys, so torch_ref can compare them tensor by tensor
   (F64 keeps a double build's precision; "format": "pt" as PEFT files carry it). */
Status forward_backward_write_grads(const LlamaModel *m, const char *path, SafeDtype dtype, Error *err) {
    CHECK(dtype == SAFE_F32 || dtype == SAFE_F64, "gradients are written as F32 or F64");
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    char key[320];
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (t->grad && is_lora(t))
            safetensors_writer_add_real(&w, adapter_file_key(t->name, key, sizeof key), dtype, t->shape, t->ndim,
                                        t->grad);
    }
    safetensors_writer_set_metadata(&w, "format", "pt");
    Status s = safetensors_write(&w, path, err);
    safetensors_writer_free(&w);
    return s;
}
