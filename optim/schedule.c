/* optim/schedule.c — see schedule.h. */
#include "optim/schedule.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

double lr_schedule_at(const LrSchedule *s, long step) {
    if (s->warmup > 0 && step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
    if (s->kind == LR_CONSTANT || s->total <= s->warmup) return s->lr;
    double p = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    if (p > 1) p = 1;
    if (s->kind == LR_LINEAR) return s->min_lr + (s->lr - s->min_lr) * (1.0 - p);
    return s->min_lr + (s->lr - s->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * p));
}

static const char *const LR_NAMES[] = { "constant", "linear", "cosine" };

const char *lr_schedule_name(LrScheduleKind k) { return LR_NAMES[k]; }

Status lr_schedule_parse(const char *name, LrScheduleKind *out, Error *err) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, LR_NAMES[i])) { *out = (LrScheduleKind)i; return STATUS_OK; }
    return error_set(err, STATUS_INVALID, "use constant, linear or cosine", "unknown LR schedule '%s'", name);
}

double aux_schedule_at(const AuxSchedule *s, double progress, int epoch) {
    if (progress < 0) progress = 0;
    if (progress > 1) progress = 1;
    switch (s->kind) {
    case AUX_CONST: return s->start;
    case AUX_LINEAR: return s->start + (s->end - s->start) * progress;
    case AUX_EPOCH:
        if (s->n_values == 0) return s->start;
        return s->values[epoch < s->n_values ? (epoch < 0 ? 0 : epoch) : s->n_values - 1];
    }
    return s->start;
}

Status aux_schedule_parse_kind(const char *name, AuxScheduleKind *out, Error *err) {
    static const char *const names[] = { "const", "linear", "epoch" };
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) { *out = (AuxScheduleKind)i; return STATUS_OK; }
    return error_set(err, STATUS_INVALID, "use const, linear or epoch", "unknown aux-coef schedule '%s'", name);
}

Status aux_schedule_parse_values(AuxSchedule *s, const char *list, Error *err) {
    s->n_values = 0;
    const char *p = list;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v >= 0) || isinf(v))
            return error_set(err, STATUS_INVALID, "give non-negative numbers separated by commas, e.g. 0.01,0.001",
                             "bad coefficient list '%s' at '%s'", list, p);
        if (s->n_values == AUX_MAX_EPOCH_VALUES)
            return error_set(err, STATUS_INVALID, NULL, "more than %d per-epoch coefficients", AUX_MAX_EPOCH_VALUES);
        s->values[s->n_values++] = v;
        p = *end ? end + 1 : end;
    }
    if (!s->n_values) return error_set(err, STATUS_INVALID, NULL, "empty coefficient list");
    return STATUS_OK;
}

int topk_schedule_at(const TopKSchedule *s, double progress, int epoch) {
    switch (s->kind) {
    case TOPK_NONE: return 0;
    case TOPK_LINEAR: {
        int span = s->k1 >= s->k0 ? s->k1 - s->k0 : s->k0 - s->k1;
        int i = (int)floor((span + 1) * (progress < 0 ? 0 : progress));
        if (i > span) i = span;
        return s->k1 >= s->k0 ? s->k0 + i : s->k0 - i;
    }
    case TOPK_EPOCH: return s->values[epoch < s->n_values ? (epoch < 0 ? 0 : epoch) : s->n_values - 1];
    }
    return 0;
}

int topk_schedule_final(const TopKSchedule *s) {
    return s->kind == TOPK_LINEAR ? s->k1 : s->kind == TOPK_EPOCH ? s->values[s->n_values - 1] : 0;
}

/* one k >= 1 at *p, ending at a char of `ends`; *p moves past it */
static int parse_k(const char **p, const char *ends) {
    char *end;
    long v = strtol(*p, &end, 10);
    if (end == *p || v < 1 || v > 64 || !strchr(ends, *end)) return 0;
    *p = end;
    return (int)v;
}

Status topk_schedule_parse(const char *spec, TopKSchedule *out, Error *err) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec || !strcmp(spec, "none")) return STATUS_OK;
    const char *hint = "e.g. --top-k-schedule linear:1:4 (k from 1 to 4 over the run) or epoch:1,2,4 (k per epoch)";
    const char *p = spec + 7;
    if (!strncmp(spec, "linear:", 7)) {
        out->kind = TOPK_LINEAR;
        if ((out->k0 = parse_k(&p, ":")) && *p == ':' && (p++, (out->k1 = parse_k(&p, "")))) return STATUS_OK;
    } else if (!strncmp(spec, "epoch:", 6)) {
        out->kind = TOPK_EPOCH;
        for (p = spec + 6; out->n_values < AUX_MAX_EPOCH_VALUES;) {
            int k = parse_k(&p, ",");
            if (!k) break;
            out->values[out->n_values++] = k;
            if (!*p) return STATUS_OK;
            p++;
        }
    }
    out->kind = TOPK_NONE;
    return error_set(err, STATUS_INVALID, hint, "--top-k-schedule: bad schedule '%s' (every k is an integer in 1..64)", spec);
}
