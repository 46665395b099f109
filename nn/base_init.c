/* nn/base_init.c — random base weights, one tensor at a time (see base_init.h). */
#include "nn/base_init.h"
#include "nn/adapter_moe.h"
#include "nn/checkpoint.h"
#include "data/atomic_file.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int base_init_covers(const Tensor *t) {
    return !strstr(t->name, ".lora_") && !strstr(t->name, ".router.") && !strstr(t->name, ".gate2.");
}

void base_init_stream(const LlamaModel *m, const Tensor *t, double std, int fan_in, const Rng *at,
                      BaseInitStream *s) {
    size_t len = strlen(t->name);
    int is_bias = len > 5 && !strcmp(t->name + len - 5, ".bias");
    s->rng = *at;
    s->norm = t->ndim == 1 && !is_bias;
    s->sd = is_bias ? 0.5 : std;
    s->mul = fan_in && t->ndim == 2 && t != m->tok_emb ? (float)(1.0 / sqrt((double)t->shape[1])) : 1.0f;
}

/* value = (float)(1 + 0.1 z) or (float)(sd z), z = rng_normal, then × mul in float: the rounding
   steps of the original whole-model fill, so streamed and in-memory models agree bit for bit */
void base_init_next(BaseInitStream *s, float *out, size_t n) {
    for (size_t j = 0; j < n; j++) {
        double z = rng_normal(&s->rng);
        out[j] = (float)(s->norm ? 1.0 + 0.1 * z : s->sd * z);
        if (s->mul != 1.0f) out[j] *= s->mul;
    }
}

/* the whole-model fill: every covered tensor in declaration order, rounded once to its storage */
static void init_base(LlamaModel *m, uint64_t seed, double std, int fan_in) {
    Rng rng = rng_derive(seed, 2);
    float *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < m->ps.n; i++) {
        Tensor *t = m->ps.params[i];
        if (!base_init_covers(t)) continue;
        if (t->numel > cap) { free(buf); cap = t->numel; buf = xmalloc(cap * sizeof *buf); }
        BaseInitStream s;
        base_init_stream(m, t, std, fan_in, &rng, &s);
        base_init_next(&s, buf, t->numel);
        rng = s.rng;
        if (t->quant) quant_set_f32(t->quant, buf);
        else if (t->bf16) for (size_t j = 0; j < t->numel; j++) t->bf16[j] = f32_to_bf16(buf[j]);
        else for (size_t j = 0; j < t->numel; j++) t->data[j] = (real)buf[j];
    }
    free(buf);
}

void llama_init_base_random(LlamaModel *m, uint64_t seed, double std) { init_base(m, seed, std, 0); }

void llama_init_base_fan_in(LlamaModel *m, uint64_t seed) { init_base(m, seed, 1.0, 1); }

/* Generated values come in blocks of BLOCK, filled on every thread (each range starts from the
   block's stream skipped to its first value: the same numbers whatever the thread count) and
   handed to the writer 4096 at a time. */
enum { BLOCK = 1 << 20, RANGE = 1 << 14 };

typedef struct {
    float *buf;                         /* [BLOCK], shared by every tensor */
    const void *owner;                  /* the GenCtx whose values buf holds */
    size_t start, len;                  /* buf = owner's values [start, start + len) */
    const RandomWriteProgress *progress;
    double done, total, esize;          /* bytes */
} GenShared;

typedef struct {
    BaseInitStream s;                   /* at value `next_fill` */
    size_t next_fill, numel;
    GenShared *sh;
} GenCtx;

typedef struct { const BaseInitStream *at; float *out; } FillJob;

static void fill_range(void *ctx, long b, long e) {
    const FillJob *j = ctx;
    BaseInitStream s = *j->at;
    rng_skip(&s.rng, 2 * (uint64_t)b);
    base_init_next(&s, j->out + b, (size_t)(e - b));
}

static void gen_chunk(void *ctx, size_t i0, size_t n, float *out) {
    GenCtx *g = ctx;
    GenShared *sh = g->sh;
    if (sh->owner != g || i0 < sh->start || i0 + n > sh->start + sh->len) {
        CHECK(i0 == g->next_fill, "chunks out of order (%zu, expected %zu)", i0, g->next_fill);
        size_t len = g->numel - i0 < BLOCK ? g->numel - i0 : BLOCK;
        FillJob j = { &g->s, sh->buf };
        parallel_for_chunks((long)len, RANGE, fill_range, &j);
        rng_skip(&g->s.rng, 2 * (uint64_t)len);
        sh->owner = g, sh->start = i0, sh->len = len;
        g->next_fill += len;
    }
    memcpy(out, sh->buf + (i0 - sh->start), n * sizeof *out);
    sh->done += (double)n * sh->esize;
    if (sh->progress && sh->progress->fn) sh->progress->fn(sh->progress->ctx, sh->done, sh->total);
}

Status hf_write_random(const LlamaModel *m, uint64_t seed, const char *dir, SafeDtype dtype, int write_config,
                       const RandomWriteProgress *progress, Error *err) {
    CHECK(m->cfg.rope_half, "hf_write_random writes HF row layout (rope_half)");
    Status s = dirs_make(dir, err);
    if (s) return s;
    GenCtx *ctx = xcalloc((size_t)m->ps.n + 1, sizeof *ctx);
    GenShared sh = { .buf = xmalloc(BLOCK * sizeof(float)), .progress = progress,
                     .esize = (double)safetensors_dtype_size(dtype) };
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    Rng rng = rng_derive(seed, 2);
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (!base_init_covers(t)) continue;
        CHECK(!adapter_is_param_name(t->name), "%s: hf_write_random writes base models only", t->name);
        base_init_stream(m, t, 1.0, 1, &rng, &ctx[i].s);
        rng_skip(&rng, 2 * (uint64_t)t->numel);   /* rng_normal draws two rng_u64 */
        ctx[i].sh = &sh, ctx[i].numel = t->numel;
        sh.total += (double)t->numel * sh.esize;
        safetensors_writer_add_gen(&w, t->name, dtype, t->shape, t->ndim, gen_chunk, &ctx[i]);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    s = safetensors_write(&w, path, err);
    safetensors_writer_free(&w);
    free(ctx);
    free(sh.buf);
    if (!s && write_config) s = hf_write_config(&m->cfg, dir, dtype, err);
    return s;
}
