/* nn/moe_stats.c — router statistics: accumulation per (layer, module) and summaries per module,
   per layer (pooled over its modules, as the Eq. 6 loss pools them) and for the model (mean over
   layers). Definitions follow torch_ref.py `layer_stats` and REFERENCE.md §1.6. For one module
   or one pooled layer, over T routed rows (a token that passes 7 routed linears of a layer counts
   7 times there), with S_t the experts row t selected, n true experts, E = n + m in all and
   c_i = the (row, slot) assignments of expert i:
     Load             = (1/T) Σ_t |{e ∈ S_t : e < n}|     true experts per token (vanilla top-k: k)
     expert fraction  = c_i / Σ_j c_j                    share of all assignments; Σ_j c_j = kT
                                                         under top-k, varies under top-p, dense
     null fraction    = Σ_{i ≥ n} expert fraction_i     share that went to null experts
     bypass fraction  = (1/T) |{t : no true expert}|     tokens the experts skip (base output)
     true_hist[j]     = (1/T) |{t : j true experts}|     the distribution behind Load
     entropy          = (1/T) Σ_t -Σ_i p_ti log p_ti     nats, 0 (one-hot) .. log E (uniform)
     %FLOPs saved     = 1 - (Load + shared) / k_baseline
   The last one compares the expert compute per token with a vanilla top-k_baseline MoE of the
   same experts (AdaMoE's metric, REFERENCE.md §0): shared = always-on shared experts, which
   every token pays; a negative value means more compute than the baseline.
   Sums are kept raw (MoeModuleStats) and divided only when summarised, so pooling modules or
   forwards is exact. Pads (masked rows) never reach here: route_select gives them no
   selection and n_rows skips them. */
#include "nn/moe.h"
#include "tensor/comm.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* zeroes the sums of every (layer, module); the sizes stay */
void moe_stats_reset(MoeStats *st) {
    memset(st->mod, 0, (size_t)st->n_layers * MOE_MODULES * sizeof *st->mod);
}

/* MoeModuleStats is doubles only, so the whole table is one block of sums. Data-parallel runs
   call it at the end of every step and every evaluation: the records show the global batch's
   Load, fractions and entropy, whatever the number of ranks. */
_Static_assert(sizeof(MoeModuleStats) % sizeof(double) == 0, "MoeModuleStats must be doubles only");
void moe_stats_sum_ranks(MoeStats *st) {
    comm_sum_f64((double *)st->mod, (size_t)st->n_layers * MOE_MODULES * (sizeof *st->mod / sizeof(double)));
}

/* Adds one forward of one module: p [N, E] its router probabilities, r its selection. The
   entropy is computed here from p (in double, 0·log 0 = 0); everything else is already counted
   in r. */
/* the router entropy -Σ_i p_i log p_i of rows [b, e) of fixed blocks of STATS_BLOCK rows: each
   block's rows summed in order into its own slot (pads skipped) */
#define STATS_BLOCK 64
typedef struct { const Tensor *p; const Routing *r; double *block_h; } EntropyJob;

static void entropy_task(void *vj, long b, long e) {
    const EntropyJob *j = vj;
    const Routing *r = j->r;
    for (long blk = b; blk < e; blk++) {
        double hs = 0.0;
        long r1 = (blk + 1) * STATS_BLOCK < r->N ? (blk + 1) * STATS_BLOCK : r->N;
        for (long row = blk * STATS_BLOCK; row < r1; row++) {
            if (r->mask && !r->mask[row]) continue;   /* pad */
            const real *pr = j->p->data + (size_t)row * r->E;
            double h = 0.0;
            for (int i = 0; i < r->E; i++)
                if (pr[i] > 0) h -= (double)pr[i] * log((double)pr[i]);
            hs += h;
        }
        j->block_h[blk] = hs;
    }
}

/* The entropy runs on the pool in blocks of STATS_BLOCK rows whose sums are then added in block
   order (the same value for any thread count); the integer tallies are serial. */
