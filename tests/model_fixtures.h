/* tests/model_fixtures.h — tiny random Llama models for tests (GQA, head_dim 6, untied or tied).
   defines: tiny_config, tiny_mixtral_config, tiny_model, tiny_logits, tmp_dir_new, file_truncate */
#ifndef MODEL_FIXTURES_H
#define MODEL_FIXTURES_H
#include "../nn/llama.h"

ModelConfig tiny_config(int tied);
/* tiny_config(0) with HF rows (rope_half) and a Mixtral FFN: 4 experts, top-2 */
ModelConfig tiny_mixtral_config(void);
/* declares + random base weights (seed) + adapter per acfg (A kaiming, B = b_std·N(0,1)) */
void tiny_model(LlamaModel *m, const ModelConfig *c, const AdapterConfig *acfg, uint64_t seed, double b_std);
/* logits [B*T, V] of ids in no-grad mode, copied into out (caller frees) */
real *tiny_logits(const LlamaModel *m, const int *ids, int B, int T);
/* a fresh temp directory (caller frees the string) */
char *tmp_dir_new(void);
void file_truncate(const char *path, long size);

#endif
