/* tensor/pack_cache.c — frozen weights packed once per run (pack_cache.h).
   defines: pack_cache_init, pack_get, pack_slot_release */
#include "tensor/pack_cache.h"
#include "tensor/gemm_kernels.h"
#include "tensor/check.h"
#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t pack_mu = PTHREAD_MUTEX_INITIALIZER;

void pack_cache_init(PackCache *c, size_t cap_bytes) {
    c->cap = cap_bytes;
    c->used = 0;
}

static void release_one(PackSlot *s, int tb) {
    free(s->pb[tb].data);
    s->cache->used -= s->bytes[tb];
    s->pb[tb] = (GemmPackedB){ NULL, 0, 0, 0 };
    s->bytes[tb] = 0;
}

void pack_slot_release(PackSlot *s) {
    if (!s) return;
    pthread_mutex_lock(&pack_mu);
    for (int tb = 0; tb < 2; tb++)
        if (s->pb[tb].data) release_one(s, tb);
    pthread_mutex_unlock(&pack_mu);
}

const GemmPackedB *pack_get(const Tensor *w, int trans_b) {
    PackSlot *s = w->pack;
    if (!s || !w->data || w->ndim != 2 || w->shape[0] <= 0 || w->shape[1] <= 0 || !gemm_takes_packed()) return NULL;
    int tb = trans_b ? 1 : 0, N = tb ? w->shape[0] : w->shape[1], K = tb ? w->shape[1] : w->shape[0];
    pthread_mutex_lock(&pack_mu);
    if (s->pb[tb].data && s->pb[tb].nr != gemm_active_nr()) release_one(s, tb);
    if (!s->pb[tb].data) {
        size_t bytes = (gemm_packed_b_reals(N, K) * sizeof(real) + 63) & ~(size_t)63;
        real *dst = s->cache->used + bytes <= s->cache->cap ? aligned_alloc(64, bytes) : NULL;
        if (dst) {
            s->pb[tb] = gemm_pack_b_once(tb, N, K, w->data, NULL, w->shape[1], dst);
            s->bytes[tb] = bytes;
            s->cache->used += bytes;
        }
    }
    const GemmPackedB *pb = s->pb[tb].data ? &s->pb[tb] : NULL;
    pthread_mutex_unlock(&pack_mu);
    return pb;
}
