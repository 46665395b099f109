/* nn/generate_matvec.c — y = W x for one row: the GEMV of the decode step (generate_rows.h).
   gemm with M = 1 would re-pack all of W on every call (70% of the time of a decode step), so
   the decode path has its own kernel: one dot product per output row, 8 independent partial
   sums (vectorisable without reassociation) combined in a fixed order. Rows are split over the
   thread pool for large W; each row is computed the same way by whichever thread owns it, so
   the result does not depend on the thread count. */
#include "nn/generate_rows.h"
#include "tensor/threads.h"
#include "tensor/half.h"
#include "tensor/quant.h"

#define MATVEC_PARALLEL_MIN (1L << 16)   /* multiply-adds; below this one thread is faster */

typedef struct {
    const real *w, *x;
    const uint16_t *w16;
    real *y;
    int in;
    const QuantMat *wq;       /* NF4 / int8 storage, else NULL */
} MatvecCtx;

static real dot_real(const real *w, const real *x, int n) {
    real acc[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += w[i + k] * x[i + k];
    real s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

static real dot_bf16(const uint16_t *w, const real *x, int n) {
    real acc[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (real)bf16_to_f32(w[i + k]) * x[i + k];
    real s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (real)bf16_to_f32(w[i]) * x[i];
    return s;
}

/* row r of an NF4 / int8 W, dequantised 256 values at a time (tensor/quant.h) */
static real dot_quant(const QuantMat *q, long r, const real *x, int n) {
    float f[256];
    real w[256], s = 0;
    for (int i = 0; i < n; i += 256) {
        int len = n - i < 256 ? n - i : 256;
        quant_dequant(q, (size_t)r * (size_t)n + (size_t)i, (size_t)len, f);
        for (int k = 0; k < len; k++) w[k] = (real)f[k];
        s += dot_real(w, x + i, len);
    }
    return s;
}

static void matvec_rows(void *vc, long r0, long r1) {
    const MatvecCtx *c = vc;
    for (long r = r0; r < r1; r++)
        c->y[r] = c->wq ? dot_quant(c->wq, r, c->x, c->in) : c->w16 ? dot_bf16(c->w16 + (size_t)r * c->in, c->x, c->in)
                         : dot_real(c->w + (size_t)r * c->in, c->x, c->in);
}

void decode_matvec(const Tensor *w, const real *x, real *y) {
    int out = w->shape[0], in = w->shape[1];
    MatvecCtx c = { w->data, x, w->bf16, y, in, w->quant };
    if ((long)out * in < MATVEC_PARALLEL_MIN) matvec_rows(&c, 0, out);
    else parallel_for_chunks(out, 16, matvec_rows, &c);
}
