/* tests/support/model_fixtures.h — tiny random Llama models for tests (GQA, head_dim 6, untied or tied).
   defines: tiny_config, tiny_mixtral_config, tiny_model, tiny_logits, greedy_by_full_forward,
            decode_vs_full, tmp_dir_new, tmp_dir_remove, dir_count_entries, file_truncate */
#ifndef MODEL_FIXTURES_H
#define MODEL_FIXTURES_H
#include "nn/llama.h"

ModelConfig tiny_config(int tied);
/* tiny_config(0) with HF rows (rope_half) and a Mixtral FFN: 4 experts, top-2 */
ModelConfig tiny_mixtral_config(void);
/* declares + random base weights (seed) + adapter per acfg (A kaiming, B = b_std·N(0,1)) */
void tiny_model(LlamaModel *m, const ModelConfig *c, const AdapterConfig *acfg, uint64_t seed, double b_std);
/* logits [B*T, V] of ids in no-grad mode, copied into out (caller frees) */
real *tiny_logits(const LlamaModel *m, const int *ids, int B, int T);
/* the naive twin of greedy generation: `steps` ids, each the argmax (first on ties) of the last
   row of a full no-grad forward over the whole prefix (n_prompt + steps <= 64) */
void greedy_by_full_forward(const LlamaModel *m, const int *prompt, int n_prompt, int steps, int *out);
/* max |cached - full| over every logit of every position: decode_step (nn/generate.h) at
   positions 0..T-1 against the rows of one full forward of ids [T] */
double decode_vs_full(const LlamaModel *m, const int *ids, int T);
/* a fresh temp directory (caller frees the string) */
char *tmp_dir_new(void);
/* rm -rf d, then frees the string */
void tmp_dir_remove(char *d);
/* entries of a directory other than . and .. */
int dir_count_entries(const char *dir);
void file_truncate(const char *path, long size);

#endif
