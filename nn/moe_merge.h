/* nn/moe_merge.h — merging the LoRA experts of a trained Mo-LoRA / AdaMoE adapter, MC-SMoE style
   (Li et al. 2024, "Merge, Then Compress: Demystify Efficient SMoE with Hints from Its Routing
   Policy"), per routed linear, from routing statistics measured on data:
     1. usage f_i = (row, slot) assignments of true expert i on the calibration rows (pads out);
        the N most used experts are the group leaders (ties -> lower index), merged expert g is
        the g-th leader by index;
     2. every other expert joins the leader it is most similar to (ties -> lower index), by
          router-logits  cos(z_i, z_d) over the calibration rows (MC-SMoE's best criterion),
                         z_i = x·w_iᵀ the router logit of expert i, or
          weights        cos(ΔW_i, ΔW_d) of the updates ΔW = B·A (Frobenius);
     3. each group G becomes one expert with the usage-weighted update
          ΔW_G = Σ_{i∈G} f_i B_i A_i / Σ_{i∈G} f_i   (uniform when the group was never used),
        compressed back to the rank r by its best rank-r approximation (nn/lowrank.h; exact
        when the group's stacked rank |G|·r fits, or the group is one expert: copied);
     4. the router is rewritten: row g = Σ_{i∈G} f_i w_i / Σ f_i (the same weights), null
        expert rows are copied, top-k becomes min(k, N + m) (molora: min(k, N)).
   Deviations from MC-SMoE: experts are LoRA updates, so the merge averages the updates B·A
   (then truncates) rather than permutation-aligned FFN weights; the "compress" stage is the rank
   truncation; the router cannot represent a group's summed probability exactly (no bias), so it
   gets the usage-weighted mean row.
   defines: MergeCalib, MergeSimilarity, merge_calib_init, merge_calib_free, merge_group,
            moe_merge_config, moe_merge_into */
#ifndef MOE_MERGE_H
#define MOE_MERGE_H
#include "nn/llama.h"

typedef enum { MERGE_SIM_ROUTER_LOGITS, MERGE_SIM_WEIGHTS } MergeSimilarity;

typedef struct {
    int n_layers, n_true;
    double *count;   /* [n_layers*MOE_MODULES][n_true]   usage of each true expert */
    double *zz;      /* [n_layers*MOE_MODULES][n_true²]  Σ_rows z_i z_j (router logits) */
    double *rows;    /* [n_layers*MOE_MODULES]           calibration rows seen */
    LlamaModel *m;
} MergeCalib;

/* Attaches to m's routers (MoeState.observe): every forward from now on adds to the sums. */
void merge_calib_init(MergeCalib *c, LlamaModel *m);
/* detaches and frees */
void merge_calib_free(MergeCalib *c);
/* One router: count [n] usage, sim [n*n] similarity; group[i] (0..N-1) receives expert i's
   merged expert. 1 <= N <= n. */
void merge_group(const double *count, const double *sim, int n, int N, int *group);
/* The merged adapter's config: n_true = N, top-k clamped; an error for moe-ffn, per-layer lists
   or N outside 1..n-1. */
Status moe_merge_config(const AdapterConfig *a, int N, AdapterConfig *out, Error *err);
/* m2 (declared with moe_merge_config's config, same base) gets m's adapter merged; every other
   adapter tensor (shared experts, constant nulls) is copied. groups (may be NULL) receives, per
   (layer, module) slot, each true expert's group ([n_layers*MOE_MODULES][n_true], -1: not routed). */
Status moe_merge_into(const LlamaModel *m, const MergeCalib *c, MergeSimilarity sim, LlamaModel *m2, int *groups,
                      Error *err);

#endif
