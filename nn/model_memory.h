/* nn/model_memory.h — how much memory a run will take, checked before anything big is allocated.
   defines: MemRecompute, MemBudget, MemEstimate, MemPlan, memory_estimate, memory_estimate_mode,
            memory_available, memory_check, memory_parse_size, memory_pack_bytes, MEM_RUNTIME_BYTES,
            MEM_GEMM_SCRATCH_BYTES
   The estimate is made from a model whose parameters are declared but not yet allocated
   (llama_declare_params): the parameter blocks exactly (param_store_bytes: frozen, trainable
   values and their gradients), the RoPE table; for training the AdamW moments and decay mask
   (2 x trainable reals + 1 byte each), the step arena counted op by op for B x T rows, with
   activation recompute or without (nn/memory_acts.h), and the runtime: the process itself
   (MEM_RUNTIME_BYTES: code, libc, the tape's entry array, data) and each thread's GEMM packing
   scratch (MEM_GEMM_SCRATCH_BYTES). The limit is MemBudget.limit bytes, or the RAM available
   now (MemAvailable in /proc/meminfo) when it is 0; a negative limit turns the check off.
   Recompute (nn/recompute.h) under MEM_RECOMPUTE_AUTO is on only when the estimate without it
   exceeds the limit and the estimate with it fits (it costs about one more forward per step);
   memory_check writes the decision and its reason into MemBudget.plan. */
#ifndef MODEL_MEMORY_H
#define MODEL_MEMORY_H
#include "nn/llama.h"
#include "tensor/status.h"

#define MEM_RUNTIME_BYTES 24e6                      /* the process besides its big blocks */
#define MEM_GEMM_SCRATCH_BYTES (7e6 * sizeof(real) / 4)   /* per thread: packed KC x NC + MC x KC */
/* what training keeps of frozen f32 matrices' GEMM panels at most (tensor/pack_cache.h; the
   trainer and bench enable it): ~120 MB for a stories15M-shaped LoRA run, a bf16 / NF4 base none */
#define MEM_PACK_CACHE_BYTES ((size_t)256 << 20)

typedef enum { MEM_RECOMPUTE_AUTO, MEM_RECOMPUTE_OFF, MEM_RECOMPUTE_ON } MemRecompute;

typedef struct { double params, optimizer, activations, runtime, total; } MemEstimate;

typedef struct MemPlan {
    int recompute;                     /* the decision: 1 = activation recompute on */
    MemEstimate chosen, without, with; /* the estimate of the decision, and of both modes */
    double limit;                      /* bytes compared against (0: no check) */
    char why[256];                     /* "auto: the estimate without it, 9.12 GB, exceeds ..." */
} MemPlan;

typedef struct {
    double limit;          /* bytes; 0 = available RAM; < 0 = no check */
    int batch, seq;        /* training batch (0: inference only, no optimizer / activation term);
                              seq 0: the trainer's default, min(256, context) */
    const char *limit_name;   /* how the user sets it, for messages ("--max-memory"); NULL: that */
    MemRecompute recompute;   /* AUTO (0), OFF or ON */
    MemPlan *plan;            /* when non-NULL, memory_check writes its decision here */
} MemBudget;

/* the estimate in b's mode (ON: with recompute; AUTO or OFF: without) */
void memory_estimate(const LlamaModel *declared, const MemBudget *b, MemEstimate *e);
void memory_estimate_mode(const LlamaModel *declared, const MemBudget *b, int recompute, MemEstimate *e);
/* bytes of RAM available (MemAvailable, else free pages); 0 when unknown */
double memory_available(void);
/* STATUS_INVALID when the estimate exceeds the limit (in AUTO: with recompute too): the estimate's
   parts and what to change; also when recompute is ON with pre-gating (nn/recompute.h). */
Status memory_check(const LlamaModel *declared, const MemBudget *b, const char *source, Error *err);
/* bytes of GEMM panels training keeps (tensor/pack_cache.h; at most MEM_PACK_CACHE_BYTES);
   *lm_head_kept (may be NULL): the LM head's are among them (then its op packs nothing itself) */
double memory_pack_bytes(const LlamaModel *declared, int *lm_head_kept);
/* "12G", "800M", "64k", "1.5G", plain bytes; 1 if valid (> 0) */
int memory_parse_size(const char *s, double *bytes);

#endif
