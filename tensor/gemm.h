/* tensor/gemm.h — the one matrix multiply of the project.
   defines: gemm, gemm_bf16, gemm_quant, gemm_plus, GemmExtra, GemmB, gemm_naive, gemm_bf16_naive,
            gemm_plus_naive, gemm_simd_level, GemmPackedB, gemm_packed_b_reals, gemm_pack_b_once,
            gemm_packed, gemm_takes_packed, gemm_rowmax, GEMM_ROWMAX_LANES
   Computes C = beta*C + alpha * op(A) * op(B), row-major, with leading dimensions:
     op(A) is M x K: A is M x K (lda >= K) or, if trans_a, K x M (lda >= M)
     op(B) is K x N: B is K x N (ldb >= N) or, if trans_b, N x K (ldb >= K)
     C is M x N (ldc >= N)
   beta == 0 overwrites C without reading it (so C may hold NaN garbage). gemm_bf16 takes B as
   bf16 (frozen weights), converted to f32 while packing. gemm_naive / gemm_bf16_naive are the
   obvious triple loops (double accumulation), the twins the tests compare against.
   Work is split over disjoint blocks of C across the thread pool: results are bitwise
   identical for any thread count. */
#ifndef GEMM_H
#define GEMM_H
#include <stddef.h>
#include <stdint.h>
#include "tensor/real.h"

struct QuantMat;

void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);
void gemm_bf16(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc);

/* B as an NF4 / int8 matrix (tensor/quant.h; ldb = its cols), dequantised panel by panel while
   packing: no f32 copy of the whole matrix exists. */
void gemm_quant(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const struct QuantMat *B, real beta, real *C, int ldc);

/* C = beta*C + alpha*(op(A)*op(B) + op(A2)*op(B2)), op(A2) M x K2 and op(B2) K2 x N with the same
   transposes (f32 only): the second product is packed after the first's last K slice, so the
   micro-kernel sums both in one pass over C (a narrow K2 such as a LoRA rank costs K2 more
   kernel steps instead of a GEMM of its own). B is one of f32 / bf16 / quantised (GemmB). Each
   element is summed in ascending k over the first product, then the second: bitwise identical
   for any thread count. extra NULL or extra->K == 0: the plain product. */
typedef struct GemmExtra { const real *A; int lda; const real *B; int ldb; int K; } GemmExtra;
typedef struct GemmPackedB { real *data; int N, K, nr; } GemmPackedB;
/* packed (optional): op(B) already packed (gemm_pack_b_once, e.g. a frozen weight's panels kept
   for the run, tensor/pack_cache.h); used instead of f32 / bf16 / quant when it was packed for the
   active kernel as exactly this [K, N] (and, with an extra product, the level reads segments):
   otherwise ignored. The same product bit for bit, without packing B. */
typedef struct GemmB { const real *f32; const uint16_t *bf16; const struct QuantMat *quant; int ld;
                       const GemmPackedB *packed; } GemmB;
void gemm_plus(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
               GemmB b, const GemmExtra *extra, real beta, real *C, int ldc);
/* C = A·op(B) (M x N, alpha 1, beta 0, A not transposed) and the row maxima of C folded in as
   the micro-kernel stores each tile, while it is in registers: lane_max [M x GEMM_ROWMAX_LANES],
   filled with -INFINITY by the caller, gets in lane l of row i the max of l's share of row i's
   values (NaN when one of them is NaN), so the max over a row's lanes is the row's max, exactly
   what a pass over C would find (a max does not depend on the order). Returns 1 when lane_max
   was folded, 0 when the active level has no segmented kernel or M has fewer row tiles than
   there are threads (C is the product all the same, lane_max untouched: find the maxima by a
   pass). Splits over threads by rows only. A C of 16 MB or more (one K slice, 64-byte aligned
   rows) is written with non-temporal stores: it goes to memory without being read first. */
#define GEMM_ROWMAX_LANES 16
int gemm_rowmax(int trans_b, int M, int N, int K, const real *A, int lda, GemmB b, real *C, int ldc,
                real *lane_max);
/* op(B) [K, N] packed ONCE into the active micro-kernel's NR-wide panels (k-major, zero-padded
   tail; panel p at data + p·NR·K), then multiplied by any number of A's: what gemm would pack
   for every call, e.g. the LM head's frozen [V, C] weight used by every row chunk. The product
   is gemm's, bit for bit (the same kernel reads the same values in the same order; only the
   packing is not repeated). dst, 64-byte aligned, holds gemm_packed_b_reals(N, K) reals; B is f32 or bf16 (the
   other NULL); the packing runs on the thread pool. A pack is valid for the micro-kernel level
   active when it was made (gemm_packed checks). */
size_t gemm_packed_b_reals(int N, int K);
GemmPackedB gemm_pack_b_once(int trans_b, int N, int K, const real *B, const uint16_t *B16, int ldb, real *dst);
void gemm_packed(int trans_a, int M, int N, int K, real alpha, const real *A, int lda, const GemmPackedB *pb,
                 real beta, real *C, int ldc);

void gemm_plus_naive(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                     GemmB b, const GemmExtra *extra, real beta, real *C, int ldc);

void gemm_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);
void gemm_bf16_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                     const real *A, int lda, const uint16_t *B, int ldb, real beta, real *C, int ldc);

/* "avx512", "avx2", or "scalar": the micro-kernel chosen at run time for this CPU. */
const char *gemm_simd_level(void);
/* 1 when the active level takes GemmB.packed with an extra product too (it reads panels through
   segments: AVX-512), so a kept pack serves every product of a weight (tensor/pack_cache.h) */
int gemm_takes_packed(void);

#endif
