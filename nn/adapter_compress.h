/* nn/adapter_compress.h — ComPEFT (Yadav et al. 2023, "ComPEFT: Compression for Communicating
   Parameter Efficient Updates via Sparsification and Quantization") on a LoRA / Mo-LoRA / AdaMoE
   adapter: every LoRA tensor (lora_A, lora_B, per expert, and shared experts) keeps its
   ceil(density·n) largest-magnitude values (ties -> lower index) and the rest become 0; with
   ternary, the kept values become sign(v)·c with one scale c per tensor:
     c = mean |kept values|   (default: the least-squares scale for those signs), or
     c = alpha·σ(v)           (ComPEFT's form: σ = the tensor's standard deviation before
                              compression, alpha the paper's tuned multiplier, `std_scale`)
   Routers and constant-null vectors stay dense (they are small and decide the routing). The
   adapter stays a dense PEFT adapter (loadable as before); the size ratio is what a sparse
   encoding would take: per tensor, positions min(n, kept·ceil(log2 n)) bits (a bitmap or a list
   of indices, whichever is smaller) plus 32 bits per kept value, or 1 sign bit per kept value +
   one 32-bit scale when ternary; uncompressed = 32 bits per value. The "LoRA" figures count the
   compressed tensors only, the "adapter" ones add the dense routers on both sides.
   defines: CompressSpec, CompressStats, compress_tensor, adapter_compress */
#ifndef ADAPTER_COMPRESS_H
#define ADAPTER_COMPRESS_H
#include <stddef.h>
#include "nn/llama.h"

typedef struct {
    double density;     /* (0, 1]: fraction of each tensor's values kept */
    int ternary;        /* signs times one scale per tensor */
    double std_scale;   /* > 0: ternary scale = std_scale·σ(v) (ComPEFT), else mean |kept| */
} CompressSpec;

typedef struct {
    int tensors;
    size_t values, kept;
    double lora_bits, lora_bits_compressed;   /* the compressed (LoRA) tensors */
    double other_bits;                        /* routers and other dense adapter tensors */
} CompressStats;

/* one tensor v [n] in place; adds to st (may be NULL) */
void compress_tensor(real *v, size_t n, const CompressSpec *c, CompressStats *st);
/* every LoRA tensor of m's adapter; an error for a spec out of range or a model without adapter */
Status adapter_compress(LlamaModel *m, const CompressSpec *c, CompressStats *st, Error *err);

#endif
