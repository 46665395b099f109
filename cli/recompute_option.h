/* cli/recompute_option.h — the --recompute auto|on|off option of train, forward-backward and
   bench --mode (activation recompute per decoder layer, nn/recompute.h; the automatic choice is
   nn/model_memory.h's MemPlan).
   defines: RECOMPUTE_HELP, recompute_option_parse, recompute_option_print */
#ifndef RECOMPUTE_OPTION_H
#define RECOMPUTE_OPTION_H
#include "nn/model_memory.h"

#define RECOMPUTE_HELP "auto | on | off: re-run each decoder layer's forward in the backward instead of keeping " \
                       "its activations (auto: on when the memory estimate only fits with it)"

/* "auto" | "on" | "off" (NULL: auto) */
Status recompute_option_parse(const char *s, MemRecompute *out, Error *err);
/* "  memory: estimate 3.41 GB (parameters ..., optimizer ..., activations ..., runtime ...);
   activation recompute on (auto: ...)" */
void recompute_option_print(const MemPlan *p);

#endif
