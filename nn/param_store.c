/* nn/param_store.c — flat parameter blocks with named views (see param_store.h).
   Why flat blocks: a module owns names and views, never memory. With every trainable value in
   one block `train` and its gradient in `train_grad` at the same offsets, zeroing all gradients
   is one memset, AdamW is one loop over train_numel values (its moment buffers mirror the same
   layout), the gradient norm for clipping is one pass, and no per-tensor malloc happens during
   training. llm.c and KANN (after kad_ext_collate) arrive at the same design (STYLE.md §4,
   point 3).
   Why declare -> allocate -> bind in two phases: the block sizes are known before anything is
   allocated, so a block never has to grow (and move under views already handed out). A
   parameter declared before allocate has data == grad == NULL until param_store_allocate binds
   it; the Tensor structs themselves (and their names) are owned by the store.
   Frozen values get no gradient block at all (grad stays NULL: "no gradient flows here", the
   tape's signal); frozen matrices may be stored as bf16 (t->bf16 set, t->data NULL) to halve
   the memory of a large base model, or the layers' linear weights as NF4 / int8 (t->quant set:
   QLoRA's frozen base, tensor/quant.h), about 1/7 or 1/4 of f32. */
#include "nn/param_store.h"
#include "tensor/check.h"
#include "tensor/pack_cache.h"
#include "tensor/quant.h"
#include "tensor/threads.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PARAM_ALIGN 16   /* values: 64 bytes of float (one cache line, an AVX-512 vector),
                            128 of double, 32 of bf16 */

void param_store_init(ParamStore *ps) {
    memset(ps, 0, sizeof *ps);
    ps->expert_store = -1;
}

/* a linear search by name: for loading and wiring, not for inner loops */
Tensor *param_find(const ParamStore *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->params[i]->name, name)) return ps->params[i];
    return NULL;
}

/* Records the view (shape, a copy of the name, the role); memory comes at allocate. The arrays
   grow by doubling. Duplicates, a late declaration and bad shapes are programming errors. */
Tensor *param_declare(ParamStore *ps, const char *name, ParamRole role, int ndim, const int *shape) {
    CHECK(!ps->allocated, "param_declare(%s) after param_store_allocate", name);
    CHECK(param_find(ps, name) == NULL, "parameter %s declared twice", name);
    CHECK(ndim >= 1 && ndim <= TENSOR_MAX_DIMS, "parameter %s: ndim %d", name, ndim);
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 64;
        ps->params = xrealloc(ps->params, (size_t)ps->cap * sizeof *ps->params);
        ps->roles = xrealloc(ps->roles, (size_t)ps->cap * sizeof *ps->roles);
        ps->offsets = xrealloc(ps->offsets, (size_t)ps->cap * sizeof *ps->offsets);
        ps->mapped = xrealloc(ps->mapped, (size_t)ps->cap * sizeof *ps->mapped);
    }
    ps->mapped[ps->n] = 0;
    Tensor *t = xcalloc(1, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        CHECK(shape[i] > 0, "parameter %s: dimension %d is %d", name, i, shape[i]);
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    size_t len = strlen(name) + 1;
    char *copy = xmalloc(len);
    memcpy(copy, name, len);
    t->name = copy;
    ps->params[ps->n] = t;
    ps->roles[ps->n] = role;
    ps->n++;
    return t;
}

