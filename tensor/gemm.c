/* tensor/gemm.c — the tiled, packed, multi-threaded GEMM (API in gemm.h).
   defines: gemm, gemm_bf16, gemm_quant, gemm_plus, gemm_packed, gemm_rowmax (the level's choice:
            gemm_level.c)
   BLIS-style blocking (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating
   BLAS Functionality", 2015): for each NC-wide column block of C and each KC-deep slice of K,
   pack op(B) into NR-wide panels; for each MC-high row block, pack op(A) into MR-high panels and
   sweep the register-tiled micro-kernel (gemm_kernels.h) over the MR x NR tiles.
   Micro-kernel level: AVX-512 (8x48) > AVX2+FMA (6x16) > scalar (4x8) (gemm_level.c).
   Levels with a segmented kernel (AVX-512) read full MR-row panels of A in place instead of
   packing them (the same FMAs, no bit changes): A's MR rows are 8 streams the hardware
   prefetcher follows, and a step no longer copies every activation before multiplying it
   (measured faster even for the LM head's G, rows 128 KB apart).
   gemm_packed takes op(B) packed once (gemm_packed.c) and skips the B packing; so does gemm_plus
   with a kept pack (GemmB.packed: a frozen weight's panels, tensor/pack_cache.h), whose extra
   product then gets B panels of its own.
   gemm_plus appends a second product of depth K2 (e.g. LoRA's rank side) to the last K slice:
   its rows are packed right after that slice's in the same panels, so the micro-kernel sums
   both in one pass and C is read and written once.
   gemm_rowmax also has the segmented kernel fold each stored tile into its rows' lane maxima and,
   for a large C, write it with non-temporal stores (GemmEpi in gemm_kernels.h).
   Threads: C is cut into disjoint row or column ranges (whichever balances better and moves
   less: a copy into a panel counts 1, a read of A in place 0.25; gemm_rowmax always cuts rows),
   each thread packs what it needs into its own scratch buffers. K slices depend only on
   K and each element is summed by the same kernel arithmetic in ascending k, so the result is
   bitwise identical for any thread count. Scratch buffers are kept in a global free list and
   reused (no malloc in steady state); they stay reachable, so leak checkers are quiet. */
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include "tensor/threads.h"
#include "tensor/check.h"
#include "tensor/quant.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef KC_MAX
#define KC_MAX 512      /* depth of a packed slice; K is cut into equal slices <= KC_MAX */
#endif
#ifndef MC_MAX
#define MC_MAX 96       /* rows of op(A) packed at once (multiple of every MR) */
#endif
#define NC_MAX 3072     /* columns of op(B) packed at once (multiple of every NR) */
#define NC_PRE 480      /* columns per block of a B packed once (multiple of every NR) */
#define A_PRE_REALS (128 << 10)  /* a segmented sweep over a B packed once: rows of A per block
                                    such that the block (read in place) holds <= 512 KB of L2 */
#define GEMM_STREAM_MIN_BYTES ((size_t)16 << 20)   /* gemm_rowmax: a C from 16 MB on (half the L3) */
#define SERIAL_WORK (1L << 19)   /* below this many multiply-adds, one thread */
#ifndef DIRECT_B_MAX_M
#define DIRECT_B_MAX_M 16        /* rows of C up to which a segmented sweep reads B in place */
#endif
#ifndef DIRECT_B_MAX_KN
#define DIRECT_B_MAX_KN 8192     /* ... and any rows when all of op(B) holds at most this many reals
                                    (32 KB: it stays in L1 over the sweeps) */
#endif

/* ---- scratch buffers: a global free list, grown on demand, never freed ---- */

typedef struct Scratch {
    real *a, *b;
    size_t cap_a, cap_b;     /* in reals */
    struct Scratch *next;
} Scratch;

static pthread_mutex_t scratch_mu = PTHREAD_MUTEX_INITIALIZER;
static Scratch *scratch_free;

static Scratch *scratch_get(void) {
    pthread_mutex_lock(&scratch_mu);
    Scratch *s = scratch_free;
    if (s) scratch_free = s->next;
    pthread_mutex_unlock(&scratch_mu);
    return s ? s : xcalloc(1, sizeof(Scratch));
}

static void scratch_put(Scratch *s) {
    pthread_mutex_lock(&scratch_mu);
    s->next = scratch_free;
    scratch_free = s;
    pthread_mutex_unlock(&scratch_mu);
}

