/* tensor/gemm_kernels.h — internals of the tiled GEMM (tensor/gemm.c): micro-kernel protocol,
   packing helpers, and the level override used by tests and benchmarks.
   defines: GemmKernel, GemmSeg, GemmEpi, GemmKernelSeg, GemmKernelInfo, GEMM_F32, gemm_force_level, gemm_current_kernel, gemm_level_supported,
            gemm_pack, gemm_kernel_scalar, gemm_kernel_avx512, gemm_kernel_avx512_seg,
            gemm_kernel_avx2,
            gemm_pack_t8_avx2, gemm_pack_q
   Micro-kernel contract: a is a packed MR x kc panel of op(A) stored k-major (a[p*MR + i]),
   b a packed kc x NR panel of op(B) (b[p*NR + j]), both zero-padded to full MR / NR and 64-byte
   aligned. The kernel forms ab[i][j] = sum_p a[p*MR+i] * b[p*NR+j] in ascending p with one
   fused multiply-add per step (SIMD kernels; the scalar one uses a separate multiply and add),
   then writes the top-left mv x nv corner of the tile:
       beta == 0:  c = alpha * ab            (c is not read)
       otherwise:  c = fma(alpha, ab, beta * c)
   Every element sees the same operations whatever its position in the tile, so results do not
   depend on how C is cut into tiles or threads (and all FMA kernels agree bit for bit). */
#ifndef GEMM_KERNELS_H
#define GEMM_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "tensor/real.h"

/* GEMM_F32 is 1 when `real` is float (the SIMD kernels apply), 0 in the -DREAL=double build. */
#define GEMM_TOKEN_float 1
#define GEMM_CAT_(a, b) a##b
#define GEMM_XCAT_(a, b) GEMM_CAT_(a, b)
#if GEMM_XCAT_(GEMM_TOKEN_, REAL)
#define GEMM_F32 1
#else
#define GEMM_F32 0
#endif

typedef void (*GemmKernel)(int kc, const real *a, const real *b, real *c, size_t ldc,
                           real alpha, real beta, int mv, int nv);

/* A micro-kernel input read in place: element (i, p) of the MR x k A panel at a[i*ai + p*ap],
   row p of the k x NR B panel at b + p*bp (all MR rows and NR columns must be readable). A
   segmented kernel sums its segments one after the other in ascending p, with the very same
   FMAs as the packed kernel over their concatenation, so reading A unpacked changes no bit. */
typedef struct { const real *a; size_t ai, ap; const real *b; size_t bp; int k; } GemmSeg;
/* What a segmented kernel does with the tile besides storing it (NULL: nothing more):
   rmax (or NULL): GEMM_ROWMAX_LANES lane maxima per row of the tile (row i at rmax + i·LANES),
   folded with the values stored (gemm_rowmax in gemm.h); stream: a full tile at beta 0 goes out
   with non-temporal stores (C's rows 64-byte aligned; gemm.c fences after its tasks). */
typedef struct { real *rmax; int stream; } GemmEpi;
typedef void (*GemmKernelSeg)(const GemmSeg *seg, int nseg, real *c, size_t ldc, real alpha, real beta,
                              int mv, int nv, const GemmEpi *epi);

typedef struct {
    const char *level;   /* "avx512", "avx2", "scalar" */
    int mr, nr;          /* micro-tile */
    GemmKernel fn;
    GemmKernelSeg seg;   /* the segmented twin of fn, or NULL (this level always packs A) */
} GemmKernelInfo;

/* Forces the micro-kernel level ("scalar", "avx2", "avx512"); NULL or "" restores the default
   (best level of this CPU, or $MOETRAIN_SIMD if set). Returns 0 if the CPU lacks that level
   (nothing changes), 1 on success. Not thread-safe: call between GEMMs. */
int gemm_force_level(const char *level);
const GemmKernelInfo *gemm_current_kernel(void);   /* the active level (gemm_level.c) */
int gemm_active_nr(void);      /* NR of the active micro-kernel (the panel width of a packed B) */
int gemm_level_supported(const char *level);

/* Packs n rows (element (r, p) at src[r*sr + p*sk], or src16 if non-NULL: bf16) by kc into
   ceil(n/R) zero-padded k-major panels at dst, panel i at dst + i*ps (ps >= R*kc; see gemm_pack.c). */
void gemm_pack(real *dst, int R, const real *src, const uint16_t *src16, size_t sr, size_t sk,
               int n, int kc, size_t ps);
/* The same packing from an NF4 / int8 matrix (tensor/quant.h), element (r, p) at flat index
   off + r*sr + p*sk, dequantised here (tensor/gemm_pack_q.c). */
struct QuantMat;
void gemm_pack_q(real *dst, int R, const struct QuantMat *q, size_t off, size_t sr, size_t sk, int n, int kc,
                 size_t ps);

#define GEMM_SCALAR_MR 4
#define GEMM_SCALAR_NR 8
void gemm_kernel_scalar(int kc, const real *a, const real *b, real *c, size_t ldc,
                        real alpha, real beta, int mv, int nv);

#if defined(__x86_64__) && GEMM_F32
#define GEMM_AVX512_MR 8
#define GEMM_AVX512_NR 48
#define GEMM_AVX2_MR 6
#define GEMM_AVX2_NR 16
void gemm_kernel_avx512(int kc, const float *a, const float *b, float *c, size_t ldc,
                        float alpha, float beta, int mv, int nv);
void gemm_kernel_avx512_seg(const GemmSeg *seg, int nseg, float *c, size_t ldc, float alpha, float beta,
                            int mv, int nv, const GemmEpi *epi);
void gemm_kernel_avx2(int kc, const float *a, const float *b, float *c, size_t ldc,
                      float alpha, float beta, int mv, int nv);
/* Packs rows x kc (rows % 8 == 0) of a matrix whose rows are contiguous along k (row stride
   ld) into dst[p*R + r] (R = panel width >= rows): 8x8 AVX2 transposes. */
void gemm_pack_t8_avx2(float *dst, int R, const float *src, size_t ld, int rows, int kc);
#endif

#endif
