/* cli/train_field.c — see train_field.h. */
#include "cli/train_field.h"
#include "nn/adapter_experts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int flag_seen(const Flag *flags, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(flags[i].name, name)) return flags[i].seen;
    return 0;
}

/* "D1,D2,D3" -> 3 (empty entries are an error: -1) */
static int count_dirs(const char *s) {
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    if (!*s || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,")) return -1;
    return n;
}

/* the adapter's top-k under a schedule: --eval-top-k final | all | N */
static Status eval_k(const TrainOptions *o, const TopKSchedule *ts, int *k, Error *err) {
    int experts = atoi(o->ad.experts_s), null = strcmp(o->ad.adapter, "adamoe") ? 0 : atoi(o->ad.null_s);
    char *end;
    if (!strcmp(o->eval_top_k, "final")) *k = topk_schedule_final(ts);
    else if (!strcmp(o->eval_top_k, "all")) *k = experts + null;
    else if ((*k = (int)strtol(o->eval_top_k, &end, 10)) < 1 || *end)
        return error_set(err, STATUS_INVALID, "e.g. --eval-top-k final, all or 4", "--eval-top-k: '%s' is not final, all or "
                         "an integer >= 1", o->eval_top_k);
    return STATUS_OK;
}

static Status resolve_schedule(TrainOptions *o, const Flag *flags, int n, Error *err) {
    TopKSchedule ts;
    Status s = topk_schedule_parse(o->topk_schedule, &ts, err);
    if (s || ts.kind == TOPK_NONE) return s;
    if (strcmp(o->ad.adapter, "molora") && strcmp(o->ad.adapter, "adamoe"))
        return error_set(err, STATUS_INVALID, "use --adapter molora or adamoe", "--top-k-schedule needs routed LoRA experts");
    if (flag_seen(flags, n, "top-k"))
        return error_set(err, STATUS_INVALID, "leave out --top-k: --eval-top-k (final | all | N) sets the adapter's top-k",
                         "--top-k and --top-k-schedule both given");
    if (strchr(o->ad.experts_s, ',') || strchr(o->ad.null_s, ','))
        return error_set(err, STATUS_INVALID, NULL, "--top-k-schedule needs one --experts / --null value for every layer");
    int k;
    if ((s = eval_k(o, &ts, &k, err))) return s;
    snprintf(o->field_text[1], sizeof o->field_text[1], "%d", k);
    o->ad.top_k_s = o->field_text[1];
    return STATUS_OK;
}

Status train_field_resolve(TrainOptions *o, const Flag *flags, int n, Error *err) {
    if (o->experts_from) {
        int nd = count_dirs(o->experts_from);
        if (nd < 1) return error_set(err, STATUS_INVALID, "e.g. --experts-from runs/rte/adapter,runs/cola/adapter",
                                     "--experts-from: '%s' is not a comma list of directories", o->experts_from);
        if (!flag_seen(flags, n, "experts")) {
            snprintf(o->field_text[0], sizeof o->field_text[0], "%d", nd);
            o->ad.experts_s = o->field_text[0];
        }
    }
    return resolve_schedule(o, flags, n, err);
}

Status train_field_apply(LlamaModel *m, const TrainOptions *o, TrainConfig *tc, Error *err) {
    Status s = topk_schedule_parse(o->topk_schedule, &tc->topk, err);
    if (s) return s;
    if (tc->topk.kind != TOPK_NONE)
        printf("  top-k schedule %s during training; evaluation and the saved adapter use top-%d (--eval-top-k %s)\n",
               o->topk_schedule, m->acfg.top_k, o->eval_top_k);
    if (m->acfg.router_frozen) printf("  router: frozen random initialisation (SMoE-Dropout), no aux loss\n");
    if (m->acfg.pregate) printf("  pre-gating: layer l's routers read layer l-1's module inputs (layer 0: its own)\n");
    if (!o->experts_from) return STATUS_OK;
    char buf[4096], *dirs[MOE_MAX_EXPERTS];
    int nd = 0;
    snprintf(buf, sizeof buf, "%s", o->experts_from);
    for (char *p = strtok(buf, ","); p && nd < MOE_MAX_EXPERTS; p = strtok(NULL, ",")) dirs[nd++] = p;
    s = adapter_experts_from(m, (const char *const *)dirs, nd, err);
    if (!s) printf("  experts from %d LoRA adapters: %s%s\n", nd, o->experts_from,
                   m->acfg.freeze_experts ? " (frozen)" : "");
    return s;
}
