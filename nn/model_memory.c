/* nn/model_memory.c — the start-up memory estimate (see model_memory.h). */
#include "nn/model_memory.h"
#include "nn/memory_acts.h"
#include "tensor/comm.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the panels training keeps (MEM_PACK_CACHE_BYTES at most): both orientations of every frozen
   matrix a GEMM multiplies, which are f32 unless the base is bf16 / quantised (the untied
   embedding is only looked up). All of them fit the cap, or the first ones used do: the LM head,
   used last, is then taken as not kept. */
double memory_pack_bytes(const LlamaModel *m, int *lm_head_kept) {
    const ParamStore *ps = &m->ps;
    if (lm_head_kept) *lm_head_kept = 0;
    if (ps->frozen_bf16 || ps->frozen_quant || !gemm_takes_packed()) return 0;
    double bytes = 0;
    int lm_frozen = 0;
    for (int i = 0; i < ps->n; i++) {
        const Tensor *t = ps->params[i];
        if (ps->roles[i] != PARAM_FROZEN || t->ndim != 2 || (t == m->tok_emb && t != m->lm_head)) continue;
        lm_frozen |= t == m->lm_head;
        bytes += (double)(gemm_packed_b_reals(t->shape[0], t->shape[1]) + gemm_packed_b_reals(t->shape[1], t->shape[0])) *
                 sizeof(real) + 128;
    }
    if (lm_head_kept) *lm_head_kept = lm_frozen && bytes <= (double)MEM_PACK_CACHE_BYTES;
    return bytes < (double)MEM_PACK_CACHE_BYTES ? bytes : (double)MEM_PACK_CACHE_BYTES;
}

void memory_estimate_mode(const LlamaModel *m, const MemBudget *b, int recompute, MemEstimate *e) {
    const ModelConfig *c = &m->cfg;
    double rs = (double)sizeof(real);
    e->params = (double)param_store_bytes(&m->ps) + (double)c->max_seq_len * c->head_dim * rs;   /* + rope */
    e->optimizer = e->activations = e->runtime = 0;
    if (b && b->batch > 0) {
        int T = b->seq > 0 ? b->seq : c->max_seq_len < 256 ? c->max_seq_len : 256;
        int R = comm_size(), B = b->batch % R == 0 ? b->batch / R : b->batch;   /* rows per rank */
        double nt = (double)param_store_count(&m->ps, PARAM_TRAINABLE);
        e->optimizer = 2.0 * nt * rs + nt;   /* AdamW m, v and the decay mask */
        MemActs a;
        memory_activations(m, B, T, recompute, threads_count(), &a);
        e->activations = a.peak;
        e->runtime = MEM_RUNTIME_BYTES + threads_count() * MEM_GEMM_SCRATCH_BYTES + memory_pack_bytes(m, NULL);
    }
    e->total = e->params + e->optimizer + e->activations + e->runtime;
}

void memory_estimate(const LlamaModel *m, const MemBudget *b, MemEstimate *e) {
    memory_estimate_mode(m, b, b && b->recompute == MEM_RECOMPUTE_ON, e);
}

double memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb > 0) return kb * 1024.0;
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

/* the decision of b's mode against limit (<= 0: none) into p (nn/model_memory.h) */
static void plan(const LlamaModel *m, const MemBudget *b, double limit, const char *name, MemPlan *p) {
    MemRecompute mode = b ? b->recompute : MEM_RECOMPUTE_AUTO;
    int training = b && b->batch > 0, can = !m->acfg.pregate;
    memset(p, 0, sizeof *p);
    p->limit = limit > 0 ? limit : 0;
    memory_estimate_mode(m, b, 0, &p->without);
    memory_estimate_mode(m, b, 1, &p->with);
    if (mode != MEM_RECOMPUTE_AUTO || !training) {
        p->recompute = mode == MEM_RECOMPUTE_ON;
        snprintf(p->why, sizeof p->why, "%s", mode == MEM_RECOMPUTE_ON ? "--recompute on" : mode == MEM_RECOMPUTE_OFF ? "--recompute off" : "no training");
    } else if (limit <= 0 || p->without.total <= limit) {
        snprintf(p->why, sizeof p->why, "auto: the estimate without it, %.2f GB, fits %s%s%.2f GB", p->without.total / 1e9,
                 limit > 0 ? name : "(no limit)", limit > 0 ? " " : "", limit / 1e9);
    } else {
        p->recompute = can;
        snprintf(p->why, sizeof p->why, "auto: the estimate without it, %.2f GB, exceeds %s %.2f GB%s; with it %.2f GB",
                 p->without.total / 1e9, name, limit / 1e9, can ? "" : " (--pregate rules recompute out)", p->with.total / 1e9);
    }
    p->chosen = p->recompute ? p->with : p->without;
}

Status memory_check(const LlamaModel *m, const MemBudget *b, const char *source, Error *err) {
    double limit = b ? b->limit : 0;
    const char *name = b && b->limit_name ? b->limit_name : "--max-memory";
    if (b && b->recompute == MEM_RECOMPUTE_ON && m->acfg.pregate)
        return error_set(err, STATUS_INVALID, "drop --pregate, or train with --recompute off",
                         "--recompute on cannot be combined with --pregate: pre-gating routes each layer on the previous "
                         "layer's module inputs, which recompute does not keep");
    int from_ram = limit == 0;
    if (from_ram) limit = memory_available();   /* 0 when unknown: nothing to compare */
    MemPlan p;
    plan(m, b, limit, from_ram ? "the available RAM" : name, &p);
    if (b && b->plan) *b->plan = p;
    const MemEstimate *e = &p.chosen;
    if (limit <= 0 || e->total <= limit) return STATUS_OK;
    char hint[320];
    int rc_helps = !p.recompute && !m->acfg.pregate && b && b->batch > 0 && p.with.total <= limit;
    snprintf(hint, sizeof hint, "%s%s%s%s", rc_helps ? "use --recompute auto or on (activation recompute fits), " : "",
             m->ps.frozen_bf16 ? "" : "store the frozen base as bf16 (--base-dtype bf16), ",
             b && b->batch > 0 ? "lower --batch / --seq, " : "",
             from_ram ? "free memory, or set --max-memory if more will be available" : "or raise --max-memory");
    return error_set(err, STATUS_INVALID, hint,
                     "%s needs about %.2f GB (parameters %.2f GB with the frozen base in %s, optimizer %.2f GB, "
                     "activations %.2f GB with recompute %s, runtime %.2f GB) but %s %.2f GB", source, e->total / 1e9,
                     e->params / 1e9, m->ps.frozen_bf16 ? "bf16" : sizeof(real) == 8 ? "f64" : "f32", e->optimizer / 1e9,
                     e->activations / 1e9, p.recompute ? "on" : "off", e->runtime / 1e9,
                     from_ram ? "the available RAM is" : name, limit / 1e9);
}

int memory_parse_size(const char *s, double *bytes) {
    char *end;
    double v = strtod(s, &end);
    double unit = 1;
    if (end == s) return 0;
    if (*end == 'k' || *end == 'K') unit = 1e3, end++;
    else if (*end == 'm' || *end == 'M') unit = 1e6, end++;
    else if (*end == 'g' || *end == 'G') unit = 1e9, end++;
    else if (*end == 't' || *end == 'T') unit = 1e12, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end || !(v > 0) || v * unit > 1e18) return 0;
    *bytes = v * unit;
    return 1;
}
