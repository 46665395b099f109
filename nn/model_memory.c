/* nn/model_memory.c — the start-up memory estimate (see model_memory.h). */
#include "nn/model_memory.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void memory_estimate(const LlamaModel *m, const MemBudget *b, MemEstimate *e) {
    const ModelConfig *c = &m->cfg;
    double rs = (double)sizeof(real);
    e->params = (double)param_store_bytes(&m->ps) + (double)c->max_seq_len * c->head_dim * rs;   /* + rope */
    e->optimizer = e->activations = 0;
    if (b && b->batch > 0) {
        double tokens = (double)b->batch * (b->seq > 0 ? b->seq : c->max_seq_len);
        e->optimizer = 2.0 * (double)param_store_count(&m->ps, PARAM_TRAINABLE) * rs;
        e->activations = tokens * rs * ((double)c->n_layers * (16.0 * c->dim + 4.0 * c->hidden_dim) + 3.0 * c->vocab_size);
    }
    e->total = e->params + e->optimizer + e->activations;
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

Status memory_check(const LlamaModel *m, const MemBudget *b, const char *source, Error *err) {
    double limit = b ? b->limit : 0;
    const char *name = b && b->limit_name ? b->limit_name : "--max-memory";
    if (limit < 0) return STATUS_OK;
    int from_ram = limit == 0;
    if (from_ram && (limit = memory_available()) <= 0) return STATUS_OK;   /* unknown: nothing to compare */
    MemEstimate e;
    memory_estimate(m, b, &e);
    if (e.total <= limit) return STATUS_OK;
    char hint[256];
    snprintf(hint, sizeof hint, "%s%s%s", m->ps.frozen_bf16 ? "" : "store the frozen base as bf16 (--base-dtype bf16), ",
             b && b->batch > 0 ? "lower --batch / --seq, " : "",
             from_ram ? "free memory, or set --max-memory if more will be available" : "or raise --max-memory");
    return error_set(err, STATUS_INVALID, hint,
                     "%s needs about %.2f GB (parameters %.2f GB with the frozen base in %s, optimizer %.2f GB, "
                     "activations %.2f GB) but %s %.2f GB", source, e.total / 1e9, e.params / 1e9,
                     m->ps.frozen_bf16 ? "bf16" : sizeof(real) == 8 ? "f64" : "f32", e.optimizer / 1e9,
                     e.activations / 1e9, from_ram ? "the available RAM is" : name, limit / 1e9);
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