static real *grow(real *p, size_t *cap, size_t need) {
    if (need <= *cap) return p;
    free(p);
    size_t bytes = (need * sizeof(real) + 63) & ~(size_t)63;
    p = aligned_alloc(64, bytes);
    CHECK(p != NULL, "out of memory allocating %zu bytes of GEMM scratch", bytes);
    *cap = need;
    return p;
}

/* ---- the blocked serial driver over a sub-block of C ---- */

typedef struct {
    int trans_a, trans_b, M, N, K;
    real alpha, beta;
    const real *A, *B;
    const uint16_t *B16;
    size_t lda, ldb, ldc;
    real *C;
    const GemmKernelInfo *ki;
    int kc;              /* slice depth: equal slices of K, each <= KC_MAX */
    int split_n;         /* threads split columns (1) or rows (0) */
    const struct QuantMat *Bq;   /* B as NF4 / int8 (gemm_quant), else NULL */
    const real *Bp;      /* op(B) packed once (gemm_packed): panel p at Bp + p*K*NR, else NULL */
    GemmExtra x;         /* gemm_plus's second product (x.K == 0: none), appended to the last slice */
    real *rmax;          /* gemm_rowmax's lane maxima [M, GEMM_ROWMAX_LANES], else NULL */
    int stream;          /* gemm_rowmax's C is written with non-temporal stores (GemmEpi) */
} GemmJob;

static void macro_kernel(const GemmJob *j, int mc, int nc, int kc, const real *ap,
                         const real *bp, size_t bps, real *c, real beta) {
    const int MR = j->ki->mr, NR = j->ki->nr;
    GemmKernel fn = j->ki->fn;
    for (int jr = 0; jr < nc; jr += NR) {
        int nv = nc - jr < NR ? nc - jr : NR;
        for (int ir = 0; ir < mc; ir += MR) {
            int mv = mc - ir < MR ? mc - ir : MR;
            fn(kc, ap + (size_t)ir * kc, bp + (size_t)(jr / NR) * bps, c + (size_t)ir * j->ldc + jr, j->ldc,
               j->alpha, beta, mv, nv);
        }
    }
}

/* Packs op(B)'s columns [jc, jc + nc) for the K slice [pc, pc + kc) into NR panels of depth
   kt = kc + kx (the extra product's kx rows of K, when this is the last slice, follow kc). */
static void pack_b(const GemmJob *j, real *dst, int jc, int nc, int pc, int kc, int kx, int kt) {
    const int NR = j->ki->nr;
    size_t sb_n = j->trans_b ? j->ldb : 1, sb_k = j->trans_b ? 1 : j->ldb;
    size_t boff = (size_t)jc * sb_n + (size_t)pc * sb_k, ps = (size_t)NR * kt;
    if (j->Bq) gemm_pack_q(dst, NR, j->Bq, boff, sb_n, sb_k, nc, kc, ps);
    else gemm_pack(dst, NR, j->B16 ? NULL : j->B + boff, j->B16 ? j->B16 + boff : NULL, sb_n, sb_k, nc, kc, ps);
    if (kx) {
        size_t xn = j->trans_b ? (size_t)j->x.ldb : 1, xk = j->trans_b ? 1 : (size_t)j->x.ldb;
        gemm_pack(dst + (size_t)kc * NR, NR, j->x.B + (size_t)jc * xn, NULL, xn, xk, nc, kx, ps);
    }
}

/* The same for op(A)'s rows [ic, ic + mc) into MR panels. */
static void pack_a(const GemmJob *j, real *dst, int ic, int mc, int pc, int kc, int kx, int kt) {
    const int MR = j->ki->mr;
    size_t sa_i = j->trans_a ? 1 : j->lda, sa_k = j->trans_a ? j->lda : 1, ps = (size_t)MR * kt;
    gemm_pack(dst, MR, j->A + (size_t)ic * sa_i + (size_t)pc * sa_k, NULL, sa_i, sa_k, mc, kc, ps);
    if (kx) {
        size_t xi = j->trans_a ? 1 : (size_t)j->x.lda, xk = j->trans_a ? (size_t)j->x.lda : 1;
        gemm_pack(dst + (size_t)kc * MR, MR, j->x.A + (size_t)ic * xi, NULL, xi, xk, mc, kx, ps);
    }
}

