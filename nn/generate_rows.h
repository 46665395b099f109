/* nn/generate_rows.h — the row kernels of the decode step (nn/generate.h), shared by its files;
   not an API for other modules.
   defines: decode_matvec, decode_linear, decode_swiglu, decode_routed_new, decode_routed_free,
            decode_routed_begin, decode_moe_linear, decode_moe_ffn
   generate_matvec.c  y = W x for one row (real, bf16, NF4 / int8 storage)
   generate.c         the LoRA linear and the SwiGLU FFN on one row
   generate_routed.c  Mo-LoRA / AdaMoE linears and MoE FFN blocks on one row, with plain row
                      kernels (no tape), routing through the training code's selection */
#ifndef NN_GENERATE_ROWS_H
#define NN_GENERATE_ROWS_H
#include "nn/generate.h"

/* y [out] = W x [in], W [out, in] as real, bf16 or NF4 / int8 storage; rows split over the thread
   pool when W is large (every row summed the same way by whichever thread owns it) */
void decode_matvec(const Tensor *w, const real *x, real *y);
/* y = W x (+ b) (+ the Mo-LoRA / AdaMoE experts) + s·B(A x): lora_linear_forward on one row */
void decode_linear(DecodeState *s, const LoraLinear *l, const real *x, real *y);
/* out [C] = down(silu(gate(h)) * up(h)) through decode_linear (the dense FFN and every MoE expert) */
void decode_swiglu(DecodeState *s, const LoraLinear *gate, const LoraLinear *up, const LoraLinear *down,
                   const real *h, real *out);

/* the routed modules' scratch of one DecodeState (generate_routed.c): allocated once */
DecodeRouted *decode_routed_new(const LlamaModel *m);
void decode_routed_free(DecodeRouted *rt);
/* before the layers of one step: the previous step's routing records and pre-gating inputs
   forgotten, the router log of m->moe emptied (nothing in it refers to a decode step) */
void decode_routed_begin(DecodeState *s);
/* y [out] (= W x (+ b) on entry) += the experts of x [in] (moe_linear_forward_into on one row) */
void decode_moe_linear(DecodeState *s, const MoeLinear *ml, const real *x, real *y);
/* out [C] = the MoE FFN block of the normed row h [C] (moe_ffn_forward on one row) */
void decode_moe_ffn(DecodeState *s, const MoeFfn *f, const real *h, real *out);

#endif
