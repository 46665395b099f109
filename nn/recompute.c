/* nn/recompute.c — activation recompute per decoder layer (see recompute.h for the scheme).
   With N = B·T rows, C = dim, per layer i:
     forward   x_{i+1} = layer_i(x_i), run once; kept: x_{i+1} [N, C] (values; gradient G),
               per router p [N, E] (values; gradient if p had one) and its counts [E]
     backward  y' = layer_i(x_i) again; dL/dy' = G (shared buffer, or copied then G = 0);
               dL/dp' = the kept p's gradient; then the layer's own entries in reverse. */
#include "nn/recompute.h"
#include "tensor/check.h"
#include <string.h>

typedef struct {
    Tape *t;
    const LlamaModel *m;
    int layer, B, T;
    Tensor *x, *y;                  /* the layer's input and a copy of its output (gradient G) */
    Rng rng;                        /* the dropout stream as the layer found it */
    int has_rng;
    MoeRecord rec[MOE_MODULES];     /* copies of the layer's router records (p, counts), or p NULL */
} Checkpoint;

/* E of the router that logs into (layer l, slot), 0 when none does */
static int slot_experts(const LlamaLayer *l, int slot) {
    if (l->ffn && slot == MOE_FFN_SLOT) return l->ffn->n_true + l->ffn->n_null;
    const LoraLinear *lin[MOE_MODULES] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
    const MoeLinear *x = lin[slot]->moe;
    return x ? x->n_true + x->n_null : 0;
}

/* before the layer runs (so that the rewind keeps them): p [N, E] with a zero gradient and a
   Routing holding counts [E] only, per router of the layer */
static void keep_alloc(Arena *a, const LlamaLayer *l, int N, MoeRecord *rec, int with_grad) {
    for (int j = 0; j < MOE_MODULES; j++) {
        int E = slot_experts(l, j);
        rec[j] = (MoeRecord){ 0 };
        if (!E) continue;
        rec[j].p = tensor_2d(a, N, E, with_grad);
        Routing *r = arena_alloc_zero(a, sizeof *r);
        r->count = arena_alloc(a, (size_t)E * sizeof(int));
        rec[j].r = r;
    }
}

/* the live records of the layer into the kept copies, and the log pointed at the copies (what
   moe_aux_loss / moe_entropy_loss read: p, and the counts and rows of the selection) */
static void keep_copy(MoeState *st, int layer, MoeRecord *kept) {
    for (int j = 0; j < MOE_MODULES; j++) {
        MoeRecord *live = st ? &st->log[layer * MOE_MODULES + j] : NULL;
        int has = live && live->p;
        CHECK(has == (kept[j].p != NULL) && (!has || live->p->numel == kept[j].p->numel),
              "recompute: layer %d slot %d routed unlike the model's declaration", layer, j);
        if (!has) continue;
        memcpy(kept[j].p->data, live->p->data, live->p->numel * sizeof(real));
        if (!live->p->grad) kept[j].p->grad = NULL;
        Routing *r = (Routing *)kept[j].r;
        const Routing *lr = live->r;
        r->N = lr->N, r->E = lr->E, r->n_true = lr->n_true, r->k = lr->k, r->n_rows = lr->n_rows, r->mask = lr->mask;
        memcpy(r->count, lr->count, (size_t)lr->E * sizeof(int));
        *live = kept[j];
    }
}

/* the replayed routing equals the kept one; the kept p's gradient (from the aux / entropy
   losses, already back-propagated) becomes the replayed p's; the log returns to the copies
   after the layer's backward (restore = 1) */
static void routers_seed(MoeState *st, const Checkpoint *c, int restore) {
    for (int j = 0; j < MOE_MODULES; j++) {
        const MoeRecord *k = &c->rec[j];
        if (!k->p) continue;
        MoeRecord *live = &st->log[c->layer * MOE_MODULES + j];
        if (restore) { *live = *k; continue; }
        CHECK(live->p && live->p != k->p && live->r->n_rows == k->r->n_rows &&
              !memcmp(live->r->count, k->r->count, (size_t)k->r->E * sizeof(int)) &&
              !memcmp(live->p->data, k->p->data, k->p->numel * sizeof(real)),
              "recompute: layer %d slot %d routed differently when replayed", c->layer, j);
        if (k->p->grad) {
            CHECK(live->p->grad != NULL, "recompute: layer %d slot %d lost its router gradient", c->layer, j);
            tensor_grad_claim(live->p);   /* written whole by the copy (autograd/tape.h) */
            memcpy(live->p->grad, k->p->grad, k->p->numel * sizeof(real));
        }
    }
}

/* statistics, calibration and timing see the first forward only */
typedef struct {
    int stats_on;
    void (*observe)(void *ctx, int layer, int module, const Tensor *z, const Routing *r);
    double (*clock)(void);
} Quiet;

static Quiet quiet_begin(MoeState *st) {
    Quiet q = { 0 };
    if (!st) return q;
    q = (Quiet){ st->stats_on, st->observe, st->expert_clock };
    st->stats_on = 0, st->observe = NULL, st->expert_clock = NULL;
    return q;
}

static void quiet_end(MoeState *st, Quiet q) {
    if (st) st->stats_on = q.stats_on, st->observe = q.observe, st->expert_clock = q.clock;
}

