/* nn/base_init.h — random base weights, one tensor at a time.
   defines: BaseInitStream, base_init_covers, base_init_stream, base_init_next, hf_write_random,
            RandomWriteProgress
   The draws of llama_init_base_random / llama_init_base_fan_in (nn/llama.h) come from ONE
   generator, rng_derive(seed, 2), consumed tensor after tensor in declaration order, two
   rng_u64 per value (rng_normal). A tensor's values therefore depend only on where its first
   draw is, which rng_skip finds without computing the normals: hf_write_random uses that to
   write a random model of any size straight to a safetensors file, tensor by tensor in the
   file's (name) order, 4096 values at a time, and gets exactly the bytes that filling the model
   in memory and writing it would give. That is how `./train make-tiny --format hf` writes a
   Llama-3-8B-shaped model on a machine that could not hold it in f32. */
#ifndef BASE_INIT_H
#define BASE_INIT_H
#include "nn/llama.h"
#include "nn/safetensors.h"

typedef struct {
    Rng rng;            /* at the tensor's next draw */
    int norm;           /* a norm weight: 1 + 0.1·N(0, 1) */
    double sd;          /* matrices and biases: sd·N(0, 1) */
    float mul;          /* then × mul in float (1/sqrt(in) with fan_in, else 1) */
} BaseInitStream;

/* 1 if the base initialisation fills t (everything but adapters: LoRA, routers, gate2) */
int  base_init_covers(const Tensor *t);
/* the stream of t's values, its first draw at *at (the caller advances *at by 2·numel) */
void base_init_stream(const LlamaModel *m, const Tensor *t, double std, int fan_in, const Rng *at,
                      BaseInitStream *s);
void base_init_next(BaseInitStream *s, float *out, size_t n);

/* called after each chunk with the bytes written so far and the total */
typedef struct {
    void (*fn)(void *ctx, double done, double total);
    void *ctx;
} RandomWriteProgress;

/* dir/model.safetensors (and dir/config.json when write_config) of the DECLARED, unallocated
   model m (llama_declare_params, HF row layout, no adapter) with llama_init_base_fan_in(seed)'s
   values in `dtype` (F32, BF16, F16); memory used: the header and one 16 KB chunk. */
Status hf_write_random(const LlamaModel *m, uint64_t seed, const char *dir, SafeDtype dtype, int write_config,
                       const RandomWriteProgress *progress, Error *err);

#endif
