/* nn/moe_stats.c — router statistics: accumulation per (layer, module) and summaries per module,
   per layer (pooled over its modules, as the Eq. 6 loss pools them) and for the model (mean over
   layers). Definitions follow torch_ref.py `layer_stats` and REFERENCE.md §1.6:
     Load = mean over tokens of |{e ∈ S_t : e < n}|,  fractions = raw c_i / (kT),
     null fraction = Σ_{i ≥ n} c_i / (kT),  bypass = tokens with no true expert / T,
     entropy = mean_t -Σ_i p_ti log p_ti,  %FLOPs saved = 1 - (Load + shared) / k_baseline
   (shared = always-on shared experts per token; fractions divide by all assignments, = kT for top-k).
   Pads (masked rows) never reach here: route_select gives them no selection and n_rows skips them. */
#include "nn/moe.h"
#include "tensor/check.h"
#include <math.h>
#include <string.h>

void moe_stats_reset(MoeStats *st) {
    memset(st->mod, 0, (size_t)st->n_layers * MOE_MODULES * sizeof *st->mod);
}

void moe_stats_accumulate(MoeStats *st, int layer, int module, const Tensor *p, const Routing *r) {
    CHECK(layer >= 0 && layer < st->n_layers && module >= 0 && module < MOE_MODULES, "moe stats slot %d/%d", layer, module);
    CHECK(r->E <= MOE_MAX_EXPERTS, "moe stats: %d experts > %d", r->E, MOE_MAX_EXPERTS);
    MoeModuleStats *ms = &st->mod[layer * MOE_MODULES + module];
    for (int row = 0; row < r->N; row++) {
        if (r->mask && !r->mask[row]) continue;   /* pad */
        const real *pr = p->data + (size_t)row * r->E;
        double h = 0.0;
        for (int i = 0; i < r->E; i++)
            if (pr[i] > 0) h -= (double)pr[i] * log((double)pr[i]);
        ms->entropy_sum += h;
        ms->true_sum += r->n_true_sel[row];
        ms->bypass += r->n_true_sel[row] == 0;
        ms->true_hist[r->n_true_sel[row]] += 1;
    }
    ms->tokens += r->n_rows;
    for (int i = 0; i < r->E; i++) ms->counts[i] += r->count[i];
}

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
