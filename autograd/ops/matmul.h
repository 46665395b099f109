/* autograd/ops/matmul.h — matrix products.
   defines: op_linear, op_matmul, matmul_is_narrow, matmul_gemm_narrow, OP_LINEAR, OP_MATMUL */
#ifndef OPS_MATMUL_H
#define OPS_MATMUL_H
#include "autograd/op.h"

/* y = x · wᵀ. x [..., in] (leading dims flattened to rows), w [out, in] → y [..., out].
   w may be trainable (grad != NULL), frozen f32 (grad == NULL) or frozen bf16
   (w->bf16 != NULL, w->data == NULL, w->grad must be NULL). */
Tensor *op_linear(Tape *t, Tensor *x, Tensor *w);
/* y = op(a) · op(b), 2-D only; op(m) = mᵀ if the trans flag is set. y [M, N]. */
Tensor *op_matmul(Tape *t, Tensor *a, Tensor *b, int trans_a, int trans_b);

/* Helpers shared with lora_linear.c. A product whose C [M, N] is narrow (matmul_is_narrow: fewer
   than 16 columns, at least 64 rows) wastes most of the GEMM micro-kernel's column tile, so
   matmul_gemm_narrow computes Cᵀ = alpha·op(B)ᵀ·op(A)ᵀ into scratch [N, M] (the narrow side then
   sits on the kernel's rows) and writes C = that (beta 0) or C += that (beta 1). */
int  matmul_is_narrow(int M, int N);
void matmul_gemm_narrow(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda,
                        const real *B, int ldb, int beta, real *C, int ldc, real *scratch);

extern const OpInfo OP_LINEAR, OP_MATMUL;   /* cases: plain, frozen_w, bf16_w; nn, nt, tn, tt */

#endif
