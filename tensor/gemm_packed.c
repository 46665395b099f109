/* tensor/gemm_packed.c — op(B) packed once for many products (gemm_pack_b_once, gemm.h).
   defines: gemm_packed_b_reals, gemm_pack_b_once
   The layout is the one gemm_block packs per call (gemm_pack.c): panel p holds op(B)'s
   columns [p·NR, p·NR + NR) as K rows of NR values (k-major, the tail panel zero-padded), here
   for all of K at once, panel p at p·NR·K; a K slice [pc, pc + kc) of panel p is then the
   contiguous run at p·NR·K + pc·NR, exactly what the micro-kernel reads from a fresh pack.
   Threads pack disjoint NR-aligned column ranges (a pure copy: no arithmetic). */
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/threads.h"
#include "tensor/check.h"
#include <stdint.h>

size_t gemm_packed_b_reals(int N, int K) {
    int NR = gemm_active_nr();
    return (size_t)((N > 0 ? N : 1) + NR - 1) / NR * NR * (size_t)(K > 0 ? K : 1);
}

typedef struct { const GemmPackedB *pb; const real *B; const uint16_t *B16; size_t sb_n, sb_k; } PackJob;

static void pack_task(void *ctx, long begin, long end) {     /* columns [begin, end), begin NR-aligned */
    const PackJob *p = ctx;
    size_t ps = (size_t)p->pb->nr * p->pb->K, off = (size_t)begin * p->sb_n;
    gemm_pack(p->pb->data + (size_t)(begin / p->pb->nr) * ps, p->pb->nr, p->B16 ? NULL : p->B + off,
              p->B16 ? p->B16 + off : NULL, p->sb_n, p->sb_k, (int)(end - begin), p->pb->K, ps);
}

GemmPackedB gemm_pack_b_once(int trans_b, int N, int K, const real *B, const uint16_t *B16, int ldb, real *dst) {
    CHECK(N >= 0 && K > 0 && ldb >= (trans_b ? K : N) && (B != NULL) != (B16 != NULL) && dst != NULL &&
          (uintptr_t)dst % 64 == 0, "gemm_pack_b_once: need exactly one of B / B16, a 64-byte aligned "
          "destination, K > 0 and ldb >= %d (N=%d K=%d ldb=%d)", trans_b ? K : N, N, K, ldb);
    GemmPackedB pb = { dst, N, K, gemm_active_nr() };
    PackJob p = { &pb, B, B16, trans_b ? (size_t)ldb : 1, trans_b ? 1 : (size_t)ldb };
    parallel_for_chunks(N, pb.nr, pack_task, &p);
    return pb;
}