/* The segmented sweep (levels with GemmKernelInfo.seg): full MR-row panels of A and, when B is
   f32 and not transposed, full NR-column panels of B are read in place through GemmSeg
   strides; the segmented kernel does the packed kernel's FMAs, so no bit changes. Packed: the
   partial last panels (kt deep, at `at` and in bpk) and the extra product's kx columns of A's
   full panels (at ax, panel stride MR*kx). With a B packed once, the extra product's B has panels
   of its own (bx, stride NR*kx); otherwise its kx rows follow the slice's in bpk. */
typedef struct { int ic, mc, jc, nc, pc, kc, kx; const real *ax, *at, *bpk; size_t bps; const real *bx; } SegBlock;

static void macro_seg(const GemmJob *j, const SegBlock *k, int direct_b, real *c, real beta) {
    const int MR = j->ki->mr, NR = j->ki->nr;
    const int mfull = k->mc / MR * MR, nfull = direct_b ? k->nc / NR * NR : 0;
    size_t sa_i = j->trans_a ? 1 : j->lda, sa_k = j->trans_a ? j->lda : 1;
    const real *a0 = j->A + (size_t)k->ic * sa_i + (size_t)k->pc * sa_k;
    /* the row maxima fold the final values only: those of the last K slice */
    real *rmax = j->rmax && k->pc + k->kc >= j->K ? j->rmax + (size_t)k->ic * GEMM_ROWMAX_LANES : NULL;
    for (int jr = 0; jr < k->nc; jr += NR) {
        int nv = k->nc - jr < NR ? k->nc - jr : NR;
        GemmSeg sg[2];
        if (jr < nfull) {
            sg[0].b = j->B + (size_t)k->pc * j->ldb + k->jc + jr, sg[0].bp = j->ldb;
            sg[1].b = k->kx ? j->x.B + k->jc + jr : NULL, sg[1].bp = (size_t)j->x.ldb;
        } else {
            sg[0].b = k->bpk + (size_t)((jr - nfull) / NR) * k->bps, sg[0].bp = (size_t)NR;
            sg[1].b = k->bx ? k->bx + (size_t)((jr - nfull) / NR) * NR * k->kx : sg[0].b + (size_t)k->kc * NR;
            sg[1].bp = (size_t)NR;
        }
        sg[0].k = k->kc, sg[1].k = k->kx;
        for (int ir = 0; ir < k->mc; ir += MR) {
            int mv = k->mc - ir < MR ? k->mc - ir : MR;
            if (ir < mfull) {
                sg[0].a = a0 + (size_t)ir * sa_i, sg[0].ai = sa_i, sg[0].ap = sa_k;
                sg[1].a = k->ax + (size_t)ir * k->kx;
            } else {
                sg[0].a = k->at, sg[0].ai = 1, sg[0].ap = (size_t)MR;
                sg[1].a = k->at + (size_t)k->kc * MR;
            }
            sg[1].ai = 1, sg[1].ap = (size_t)MR;
            GemmEpi ep = { rmax ? rmax + (size_t)ir * GEMM_ROWMAX_LANES : NULL, j->stream };
            j->ki->seg(sg, k->kx ? 2 : 1, c + (size_t)ir * j->ldc + jr, j->ldc, j->alpha, beta, mv, nv,
                       rmax || j->stream ? &ep : NULL);
        }
    }
}

/* 1 if rows of B at stride ldb spread over L1's sets (64 sets of 64-byte lines): a stride of a
   multiple of 256 bytes sends them to at most 16 sets, where a small B would evict itself */
static int rows_spread(size_t ldb) {
    size_t bytes = ldb * sizeof(real);
    return bytes % 64 != 0 || ((bytes / 64) % 64) % 4 != 0;
}

