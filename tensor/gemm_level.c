/* tensor/gemm_level.c — which micro-kernel the GEMM runs (gemm.h, gemm_kernels.h).
   defines: gemm_current_kernel, gemm_level_supported, gemm_force_level, gemm_simd_level,
            gemm_active_nr, gemm_takes_packed
   AVX-512 (8x48) > AVX2+FMA (6x16) > scalar (4x8), picked at run time with
   __builtin_cpu_supports; $MOETRAIN_SIMD=scalar|avx2|avx512 or gemm_force_level() lowers it.
   The -DREAL=double build always uses the scalar kernel. */
#include "tensor/gemm.h"
#include "tensor/gemm_kernels.h"
#include <stdlib.h>
#include <string.h>

static const GemmKernelInfo kernel_scalar = { "scalar", GEMM_SCALAR_MR, GEMM_SCALAR_NR, gemm_kernel_scalar, NULL };
#if defined(__x86_64__) && GEMM_F32
static const GemmKernelInfo kernel_avx512 = { "avx512", GEMM_AVX512_MR, GEMM_AVX512_NR, gemm_kernel_avx512,
                                              gemm_kernel_avx512_seg };
static const GemmKernelInfo kernel_avx2 = { "avx2", GEMM_AVX2_MR, GEMM_AVX2_NR, gemm_kernel_avx2, NULL };
#endif
static const GemmKernelInfo *active_kernel;

static const GemmKernelInfo *kernel_for(const char *level) {
#if defined(__x86_64__) && GEMM_F32
    __builtin_cpu_init();
    if (!strcmp(level, "avx512")) return __builtin_cpu_supports("avx512f") ? &kernel_avx512 : NULL;
    if (!strcmp(level, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &kernel_avx2 : NULL;
#endif
    return !strcmp(level, "scalar") ? &kernel_scalar : NULL;
}

static const GemmKernelInfo *default_kernel(void) {
    const char *env = getenv("MOETRAIN_SIMD");
    const GemmKernelInfo *k = env && *env ? kernel_for(env) : NULL;
    if (k) return k;
    static const char *const order[] = { "avx512", "avx2", "scalar" };
    for (int i = 0; i < 3; i++)
        if ((k = kernel_for(order[i])) != NULL) return k;
    return &kernel_scalar;
}

const GemmKernelInfo *gemm_current_kernel(void) {
    if (!active_kernel) active_kernel = default_kernel();
    return active_kernel;
}

int gemm_level_supported(const char *level) { return level && kernel_for(level) != NULL; }

int gemm_force_level(const char *level) {
    if (!level || !*level) {
        active_kernel = default_kernel();
        return 1;
    }
    const GemmKernelInfo *k = kernel_for(level);
    if (!k) return 0;
    active_kernel = k;
    return 1;
}

const char *gemm_simd_level(void) { return gemm_current_kernel()->level; }

int gemm_active_nr(void) { return gemm_current_kernel()->nr; }

int gemm_takes_packed(void) { return gemm_current_kernel()->seg != NULL; }

