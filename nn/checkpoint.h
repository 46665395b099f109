/* nn/checkpoint.h — base-model checkpoints: llama2.c .bin (read + write) and the helpers they
   share with the Hugging Face loader.
   defines: param_set_f32, param_get_f32, llama2c_read_config, llama2c_load, llama2c_write,
            hf_read_config, hf_load, hf_write, hf_write_weights, hf_write_config, hf_copy_config, model_load,
            rope_permute_rows, BASE_DTYPE_AUTO, model_load_budget, hf_load_budget, llama2c_load_budget
   llama2.c format (karpathy/llama2.c; REFERENCE.md §4.1):
     v0 (legacy): 7 x int32 {dim, hidden, layers, heads, kv_heads, vocab, seq_len}; vocab < 0
        means an unshared classifier stored at the end; weights tok, rms_att, wq, wk, wv, wo,
        rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag (skipped), [wcls]
     v1: uint32 magic "ak42" (0x616b3432), int32 version 1, the 7 ints, uint8 shared flag,
        zero padding to 256 bytes; weights rms_att, rms_ffn, rms_final, tok, wq, wk, wv, wo,
        w1, w2, w3, [wcls]
   All float32 little-endian; per-layer tensors are stacked over layers. q/k rows are in Meta
   layout, so the model uses interleaved RoPE; eps 1e-5, theta 10000 (fixed by run.c). */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H
#include "nn/llama.h"
#include "tensor/status.h"
#include "nn/safetensors.h"
#include "nn/model_memory.h"

/* frozen_bf16 argument of the loaders: keep the checkpoint's own dtype (bf16 storage when every
   base matrix in the file is BF16, else f32). 0 = f32 (real) storage, 1 = bf16. */
#define BASE_DTYPE_AUTO (-1)

/* Copies n float32 values into a parameter (converting to real, or to bf16 storage). */
void param_set_f32(Tensor *t, const float *src);
/* Reads a parameter back as float32 (from real or bf16 storage). */
void param_get_f32(const Tensor *t, float *dst);

Status llama2c_read_config(const char *path, ModelConfig *cfg, int *version, Error *err);
/* Reads the header, declares the model with `acfg` and loads the base weights. */
Status llama2c_load(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, Error *err);
/* Writes the base weights as llama2.c v0 or v1 (atomic). The model must be in Meta layout
   (rope_half == 0). Used by tests to make fixtures and by `convert`. */
Status llama2c_write(const LlamaModel *m, const char *path, int version, Error *err);

/* Hugging Face directory: config.json + model.safetensors (or sharded index), F32/F16/BF16. */
Status hf_read_config(const char *dir, ModelConfig *cfg, Error *err);
Status hf_load(LlamaModel *m, const char *dir, const AdapterConfig *acfg, int frozen_bf16, Error *err);
/* config.json (nn/hf_config.c): see there for the keys honoured and refused. */
/* Writes config.json + model.safetensors (q/k rows converted to HF layout if needed), with the
   family keys (model_type llama / qwen2 / mixtral, attention_bias, rope_scaling, eos list). */
Status hf_write(const LlamaModel *m, const char *dir, SafeDtype dtype, Error *err);
/* model.safetensors only. Tensors in real storage are converted while writing, bf16 storage
   written as BF16 is copied as is: no copy of the model is held in memory (Meta q/k rows, which
   must be permuted, excepted). */
Status hf_write_weights(const LlamaModel *m, const char *dir, SafeDtype dtype, Error *err);
/* config.json only (torch_dtype from dtype), the keys hf_write writes. */
Status hf_write_config(const ModelConfig *c, const char *dir, SafeDtype dtype, Error *err);
/* Copies src_dir/config.json byte for byte to dst_dir/config.json (atomic). */
Status hf_copy_config(const char *src_dir, const char *dst_dir, Error *err);
/* A directory is read as HF, a file as llama2.c. Before anything is allocated, the file's
   tensors are checked against the config (names, shapes, dtypes; llama2.c: the file size) and
   the memory estimate against the budget (NULL: the available RAM, parameters only). */
Status model_load(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, Error *err);
Status model_load_budget(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, const MemBudget *b,
                         Error *err);
Status hf_load_budget(LlamaModel *m, const char *dir, const AdapterConfig *acfg, int frozen_bf16, const MemBudget *b,
                      Error *err);
Status llama2c_load_budget(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, const MemBudget *b,
                           Error *err);
/* Permutes q/k rows between Meta and HF layouts, in place (w [heads*D, cols]). */
void rope_permute_rows(float *w, int heads, int D, int cols, int to_hf);

#endif