static void gemm_block(const GemmJob *j, int m0, int m1, int n0, int n1, Scratch *s) {
    const int NR = j->ki->nr, MR = j->ki->mr;
    int nc_max = n1 - n0 < NC_MAX ? n1 - n0 : NC_MAX, kt_max = j->kc + j->x.K;
    /* B in place when few rows of A reuse it (packing a panel used once is pure cost; measured
       slower for tall A, whose many sweeps over a panel prefer it packed), or when all of op(B)
       is small enough to stay in L1 over the sweeps (attention's per-block products) */
    int seg = j->ki->seg != NULL;
    int small_b = (long)(j->K + j->x.K) * (n1 - n0) <= DIRECT_B_MAX_KN && rows_spread(j->ldb) &&
                  (!j->x.K || rows_spread((size_t)j->x.ldb));
    int direct_b = seg && !j->trans_b && j->B && !j->B16 && !j->Bq && !j->Bp && (m1 - m0 <= DIRECT_B_MAX_M || small_b);
    /* a B packed once: blocks of NC_PRE columns, all of A's rows that fit A_PRE_REALS per sweep
       (each panel, fetched from memory once, serves every row tile; A stays in L2) */
    int ncb = j->Bp ? NC_PRE : NC_MAX, mcb = MC_MAX;
    if (j->Bp && seg) mcb = (A_PRE_REALS / j->kc / MR > 1 ? A_PRE_REALS / j->kc / MR : 1) * MR;
    /* A's scratch: MC_MAX rows kt deep, or an extra product's kx columns of all mcb rows */
    s->a = grow(s->a, &s->cap_a, (size_t)(mcb > MC_MAX ? mcb : MC_MAX) * kt_max);
    s->b = grow(s->b, &s->cap_b, (size_t)((nc_max + NR - 1) / NR * NR) * kt_max);
    for (int jc = n0; jc < n1; jc += ncb) {
        int nc = n1 - jc < ncb ? n1 - jc : ncb;
        int nfull = direct_b ? nc / NR * NR : 0;
        for (int pc = 0; pc < j->K; pc += j->kc) {
            int kc = j->K - pc < j->kc ? j->K - pc : j->kc;
            int kx = pc + kc >= j->K ? j->x.K : 0, kt = kc + kx;
            /* B's panels for this block: packed now (stride NR*kt), or packed once (stride NR*K) */
            const real *bpk = s->b;
            size_t bps = (size_t)NR * kt;
            const real *bx = NULL;
            if (j->Bp) {
                bpk = j->Bp + (size_t)(jc / NR) * NR * j->K + (size_t)pc * NR, bps = (size_t)NR * j->K;
                if (kx) {    /* the extra product's B, packed now into panels of its own */
                    size_t xn = j->trans_b ? (size_t)j->x.ldb : 1, xk = j->trans_b ? 1 : (size_t)j->x.ldb;
                    gemm_pack(s->b, NR, j->x.B + (size_t)jc * xn, NULL, xn, xk, nc, kx, (size_t)NR * kx);
                    bx = s->b;
                }
            } else if (nfull < nc) pack_b(j, s->b, jc + nfull, nc - nfull, pc, kc, kx, kt);
            real beta = pc == 0 ? j->beta : 1;
            for (int ic = m0; ic < m1; ic += mcb) {
                int mc = m1 - ic < mcb ? m1 - ic : mcb;
                real *c = j->C + (size_t)ic * j->ldc + jc;
                if (!seg) {
                    pack_a(j, s->a, ic, mc, pc, kc, kx, kt);
                    macro_kernel(j, mc, nc, kt, s->a, bpk, bps, c, beta);
                    continue;
                }
                int mfull = mc / MR * MR;
                SegBlock k = { ic, mc, jc, nc, pc, kc, kx, s->a, s->a + (size_t)mfull * kx, bpk, bps, bx };
                if (kx) {
                    size_t xi = j->trans_a ? 1 : (size_t)j->x.lda, xk = j->trans_a ? (size_t)j->x.lda : 1;
                    gemm_pack(s->a, MR, j->x.A + (size_t)ic * xi, NULL, xi, xk, mfull, kx, (size_t)MR * kx);
                }
                if (mfull < mc) pack_a(j, s->a + (size_t)mfull * kx, ic + mfull, mc - mfull, pc, kc, kx, kt);
                macro_seg(j, &k, direct_b, c, beta);
            }
        }
    }
}

static void gemm_task(void *ctx, long begin, long end) {
    const GemmJob *j = ctx;
    Scratch *s = scratch_get();
    if (j->split_n) gemm_block(j, 0, j->M, (int)begin, (int)end, s);
    else gemm_block(j, (int)begin, (int)end, 0, j->N, s);
#if defined(__x86_64__)
    if (j->stream) __builtin_ia32_sfence();   /* the non-temporal stores, seen before the task ends */
#endif
    scratch_put(s);
}

/* ---- threading: choose the split with the lower estimated per-thread cost ---- */