/* zero-filled, 64-byte aligned (calloc only guarantees 16); NULL when the memory is not there */
static void *block_alloc(size_t count, size_t size) {
    size_t bytes = (count ? count : 1) * size;
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* n rounded up to a multiple of PARAM_ALIGN values: each view starts aligned */
static size_t round_up(size_t n) { return (n + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN; }

/* BASE_DTYPE code -> bf16 flag, quant kind (0 = none), double-quantised scales */
static void decode_dtype(int code, int *bf16, int *q, int *dq) {
    *bf16 = code == BASE_DTYPE_BF16;
    *q = code == BASE_DTYPE_NF4 || code == BASE_DTYPE_NF4_NODQ ? QUANT_NF4 : code == BASE_DTYPE_INT8 ? QUANT_INT8 : 0;
    *dq = code == BASE_DTYPE_NF4;
}

/* With a quantised base, the frozen matrices that are not quantised (embedding, LM head, router)
   are bf16: QLoRA keeps them in 16 bits too. */
void param_store_set_base_dtype(ParamStore *ps, int code) {
    int bf16, q, dq;
    decode_dtype(code < 0 ? 0 : code % 16, &bf16, &q, &dq);
    ps->frozen_bf16 = bf16 || q;
    ps->frozen_quant = q;
    ps->frozen_dq = dq;
    ps->expert_store = code >= 16 ? code / 16 - 1 : -1;
}

/* a frozen linear weight of a decoder layer (the Mixtral router gate excepted): what QLoRA quantises */
static int is_layer_linear(const ParamStore *ps, int i) {
    const char *name = ps->params[i]->name;
    size_t len = strlen(name);
    return ps->roles[i] == PARAM_FROZEN && ps->params[i]->ndim == 2 && !strncmp(name, "model.layers.", 13) &&
           len > 7 && !strcmp(name + len - 7, ".weight") && !strstr(name, ".block_sparse_moe.gate.");
}

static int is_expert(const ParamStore *ps, int i) {
    return ps->expert_store >= 0 && is_layer_linear(ps, i) && strstr(ps->params[i]->name, ".experts.") != NULL;
}

/* the quant kind of view i (0: not quantised) and whether its scales are double-quantised */
static int quant_kind(const ParamStore *ps, int i, int *dq) {
    int bf16, q;
    *dq = 0;
    if (is_expert(ps, i)) {
        decode_dtype(ps->expert_store, &bf16, &q, dq);
        return q;
    }
    *dq = ps->frozen_dq;
    return is_layer_linear(ps, i) ? ps->frozen_quant : 0;
}

/* frozen_bf16 applies to frozen matrices only: norms and vectors stay in real precision */
static int stored_as_bf16(const ParamStore *ps, int i) {
    int dq;
    if (ps->roles[i] != PARAM_FROZEN || ps->params[i]->ndim < 2 || quant_kind(ps, i, &dq)) return 0;
    return is_expert(ps, i) ? ps->expert_store == BASE_DTYPE_BF16 : ps->frozen_bf16;
}

/* Block sizes in elements (frozen real, frozen bf16, trainable): one cursor per block, in
   declaration order, each view padded to PARAM_ALIGN; with set_offsets each view's offset in its
   block is recorded (pass 1 of the allocation). Pass 2 (param_store_try_allocate) allocates the
   blocks (even empty ones), zeroed, and points each view at its offset. Padding values stay
   0 forever (no view covers them), so loops over a whole block (zero_grad, the optimizer) may
   include them harmlessly. Quantised views take quant_bytes() (a multiple of 64) of the byte
   block frozen_q (*nq bytes). */
static void block_sizes(const ParamStore *ps, size_t *nf, size_t *n16, size_t *nt, size_t *nq, int set_offsets) {
    *nf = *n16 = *nt = *nq = 0;
    for (int i = 0; i < ps->n; i++) {
        int dq, q = quant_kind(ps, i, &dq);
        if (q) {
            if (set_offsets) ps->offsets[i] = *nq;
            *nq += quant_bytes((QuantKind)q, dq, ps->params[i]->shape[0], ps->params[i]->shape[1]);
            continue;
        }
        if (ps->mapped[i]) continue;   /* no block space: points into a file mapping */
        size_t *cursor = stored_as_bf16(ps, i) ? n16 : ps->roles[i] == PARAM_FROZEN ? nf : nt;
        if (set_offsets) ps->offsets[i] = *cursor;
        *cursor += round_up(ps->params[i]->numel);
    }
}

size_t param_store_bytes(const ParamStore *ps) {
    size_t nf, n16, nt, nq;
    block_sizes(ps, &nf, &n16, &nt, &nq, 0);
    return nf * sizeof(real) + (n16 + ps->mapped_numel) * sizeof(uint16_t) + 2 * nt * sizeof(real) + nq;
}

int param_store_map_view(ParamStore *ps, Tensor *t) {
    CHECK(!ps->allocated, "param_store_map_view(%s) after allocate", t->name);
    for (int i = 0; i < ps->n; i++) {
        if (ps->params[i] != t) continue;
        if (!stored_as_bf16(ps, i)) return 0;
        if (!ps->mapped[i]) ps->mapped_numel += t->numel;
        ps->mapped[i] = 1;
        return 1;
    }
    CHECK(0, "tensor %s is not in this ParamStore", t->name ? t->name : "?");
}

void param_store_adopt_map(ParamStore *ps, void *addr, size_t len) {
    ps->maps = xrealloc(ps->maps, (size_t)(ps->n_maps + 1) * sizeof *ps->maps);
    ps->maps[ps->n_maps].addr = addr;
    ps->maps[ps->n_maps++].len = len;
}

/* every view pointed into its block (quantised ones described by ps->quant[i]) */
static void bind_views(ParamStore *ps) {
    for (int i = 0; i < ps->n; i++) {
        Tensor *t = ps->params[i];
        int dq, q = quant_kind(ps, i, &dq);
        if (q) {
            quant_bind(&ps->quant[i], (QuantKind)q, dq, t->shape[0], t->shape[1], ps->frozen_q + ps->offsets[i]);
            t->quant = &ps->quant[i];
        } else if (ps->mapped[i]) t->bf16 = NULL;   /* set by the loader */
        else if (stored_as_bf16(ps, i)) t->bf16 = ps->frozen16 + ps->offsets[i];
        else if (ps->roles[i] == PARAM_FROZEN) t->data = ps->frozen + ps->offsets[i];
        else {
            t->data = ps->train + ps->offsets[i];
            t->grad = ps->train_grad + ps->offsets[i];
        }
    }
}

Status param_store_try_allocate(ParamStore *ps, Error *err) {
    CHECK(!ps->allocated, "param_store_allocate called twice");
    size_t nf, n16, nt, nq;
    block_sizes(ps, &nf, &n16, &nt, &nq, 1);
    ps->frozen_numel = nf;
    ps->frozen16_numel = n16;
    ps->train_numel = nt;
    ps->frozen_q_bytes = nq;
    ps->frozen = block_alloc(nf, sizeof(real));
    ps->frozen16 = block_alloc(n16, sizeof(uint16_t));
    ps->frozen_q = block_alloc(nq, 1);
    ps->train = block_alloc(nt, sizeof(real));
    ps->train_grad = block_alloc(nt, sizeof(real));
    if (!ps->frozen || !ps->frozen16 || !ps->frozen_q || !ps->train || !ps->train_grad) {
        free(ps->frozen); free(ps->frozen16); free(ps->frozen_q); free(ps->train); free(ps->train_grad);
        ps->frozen = ps->train = ps->train_grad = NULL;
        ps->frozen16 = NULL;
        ps->frozen_q = NULL;
        return error_set(err, STATUS_RUNTIME,
                         "free memory, store the frozen base as bf16 / nf4 / int8 (--base-dtype), or use a smaller model",
                         "out of memory: the parameters need %.2f GB (%.2f GB frozen%s, %.2f GB trainable + gradients)",
                         (double)param_store_bytes(ps) / 1e9, (double)(nf * sizeof(real) + n16 * 2 + nq) / 1e9,
                         nq ? " incl. quantised" : n16 ? " incl. bf16" : "", (double)(2 * nt * sizeof(real)) / 1e9);
    }
    ps->quant = xcalloc((size_t)(ps->n ? ps->n : 1), sizeof *ps->quant);
    bind_views(ps);
    ps->allocated = 1;
    return STATUS_OK;
}

void param_store_allocate(ParamStore *ps) {
    Error err;
    Status s = param_store_try_allocate(ps, &err);
    CHECK(s == STATUS_OK, "%s", err.message);
}

/* by identity (the pointer), not by name; a foreign tensor is a programming error */
ParamRole param_role(const ParamStore *ps, const Tensor *t) {
    for (int i = 0; i < ps->n; i++)
        if (ps->params[i] == t) return ps->roles[i];
    CHECK(0, "tensor %s is not in this ParamStore", t->name ? t->name : "?");
}

void param_store_zero_grad(ParamStore *ps) {
    if (ps->train_grad) parallel_memzero(ps->train_grad, (ps->train_numel ? ps->train_numel : 1) * sizeof(real));
}

/* the parameter count of a role (bf16-stored frozen matrices included), padding excluded */
size_t param_store_count(const ParamStore *ps, ParamRole role) {
    size_t n = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->roles[i] == role) n += ps->params[i]->numel;
    return n;
}

/* ---- GEMM panels of frozen f32 matrices kept for the run (tensor/pack_cache.h) ---- */

static int packable(const ParamStore *ps, int i) {
    const Tensor *t = ps->params[i];
    return ps->roles[i] == PARAM_FROZEN && t->ndim == 2 && t->data && !t->bf16 && !t->quant;
}

void param_store_disable_packs(ParamStore *ps) {
    for (int i = 0; ps->pack_slots && i < ps->n; i++) {
        pack_slot_release(&ps->pack_slots[i]);
        if (ps->params[i]->pack == &ps->pack_slots[i]) ps->params[i]->pack = NULL;
    }
    free(ps->pack_slots);
    free(ps->pack_cache);
    ps->pack_slots = NULL;
    ps->pack_cache = NULL;
}

void param_store_enable_packs(ParamStore *ps, size_t cap_bytes) {
    param_store_disable_packs(ps);
    if (cap_bytes == 0 || ps->n == 0) return;
    ps->pack_cache = xcalloc(1, sizeof *ps->pack_cache);
    pack_cache_init(ps->pack_cache, cap_bytes);
    ps->pack_slots = xcalloc((size_t)ps->n, sizeof *ps->pack_slots);
    for (int i = 0; i < ps->n; i++)
        if (packable(ps, i)) {
            ps->pack_slots[i].cache = ps->pack_cache;
            ps->params[i]->pack = &ps->pack_slots[i];
        }
}

/* frees the blocks, every view and its name; the store is left empty and reusable */
void param_store_free(ParamStore *ps) {
    param_store_disable_packs(ps);
    for (int i = 0; i < ps->n; i++) {
        free((char *)ps->params[i]->name);
        free(ps->params[i]);
    }
    free(ps->params);
    free(ps->roles);
    free(ps->offsets);
    free(ps->mapped);
    for (int i = 0; i < ps->n_maps; i++) munmap(ps->maps[i].addr, ps->maps[i].len);
    free(ps->maps);
    free(ps->frozen);
    free(ps->frozen16);
    free(ps->frozen_q);
    for (int i = 0; ps->quant && i < ps->n; i++) free(ps->quant[i].pending);
    free(ps->quant);
    free(ps->train);
    free(ps->train_grad);
    param_store_init(ps);
}

const char *param_store_base_name(const ParamStore *ps) {
    if (ps->frozen_quant == QUANT_NF4) return ps->frozen_dq ? "nf4" : "nf4-nodq";
    if (ps->frozen_quant == QUANT_INT8) return "int8";
    return ps->frozen_bf16 ? "bf16" : sizeof(real) == 8 ? "f64" : "f32";
}