/* The hook of one layer (recompute.h, backward). e->saved is read first: the replay records
   entries and may move the tape's entry array. */
static void layer_backward(const TapeEntry *e) {
    const Checkpoint *c = e->saved;
    Tape *t = c->t;
    MoeState *st = c->m->moe;
    ArenaMark mark = arena_mark(t->arena);
    int n0 = t->n;
    Rng rng = c->rng;
    Quiet q = quiet_begin(st);
    Tensor *y = llama_layer_forward(t, c->m, c->layer, c->x, c->B, c->T, c->has_rng ? &rng : NULL);
    quiet_end(st, q);
    size_t bytes = c->y->numel * sizeof(real);
    CHECK(y->numel == c->y->numel && !memcmp(y->data, c->y->data, bytes) && !y->grad == !c->y->grad,
          "recompute: layer %d replayed to other values (a non-deterministic op?)", c->layer);
    if (y->grad && y->grad != c->y->grad) {   /* its own buffer: dL/dy into it, G restarts for dL/dx */
        tensor_grad_claim(y);                 /* written whole by the copy */
        memcpy(y->grad, c->y->grad, bytes);
        memset(c->y->grad, 0, bytes);
    }
    routers_seed(st, c, 0);
    tape_backward_range(t, n0, t->n);
    routers_seed(st, c, 1);
    t->n = n0;
    arena_rewind(t->arena, mark);
}

/* Forward of layer i with the copies and the hook (recompute.h steps 1-3); returns the kept
   output, whose gradient buffer is G when the layer's output has one. */
static Tensor *checkpoint_layer(Tape *t, const LlamaModel *m, int i, Tensor *x, int B, int T, Rng *drop_rng,
                                real *G) {
    Checkpoint *c = arena_alloc_zero(t->arena, sizeof *c);
    *c = (Checkpoint){ .t = t, .m = m, .layer = i, .B = B, .T = T, .x = x };
    if (drop_rng) c->rng = *drop_rng, c->has_rng = 1;
    c->y = tensor_new(t->arena, x->ndim, x->shape, 0);
    c->y->name = "decoder_layer";
    keep_alloc(t->arena, &m->layers[i], (int)tensor_rows(x), c->rec, 1);
    ArenaMark mark = arena_mark(t->arena);
    int n0 = t->n;
    Tensor *y = llama_layer_forward(t, m, i, x, B, T, drop_rng);
    CHECK(tensor_same_shape(y, x), "recompute: layer %d changed the stream's shape", i);
    memcpy(c->y->data, y->data, y->numel * sizeof(real));
    c->y->grad = y->grad ? G : NULL;
    keep_copy(m->moe, i, c->rec);
    int recorded = t->n > n0;
    t->n = n0;
    arena_rewind(t->arena, mark);
    if (recorded) {
        TapeEntry *e = tape_record_hook(t, "decoder_layer (recomputed)", layer_backward, c->y, c);
        e->in[0] = m->layers[i].attn_norm;   /* names the layer in reports (trainer: non-finite) */
        e->n_in = 1;
    }
    return c->y;
}

Tensor *llama_layers_recompute(Tape *t, const LlamaModel *m, Tensor *x, int B, int T, Rng *drop_rng) {
    CHECK(!t->no_grad, "recompute: only a recording forward keeps anything to recompute");
    CHECK(!m->acfg.pregate, "recompute: pre-gating routes each layer on the previous layer's module inputs, "
                            "which recompute does not keep");
    size_t bytes = x->numel * sizeof(real);
    real *G = x->grad ? tensor_grad_ready(x) : arena_alloc_zero(t->arena, bytes);
    for (int i = 0; i < m->cfg.n_layers; i++) x = checkpoint_layer(t, m, i, x, B, T, drop_rng, G);
    return x;
}

/* No gradient, so nothing is read after a layer but its output and, with routers, the p and
   counts of its records (the aux / entropy losses, after the stack): two [N, C] buffers taken in
   turn, the records' copies made before the layer, the arena rewound after every layer
   (recompute.h). */
Tensor *llama_layers_no_grad(Tape *t, const LlamaModel *m, Tensor *x, int B, int T, Rng *drop_rng) {
    CHECK(t->no_grad && (!m->moe || (!m->moe->keep_log && !m->acfg.pregate)),
          "llama_layers_no_grad: for a no-grad forward whose router log need not stay whole");
    Tensor *buf[2] = { tensor_new(t->arena, x->ndim, x->shape, 0), tensor_new(t->arena, x->ndim, x->shape, 0) };
    for (int i = 0; i < m->cfg.n_layers; i++) {
        MoeRecord rec[MOE_MODULES];
        if (m->moe) keep_alloc(t->arena, &m->layers[i], (int)tensor_rows(x), rec, 0);
        ArenaMark mark = arena_mark(t->arena);
        Tensor *y = llama_layer_forward(t, m, i, x, B, T, drop_rng);
        memcpy(buf[i % 2]->data, y->data, y->numel * sizeof(real));
        if (m->moe) keep_copy(m->moe, i, rec);
        arena_rewind(t->arena, mark);
        x = buf[i % 2];
    }
    return x;
}