static double split_cost(long units, int tile, long other, long K, int nt, double pack_own, double pack_other) {
    long per = (units + nt - 1) / nt * tile;           /* rows (or columns) of the busiest thread */
    return (double)per * other * K / 32.0 + (double)K * (pack_other * other + pack_own * per);   /* FMAs/32 + copies and reads */
}

/* K is cut into equal slices of at most KC_MAX (j->kc), then the job is split over the threads */
static void run_job(GemmJob *j) {
    int slices = (j->K + KC_MAX - 1) / KC_MAX;
    j->kc = (j->K + slices - 1) / slices;
    long work = (long)j->M * j->N * j->K;
    int nt = work < SERIAL_WORK ? 1 : threads_count();
    int MR = j->ki->mr, NR = j->ki->nr;
    long um = (j->M + MR - 1) / MR, un = (j->N + NR - 1) / NR;
    long m_pad = um * MR, n_pad = un * NR;
    /* a segmented sweep reads A in place: no A copies, but A still comes from memory once per
       thread that needs it (a column split reads all of it in every thread: the LM head's dW,
       A = 131 MB of logit gradients, ran at 71 % of the 2-thread peak split by columns, 80 % by
       rows); a read counts a quarter of a copy */
    double pa = j->ki->seg ? 0.25 : 1.0;
    double pb = j->Bp ? 0.0 : 1.0;          /* nor B copies when B was packed once */
    j->split_n = split_cost(un, NR, m_pad, j->K, nt, pb, pa) < split_cost(um, MR, n_pad, j->K, nt, pa, pb);
    if (j->rmax) j->split_n = 0;            /* a row's maxima are folded by the one thread that owns it */
    if (nt == 1) gemm_task(j, 0, j->split_n ? j->N : j->M);
    else if (j->split_n) parallel_for_chunks(j->N, NR, gemm_task, j);
    else parallel_for_chunks(j->M, MR, gemm_task, j);
}

static void scale_c(int M, int N, real beta, real *C, size_t ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) C[(size_t)i * ldc + n] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + n];
}

/* b.packed is used when it fits this call: packed for the active kernel, op(B) [K, N] exactly,
   and no extra product unless the level reads panels through segments (it then packs the
   extra's B on its own, gemm_block) */
static const GemmPackedB *packed_fits(const GemmPackedB *pb, const GemmKernelInfo *ki, int N, int K, int xk) {
    return pb && pb->data && pb->nr == ki->nr && pb->N == N && pb->K == K && (xk == 0 || ki->seg) ? pb : NULL;
}

static void gemm_any(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda, GemmB b,
                     const GemmExtra *extra, real beta, real *C, int ldc, real *rmax, int stream) {
    int ldb = b.ld;
    CHECK(M >= 0 && N >= 0 && K >= 0, "negative GEMM size M=%d N=%d K=%d", M, N, K);
    CHECK(lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N) && ldc >= N,
          "GEMM leading dims too small: lda=%d ldb=%d ldc=%d for M=%d N=%d K=%d", lda, ldb, ldc, M, N, K);
    GemmExtra x = { NULL, 0, NULL, 0, 0 };
    if (extra && extra->K > 0) {
        x = *extra;
        CHECK(x.A && x.B && x.lda >= (trans_a ? M : x.K) && x.ldb >= (trans_b ? x.K : N),
              "gemm_plus: second product's leading dims too small: lda=%d ldb=%d for M=%d N=%d K=%d",
              x.lda, x.ldb, M, N, x.K);
    }
    if (M == 0 || N == 0) return;
    if (K == 0 && x.K == 0) { scale_c(M, N, beta, C, (size_t)ldc); return; }
    if (K == 0) {     /* only the second product: it becomes the first */
        A = x.A, lda = x.lda, ldb = x.ldb, K = x.K;
        b = (GemmB){ x.B, NULL, NULL, x.ldb, NULL };
        x.K = 0;
    }
    const GemmKernelInfo *ki = gemm_current_kernel();
    const GemmPackedB *pb = packed_fits(b.packed, ki, N, K, x.K);
    GemmJob j = { trans_a, trans_b, M, N, K, alpha, beta, A, pb ? NULL : b.f32, pb ? NULL : b.bf16, (size_t)lda,
                  (size_t)ldb, (size_t)ldc, C, ki, 0, 0, pb ? NULL : b.quant, pb ? pb->data : NULL, x, rmax, stream };
    run_job(&j);
}

