/* cli/recompute_option.c — --recompute (see recompute_option.h). */
#include "cli/recompute_option.h"
#include <stdio.h>
#include <string.h>

Status recompute_option_parse(const char *s, MemRecompute *out, Error *err) {
    if (!s || !strcmp(s, "auto")) *out = MEM_RECOMPUTE_AUTO;
    else if (!strcmp(s, "on")) *out = MEM_RECOMPUTE_ON;
    else if (!strcmp(s, "off")) *out = MEM_RECOMPUTE_OFF;
    else return error_set(err, STATUS_INVALID, NULL, "--recompute must be auto, on or off, got '%s'", s);
    return STATUS_OK;
}

void recompute_option_print(const MemPlan *p) {
    const MemEstimate *e = &p->chosen;
    printf("  memory: estimate %.2f GB (parameters %.2f, optimizer %.2f, activations %.2f, runtime %.2f GB); "
           "activation recompute %s (%s)\n", e->total / 1e9, e->params / 1e9, e->optimizer / 1e9, e->activations / 1e9,
           e->runtime / 1e9, p->recompute ? "on" : "off", p->why);
}
