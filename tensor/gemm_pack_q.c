/* tensor/gemm_pack_q.c — packing a GEMM B panel from an NF4 / int8 matrix (tensor/quant.h).
   defines: gemm_pack_q
   The packed layout is gemm_pack's (gemm_pack.c): ceil(n/R) panels of kc x R values, k-major,
   dst[panel·ps + p·R + r] (ps >= R·kc, the panel stride), the tail panel zero-padded. A quantised weight W [rows, cols] is
   always read along one of its own rows, so every source run is contiguous in W's flat index:
     sk == 1  (op(B) = Wᵀ, the forward y = x·Wᵀ): panel row r is W's row, k runs along it;
     sr == 1  (op(B) = W, the backward dX = dY·W): for each p (a row of W) the panel rows run along it.
   Each run is dequantised into a small buffer (quant_dequant) and scattered into the panel, so at
   most one panel's worth of f32 values exists at a time: the forward and the backward read the
   same dequantised values. */
#include "tensor/gemm_kernels.h"
#include "tensor/quant.h"
#include "tensor/check.h"

#define RUN 1024    /* values dequantised per call */

void gemm_pack_q(real *dst, int R, const QuantMat *q, size_t off, size_t sr, size_t sk, int n, int kc, size_t ps) {
    CHECK(sk == 1 || sr == 1, "gemm_pack_q: a quantised B is read along its rows (sr %zu, sk %zu)", sr, sk);
    float tmp[RUN];
    int panels = (n + R - 1) / R;
    if (sk == 1) {
        for (int r = 0; r < n; r++) {
            real *d = dst + (size_t)(r / R) * ps + r % R;
            for (int p0 = 0; p0 < kc; p0 += RUN) {
                int len = kc - p0 < RUN ? kc - p0 : RUN;
                quant_dequant(q, off + (size_t)r * sr + (size_t)p0, (size_t)len, tmp);
                for (int p = 0; p < len; p++) d[(size_t)(p0 + p) * R] = (real)tmp[p];
            }
        }
    } else {   /* runs of a whole number of panels (RUN / R * R values) */
        for (int p = 0; p < kc; p++)
            for (int r0 = 0; r0 < n; r0 += RUN / R * R) {
                int len = n - r0 < RUN / R * R ? n - r0 : RUN / R * R;
                quant_dequant(q, off + (size_t)p * sk + (size_t)r0, (size_t)len, tmp);
                for (int i = 0; i < len; i += R) {   /* R consecutive values: one panel's row p */
                    real *d = dst + (size_t)((r0 + i) / R) * ps + (size_t)p * R;
                    int m = len - i < R ? len - i : R;
                    for (int j = 0; j < m; j++) d[j] = (real)tmp[i + j];
                }
            }
    }
    for (int r = n; r < panels * R; r++)     /* the tail panel's padding rows */
        for (int p = 0; p < kc; p++) dst[(size_t)(r / R) * ps + (size_t)p * R + r % R] = 0;
}
