/* tensor/pack_cache.h — frozen weights packed once per run for the GEMM.
   defines: PackCache, PackSlot, pack_cache_init, pack_get, pack_slot_release
   A frozen f32 weight W [out, in] meets fresh activations at every step: as op(B) = Wᵀ in the
   forward (x·Wᵀ) and as op(B) = W in the backward (dX = dY·W), and gemm packs op(B) into NR-wide
   panels each time (~5 % of a stories15M-shaped LoRA step at 1 thread). A PackSlot on such a
   tensor (t->pack, given by its ParamStore: param_store_enable_packs) keeps each orientation
   packed (gemm_pack_b_once) from the first product that asks for it, while the PackCache shared
   by the store's slots has room (cap, bytes); the GEMM then reads the kept panels
   (GemmB.packed), the very same product bit for bit. A pack made for another micro-kernel level
   (gemm_force_level) is made again; a level that cannot take a kept pack with every product
   (gemm_takes_packed: not AVX-512) packs nothing. The weight must not change while packed: code that writes
   a frozen weight releases its slot first (pack_slot_release). Thread-safe (a mutex). */
#ifndef PACK_CACHE_H
#define PACK_CACHE_H
#include <stddef.h>
#include "tensor/gemm.h"
#include "tensor/tensor.h"

typedef struct PackCache { size_t cap, used; } PackCache;     /* bytes allowed / held by its slots */
typedef struct PackSlot { PackCache *cache; GemmPackedB pb[2]; size_t bytes[2]; } PackSlot;

void pack_cache_init(PackCache *c, size_t cap_bytes);
/* op(B) of w for gemm_plus's trans_b (1: Wᵀ, 0: W), packed now if it is not yet and the cache
   has room; NULL when w has no slot, is not f32, or does not fit */
const GemmPackedB *pack_get(const Tensor *w, int trans_b);
void pack_slot_release(PackSlot *s);   /* frees both packs (their bytes return to the cache) */

#endif
