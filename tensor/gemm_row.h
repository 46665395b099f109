/* tensor/gemm_row.h — gemm's one-row path (gemm_row.c): C[n] = alpha·Σ_k a[k]·B[n,k] + beta·C[n]
   for n < N, B as real or bf16 (B16 != NULL) rows with stride ldb. beta == 0 does not read C.
   defines: gemm_row_bt */
#ifndef GEMM_ROW_H
#define GEMM_ROW_H
#include <stddef.h>
#include <stdint.h>
#include "real.h"

void gemm_row_bt(int N, int K, real alpha, const real *a, const real *B, const uint16_t *B16, size_t ldb,
                 real beta, real *C);

#endif
