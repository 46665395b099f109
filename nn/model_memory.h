/* nn/model_memory.h — how much memory a run will take, checked before anything big is allocated.
   defines: MemBudget, MemEstimate, memory_estimate, memory_available, memory_check,
            memory_parse_size
   The estimate is made from a model whose parameters are declared but not yet allocated
   (llama_declare_params): the parameter blocks exactly (param_store_bytes), the RoPE table, and
   for training the AdamW moments (2 x trainable) plus a rough activation term per token
   (B·T·layers·(16·dim + 4·hidden) values kept for backward, plus logits B·T·vocab x 3). The
   limit is MemBudget.limit bytes, or the RAM available now (MemAvailable in /proc/meminfo)
   when it is 0; a negative limit turns the check off. */
#ifndef MODEL_MEMORY_H
#define MODEL_MEMORY_H
#include "nn/llama.h"

typedef struct {
    double limit;          /* bytes; 0 = available RAM; < 0 = no check */
    int batch, seq;        /* training batch (0: inference only, no optimizer / activation term) */
    const char *limit_name;   /* how the user sets it, for messages ("--max-memory"); NULL: that */
} MemBudget;

typedef struct { double params, optimizer, activations, total; } MemEstimate;

void memory_estimate(const LlamaModel *declared, const MemBudget *b, MemEstimate *e);
/* bytes of RAM available (MemAvailable, else free pages); 0 when unknown */
double memory_available(void);
/* STATUS_INVALID when the estimate exceeds the limit: the estimate's parts and what to change */
Status memory_check(const LlamaModel *declared, const MemBudget *b, const char *source, Error *err);
/* "12G", "800M", "64k", "1.5G", plain bytes; 1 if valid (> 0) */
int memory_parse_size(const char *s, double *bytes);

#endif