void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc) {
    gemm_any(trans_a, trans_b, M, N, K, alpha, A, lda, (GemmB){ B, NULL, NULL, ldb, NULL }, NULL, beta, C, ldc, NULL, 0);
}

void gemm_bf16(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc) {
    gemm_any(trans_a, trans_b, M, N, K, alpha, A, lda, (GemmB){ NULL, B, NULL, ldb, NULL }, NULL, beta, C, ldc, NULL, 0);
}

void gemm_quant(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const struct QuantMat *B, real beta, real *C, int ldc) {
    CHECK(B->rows == (trans_b ? N : K) && B->cols == (trans_b ? K : N),
          "gemm_quant: B is [%d, %d], op(B) must be [%d, %d] (trans_b %d)", B->rows, B->cols, K, N, trans_b);
    gemm_any(trans_a, trans_b, M, N, K, alpha, A, lda, (GemmB){ NULL, NULL, B, B->cols, NULL }, NULL, beta, C, ldc, NULL, 0);
}

void gemm_plus(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
               GemmB b, const GemmExtra *extra, real beta, real *C, int ldc) {
    int n_b = (b.f32 != NULL) + (b.bf16 != NULL) + (b.quant != NULL);
    CHECK(n_b == 1 || (n_b == 0 && K == 0), "gemm_plus: B must be exactly one of f32, bf16, quantised");
    if (b.quant) {
        CHECK(b.quant->rows == (trans_b ? N : K) && b.quant->cols == (trans_b ? K : N),
              "gemm_plus: quantised B is [%d, %d], op(B) must be [%d, %d] (trans_b %d)", b.quant->rows,
              b.quant->cols, K, N, trans_b);
        b.ld = b.quant->cols;
    }
    if (n_b == 0) b.ld = trans_b ? K : N;
    gemm_any(trans_a, trans_b, M, N, K, alpha, A, lda, b, extra, beta, C, ldc, NULL, 0);
}

/* ---- op(B) packed once, multiplied many times (gemm_packed in gemm.h) ---- */

void gemm_packed(int trans_a, int M, int N, int K, real alpha, const real *A, int lda, const GemmPackedB *pb,
                 real beta, real *C, int ldc) {
    CHECK(pb && pb->N == N && pb->K == K && pb->nr == gemm_current_kernel()->nr,
          "gemm_packed: B was packed as [K=%d, N=%d] for NR %d, used as [K=%d, N=%d] with NR %d",
          pb ? pb->K : 0, pb ? pb->N : 0, pb ? pb->nr : 0, K, N, gemm_current_kernel()->nr);
    CHECK(M >= 0 && lda >= (trans_a ? M : K) && ldc >= N, "gemm_packed: bad sizes M=%d lda=%d ldc=%d", M, lda, ldc);
    gemm_any(trans_a, 0, M, N, K, alpha, A, lda, (GemmB){ NULL, NULL, NULL, N, pb }, NULL, beta, C, ldc, NULL, 0);
}

int gemm_rowmax(int trans_b, int M, int N, int K, const real *A, int lda, GemmB b, real *C, int ldc,
                real *lane_max) {
    CHECK((b.f32 != NULL) + (b.bf16 != NULL) == 1 && !b.quant, "gemm_rowmax: B must be f32 or bf16 (and may be packed)");
    /* folding needs a row split: not when there are fewer row tiles than threads (the columns
       would then be split; the caller's pass finds the maxima) */
    const GemmKernelInfo *ki = gemm_current_kernel();
    int seg = GEMM_F32 && ki->seg != NULL && K > 0 && (M + ki->mr - 1) / ki->mr >= threads_count();
    /* a C larger than the caches' share is going to memory anyway: stream it there (no read of
       each line before it is written, no eviction of what is cached); only with one K slice,
       whose stores are C's final values (a later slice would read a streamed C back) */
    int stream = seg && K <= KC_MAX && (size_t)M * N * sizeof(real) >= GEMM_STREAM_MIN_BYTES &&
                 (uintptr_t)C % 64 == 0 && ldc % 16 == 0;
    gemm_any(0, trans_b, M, N, K, (real)1, A, lda, b, NULL, 0, C, ldc, seg ? lane_max : NULL, stream);
    return seg;
}
