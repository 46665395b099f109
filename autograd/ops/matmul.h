/* autograd/ops/matmul.h — matrix products.
   defines: op_linear, op_matmul, matmul_is_narrow, matmul_gemm_narrow,
            matmul_linear_forward, matmul_linear_backward, matmul_linear_scratch, OP_LINEAR, OP_MATMUL */
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
   than 16 columns, at least 64 rows) would waste most of the GEMM micro-kernel's column tile and
   pack a whole batch for it: matmul_gemm_narrow runs it on tensor/gemm_narrow.h instead, C = that
   (beta 0) or C += that (beta 1), with scratch [N, M]. */
int  matmul_is_narrow(int M, int N);
void matmul_gemm_narrow(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda,
                        const real *B, int ldb, int beta, real *C, int ldc, real *scratch);

/* The raw products of op_linear, for fused ops that run many linears inside one tape entry
   (routed_ffn.c): Y [R, O] = X [R, I]·Wᵀ with W [O, I] stored as f32, bf16 or quantised (its kept
   GEMM panels when it has them, tensor/pack_cache.h); its backward dX += dY·W, dW += dYᵀ·X
   (either NULL; dx_beta 0 writes dX instead of adding), both bit for bit op_linear's. scratch
   holds matmul_linear_scratch(R, I, O) reals (0 for all but narrow products). */
void matmul_linear_forward(real *y, const real *x, const Tensor *w, int R, real *scratch);
void matmul_linear_backward(real *dx, real dx_beta, real *dw, const real *dy, const real *x, const Tensor *w, int R,
                            real *scratch);
size_t matmul_linear_scratch(int R, int I, int O);

extern const OpInfo OP_LINEAR, OP_MATMUL;   /* cases: plain, frozen_w, bf16_w; nn, nt, tn, tt */

#endif
