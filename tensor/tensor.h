/* tensor/tensor.h — an n-d array view (contiguous, row-major, up to 4 dims).
   defines: Tensor, tensor_new, tensor_1d/2d/3d, tensor_view, tensor_rows_view, tensor_rows, tensor_cols,
            tensor_same_shape, tensor_shape_str, tensor_fill, tensor_zero_grad, tensor_grad_ready,
            tensor_grad_claim, tensor_share_grad
   A tensor never owns its memory: data and grad live in an Arena (activations) or in a
   ParamStore block (parameters). `grad == NULL` is THE signal that no gradient flows here.
   Frozen base weights may be stored as bf16 instead: then `bf16 != NULL` and `data == NULL`
   (only ops that say so, e.g. op_linear, accept such tensors), or as NF4 / int8 codes + scales
   (`quant != NULL`, data NULL; tensor/quant.h): op_linear and op_lora_linear read them through
   gemm_quant. A frozen f32 parameter matrix may carry a PackSlot (tensor/pack_cache.h). */
#ifndef TENSOR_H
#define TENSOR_H
#include <stddef.h>
#include <stdint.h>
#include "tensor/real.h"
#include "tensor/arena.h"

#define TENSOR_MAX_DIMS 4

typedef struct {
    int      ndim;
    int      shape[TENSOR_MAX_DIMS];  /* shape[ndim-1] is contiguous */
    size_t   numel;
    real    *data;
    real    *grad;                    /* NULL: no gradient flows here */
    uint16_t *bf16;                   /* bf16 storage for frozen weights, else NULL */
    struct QuantMat *quant;           /* NF4 / int8 storage for frozen weights, else NULL */
    const char *name;                 /* "layers.3.attn.wq" for params; op name for activations */
    struct PackSlot *pack;            /* frozen f32 matrix: its GEMM panels kept for the run
                                         (tensor/pack_cache.h), else NULL; views drop it */
    unsigned char *grad_unset;        /* NULL, or the buffer's shared flag: 1 = not written yet */
} Tensor;

/* Allocates the Tensor struct and its data from the arena. Data is uninitialised;
   grad (if with_grad) is zero-filled, because backward always accumulates into it. */
Tensor *tensor_new(Arena *a, int ndim, const int *shape, int with_grad);
Tensor *tensor_1d(Arena *a, int n0, int with_grad);
Tensor *tensor_2d(Arena *a, int n0, int n1, int with_grad);
Tensor *tensor_3d(Arena *a, int n0, int n1, int n2, int with_grad);
/* A new header over the same data/grad with another shape of equal numel (a reshape). */
Tensor *tensor_view(Arena *a, const Tensor *t, int ndim, const int *shape);
/* Rows [row0, row0 + rows) of a real 2-d tensor, data and grad (an expert's slice of a stack). */
Tensor *tensor_rows_view(Arena *a, const Tensor *t, int row0, int rows);

size_t tensor_rows(const Tensor *t);      /* product of all dims but the last */
int    tensor_cols(const Tensor *t);      /* the last dim */
int    tensor_same_shape(const Tensor *a, const Tensor *b);
/* "[2,3,4]" into buf (returns buf), for error messages */
const char *tensor_shape_str(const Tensor *t, char *buf, size_t n);
void   tensor_fill(Tensor *t, real v);
void   tensor_zero_grad(Tensor *t);
/* The gradient buffer made real: zero-filled now (on the pool) if it was unset. Returns t->grad.
   Not from inside a pool task (tensor_rows_view calls it too). */
real  *tensor_grad_ready(const Tensor *t);
/* 1 if the buffer was unset (the caller now writes EVERY element: e.g. a GEMM with beta 0), else
   0 (the caller adds into it); the buffer counts as written from here on. Also the beta a
   writer passes: beta = 1 - tensor_grad_claim(t). */
int    tensor_grad_claim(const Tensor *t);
/* dst takes src's gradient buffer and its flag (an op whose output's gradient IS an input's) */
void   tensor_share_grad(Tensor *dst, const Tensor *src);

#endif