void moe_stats_accumulate(MoeStats *st, int layer, int module, const Tensor *p, const Routing *r) {
    CHECK(layer >= 0 && layer < st->n_layers && module >= 0 && module < MOE_MODULES, "moe stats slot %d/%d", layer, module);
    CHECK(r->E <= MOE_MAX_EXPERTS, "moe stats: %d experts > %d", r->E, MOE_MAX_EXPERTS);
    MoeModuleStats *ms = &st->mod[layer * MOE_MODULES + module];
    long blocks = ((long)r->N + STATS_BLOCK - 1) / STATS_BLOCK;
    double local[64], *block_h = blocks <= 64 ? local : xmalloc((size_t)blocks * sizeof *block_h);
    EntropyJob j = { p, r, block_h };
    parallel_for(blocks, entropy_task, &j);
    for (long b = 0; b < blocks; b++) ms->entropy_sum += block_h[b];
    if (block_h != local) free(block_h);
    for (int row = 0; row < r->N; row++) {
        if (r->mask && !r->mask[row]) continue;   /* pad */
        ms->true_sum += r->n_true_sel[row];
        ms->bypass += r->n_true_sel[row] == 0;
        ms->true_hist[r->n_true_sel[row]] += 1;
    }
    ms->tokens += r->n_rows;
    for (int i = 0; i < r->E; i++) ms->counts[i] += r->count[i];
}

/* The definitions of the file header over the n consecutive module slots ms[0..n) of `layer`
   (1 slot: a module; MOE_MODULES slots: the pooled layer). Slots that never routed add zeros. */
static void summarise(const MoeStats *st, int layer, const MoeModuleStats *ms, int n, MoeSummary *out) {
    memset(out, 0, sizeof *out);
    int n_true = st->layer_true ? st->layer_true[layer] : st->n_true;
    int E = n_true + (st->layer_null ? st->layer_null[layer] : st->n_null);
    out->n_experts = E;
    double tokens = 0, true_sum = 0, bypass = 0, ent = 0;
    for (int j = 0; j < n; j++) {
        tokens += ms[j].tokens;
        true_sum += ms[j].true_sum;
        bypass += ms[j].bypass;
        ent += ms[j].entropy_sum;
        for (int i = 0; i < E; i++) out->expert_fraction[i] += ms[j].counts[i];
        for (int i = 0; i <= st->n_true; i++) out->true_hist[i] += ms[j].true_hist[i];
    }
    out->tokens = tokens;
    if (tokens <= 0) {
        memset(out->expert_fraction, 0, sizeof out->expert_fraction);
        memset(out->true_hist, 0, sizeof out->true_hist);
        return;
    }
    for (int i = 0; i <= st->n_true; i++) out->true_hist[i] /= tokens;
    double kT = 0;   /* all (row, expert) assignments: k·T under top-k, variable otherwise */
    for (int i = 0; i < E; i++) kT += out->expert_fraction[i];
    if (!(kT > 0)) kT = 1;
    for (int i = 0; i < E; i++) {
        out->expert_fraction[i] /= kT;
        if (i >= n_true) out->null_fraction += out->expert_fraction[i];
    }
    out->load = true_sum / tokens;
    out->bypass_fraction = bypass / tokens;
    out->entropy = ent / tokens;
    double kb = st->k_baseline > 0 ? st->k_baseline : 2.0;
    out->shared = st->n_shared;
    out->flops_saved = 1.0 - (out->load + out->shared) / kb;
}

void moe_summary_module(const MoeStats *st, int layer, int module, MoeSummary *out) {
    summarise(st, layer, &st->mod[layer * MOE_MODULES + module], 1, out);
}

void moe_summary_layer(const MoeStats *st, int layer, MoeSummary *out) {
    summarise(st, layer, &st->mod[layer * MOE_MODULES], MOE_MODULES, out);
}

/* The model: the plain mean of the per-layer summaries over the layers that saw tokens (each
   layer weighs the same; REFERENCE.md §1.6: model Load = mean over layers); tokens: the total. */
void moe_summary_model(const MoeStats *st, MoeSummary *out) {
    memset(out, 0, sizeof *out);
    out->n_experts = st->n_true + st->n_null;
    int used = 0;
    for (int l = 0; l < st->n_layers; l++) {
        MoeSummary s;
        moe_summary_layer(st, l, &s);
        if (s.tokens <= 0) continue;
        used++;
        out->tokens += s.tokens;
        out->load += s.load;
        out->null_fraction += s.null_fraction;
        out->bypass_fraction += s.bypass_fraction;
        out->entropy += s.entropy;
        for (int i = 0; i < out->n_experts; i++) out->expert_fraction[i] += s.expert_fraction[i];
        for (int i = 0; i <= st->n_true; i++) out->true_hist[i] += s.true_hist[i];
    }
    if (!used) return;
    out->load /= used;
    out->null_fraction /= used;
    out->bypass_fraction /= used;
    out->entropy /= used;
    for (int i = 0; i < out->n_experts; i++) out->expert_fraction[i] /= used;
    for (int i = 0; i <= st->n_true; i++) out->true_hist[i] /= used;
    double kb = st->k_baseline > 0 ? st->k_baseline : 2.0;
    out->shared = st->n_shared;
    out->flops_saved = 1.0 - (out->load + out->shared) / kb;
}
