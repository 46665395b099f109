/* nn/param_store.h — every parameter of a model: declare -> allocate -> bind.
   defines: ParamRole, ParamStore, BASE_DTYPE_*, param_store_set_base_dtype, param_store_init, param_declare, param_store_allocate,
            param_store_try_allocate, param_store_bytes, param_find, param_store_zero_grad, param_store_free, param_store_count,
            param_store_base_name, param_store_map_view, param_store_adopt_map,
            param_store_enable_packs, param_store_disable_packs
   Modules declare named views (name, role, shape); param_store_allocate() then lays them out in
   ONE block per role and points every view into it:
     frozen    : data only, no grad (the base checkpoint); with `frozen_bf16` set, matrices
                 (ndim >= 2) are stored as bf16 in a separate block, halving memory
     trainable : one data block + one grad block with the same flat layout, so zeroing the
                 grads is one memset and the optimizer is one loop over `train_numel` values
   With `frozen_quant` set (QUANT_NF4 / QUANT_INT8, param_store_set_base_dtype), the frozen linear
     weights of the decoder layers ("model.layers.*.weight", matrices; the Mixtral router gate
     excepted) are stored as NF4 / int8 codes + scales (tensor/quant.h) in a byte block of their
     own, and the other frozen matrices (embedding, LM head, router) as bf16. `expert_store` may
     give Mixtral expert weights (".experts.") another storage (--expert-dtype).
   Offsets are rounded up to 16 values (64 bytes of float, 32 of bf16; the blocks themselves are
   64-byte aligned), so every view starts vector-aligned.
   Memory-mapped views: a frozen bf16 matrix whose checkpoint tensor is already BF16 can point
   straight into the file's mapping instead of into `frozen16` (param_store_map_view before
   allocate: no block space; the loader sets t->bf16 after allocate and hands the mapping over
   with param_store_adopt_map, unmapped by param_store_free). The pages are the page cache's:
   loading reads nothing, the kernel can drop them under memory pressure (they are clean), and
   processes on one host share them. Their bytes still count in param_store_bytes (they are
   resident once a step has touched them).
   Names are the dotted names used in checkpoints and logs ("model.layers.3.self_attn.q_proj.weight"). */
#ifndef PARAM_STORE_H
#define PARAM_STORE_H
#include "tensor/tensor.h"
#include "tensor/status.h"

typedef enum { PARAM_FROZEN, PARAM_TRAINABLE } ParamRole;

typedef struct {
    Tensor  **params;           /* declared views, in declaration order */
    ParamRole *roles;
    size_t   *offsets;          /* offset in its block (values) */
    int       n, cap;
    int       frozen_bf16;      /* set before allocate: store frozen matrices as bf16 */
    int       frozen_quant;     /* set before allocate: 0, QUANT_NF4 or QUANT_INT8 (see above) */
    int       frozen_dq;        /* NF4 with double-quantised scales */
    int       expert_store;     /* BASE_DTYPE_* of Mixtral expert weights, -1: as the others */
    int       allocated;
    unsigned char *mapped;      /* [n]: 1 = bf16 view into a file mapping (param_store_map_view) */
    struct ParamMap { void *addr; size_t len; } *maps;   /* adopted mappings, unmapped at free */
    int       n_maps;
    size_t    mapped_numel;     /* values of the mapped views */
    real     *frozen;           /* block of frozen real values (norms, and matrices unless bf16) */
    uint16_t *frozen16;         /* block of frozen bf16 matrices (frozen_bf16 only) */
    unsigned char *frozen_q;    /* block of NF4 / int8 codes and scales */
    struct QuantMat *quant;     /* [n]: the quantised views (t->quant points here) */
    real     *train, *train_grad;
    size_t    frozen_numel, frozen16_numel, train_numel, frozen_q_bytes;
    struct PackCache *pack_cache;   /* param_store_enable_packs: the budget of the slots below */
    struct PackSlot *pack_slots;    /* [n]: slot i is params[i]'s when that one can be packed */
} ParamStore;

/* Storage of the frozen base, a code of the loaders' `frozen_bf16` argument (nn/checkpoint.h):
   BASE_DTYPE_F32 0, BF16 1, NF4 2 (double-quantised scales, QLoRA's recipe), NF4_NODQ 3 (f32
   scales), INT8 4; plus BASE_DTYPE_EXPERTS(x) for the Mixtral experts' own. */
#define BASE_DTYPE_F32 0
#define BASE_DTYPE_BF16 1
#define BASE_DTYPE_NF4 2
#define BASE_DTYPE_NF4_NODQ 3
#define BASE_DTYPE_INT8 4
#define BASE_DTYPE_EXPERTS(x) (16 * ((x) + 1))
void    param_store_set_base_dtype(ParamStore *ps, int code);

void    param_store_init(ParamStore *ps);
/* Declares a view; the name is copied. Aborts (CHECK) on a duplicate name or after allocate. */
Tensor *param_declare(ParamStore *ps, const char *name, ParamRole role, int ndim, const int *shape);
/* Allocates the blocks (zero-filled) and binds every declared view; aborts when out of memory. */
void    param_store_allocate(ParamStore *ps);
/* The same, but a failed allocation is STATUS_RUNTIME with the sizes and what to change. */
Status  param_store_try_allocate(ParamStore *ps, Error *err);
/* Before allocate: view t (frozen, stored as bf16) will point into a file mapping; 0 if t is not
   stored as bf16 (then it keeps its block space). */
int     param_store_map_view(ParamStore *ps, Tensor *t);
/* After allocate: the store owns [addr, addr + len) (a mmap) and munmaps it in param_store_free. */
void    param_store_adopt_map(ParamStore *ps, void *addr, size_t len);
/* bytes the blocks take (values, bf16 storage, trainable gradients); valid before allocating */
size_t  param_store_bytes(const ParamStore *ps);
Tensor *param_find(const ParamStore *ps, const char *name);          /* NULL if absent */
ParamRole param_role(const ParamStore *ps, const Tensor *t);
void    param_store_zero_grad(ParamStore *ps);
size_t  param_store_count(const ParamStore *ps, ParamRole role);      /* values, without padding */
void    param_store_free(ParamStore *ps);
/* Gives every frozen f32 matrix a PackSlot (tensor/pack_cache.h): its GEMM panels are then kept
   from the first product that uses them, up to cap_bytes for the whole store (what that takes:
   memory_pack_bytes, nn/model_memory.h); again with another cap: the packs made so far are
   dropped first.
   cap 0 or param_store_disable_packs: none (the slots go, and with them every pack). */
void    param_store_enable_packs(ParamStore *ps, size_t cap_bytes);
void    param_store_disable_packs(ParamStore *ps);
/* the frozen base's storage for messages: "f32" (f64 in the double build), "bf16", "nf4", "nf4-nodq", "int8" */
const char *param_store_base_name(const ParamStore *ps);

#endif
