/* tensor/quant.h — 4-bit NormalFloat (NF4) and 8-bit storage of frozen weight matrices.
   defines: QuantKind, QuantMat, QUANT_NF4_CODE, QUANT_NF4_BLOCK, QUANT_DQ_GROUP, quant_bytes,
            quant_bind, quant_encode, quant_finish, quant_set_f32, quant_dequant, quant_value
   A matrix W [rows, cols] (row-major, flat index i = r·cols + c) is stored as codes + scales:
     NF4   (Dettmers et al. 2023, "QLoRA", §3): per block of 64 consecutive values (flat index),
           absmax a_b = max |w|; each w/a_b is replaced by the nearest of the 16 NormalFloat-4 code
           values q_k (QUANT_NF4_CODE, the paper's published constants: quantiles of N(0,1)
           normalised to [-1, 1] with an exact 0), 4 bits each, two per byte (element 2j in the low
           nibble of byte j). Dequantised: w' = q_k · a_b. Nearest = the index that counts the
           midpoints (q_k + q_k+1)/2 (float) strictly below w/a_b, so a value on a midpoint takes
           the lower code.
           Double quantisation (optional, QLoRA §3 "Double Quantization"): the block scales are
           centred by their mean μ (over the whole matrix, computed in double) and stored as int8
           per group of 256 blocks with step d_g = max_g |a_b − μ| / 127: a'_b = round(.)·d_g + μ.
           The paper stores 8-bit floats; we use symmetric 8-bit integers (same 8 bits, simpler;
           the scale error is then at most d_g/2). ≈ 4.13 bits per weight, against 4.5 without.
     INT8  symmetric per output row: s_r = max_c |w[r][c]| / 127, w' = round(w/s_r)·s_r, codes in
           [-127, 127] (LLM.int8's absmax row-wise quantisation without the outlier split).
   Rounding is round-half-even (rintf) in float, and every step is a single float operation, so a
   float32 reference (PyTorch: torch.round, float32 division) reproduces the codes exactly.
   Storage: one caller-owned byte block of quant_bytes() (64-byte aligned parts), carved by
   quant_bind; encoding runs chunk by chunk (quant_encode: a range of whole NF4 blocks / whole
   rows), then quant_finish (double quantisation needs every block scale first). */
#ifndef QUANT_H
#define QUANT_H
#include <stddef.h>
#include <stdint.h>

typedef enum { QUANT_NF4 = 1, QUANT_INT8 = 2 } QuantKind;

#define QUANT_NF4_BLOCK 64
#define QUANT_DQ_GROUP 256

extern const float QUANT_NF4_CODE[16];

typedef struct QuantMat {
    QuantKind kind;
    int rows, cols, double_quant;
    size_t numel, n_blocks;       /* n_blocks: NF4 blocks of 64 (the last may be short) */
    uint8_t *codes;               /* NF4: (numel + 1) / 2 bytes; INT8: numel int8 values */
    float *scales;                /* NF4: a_b per block (not with double_quant); INT8: s_r per row */
    int8_t *scale_q;              /* NF4 + double_quant: round((a_b − μ) / d_g) per block */
    float *group_step;            /* NF4 + double_quant: d_g per group of 256 blocks */
    float scale_mean;             /* NF4 + double_quant: μ */
    float *pending;               /* NF4 + double_quant while encoding: the f32 a_b (malloc'd) */
} QuantMat;

/* bytes of the storage block of a [rows, cols] matrix (a multiple of 64) */
size_t quant_bytes(QuantKind kind, int double_quant, int rows, int cols);
/* q describes a [rows, cols] matrix stored in mem (quant_bytes of it, 64-byte aligned) */
void quant_bind(QuantMat *q, QuantKind kind, int double_quant, int rows, int cols, void *mem);
/* Encodes src[0..n) as the values at flat indices i0..i0+n. NF4: i0 and n multiples of 64 (n may
   end at numel); INT8: whole rows (i0, n multiples of cols). */
void quant_encode(QuantMat *q, const float *src, size_t i0, size_t n);
/* After every value is encoded: double quantisation of the NF4 scales (nothing otherwise). */
void quant_finish(QuantMat *q);
/* the whole matrix from f32 values: quant_encode of everything, then quant_finish */
void quant_set_f32(QuantMat *q, const float *src);
/* out[0..n) = the dequantised values at flat indices i0..i0+n (any range) */
void quant_dequant(const QuantMat *q, size_t i0, size_t n, float *out);
/* one dequantised value, straight from the definitions (the naive twin of quant_dequant) */
float quant_value(const QuantMat *q, size_t i);

#endif
