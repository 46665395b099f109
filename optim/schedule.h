/* optim/schedule.h — learning-rate and aux-loss-coefficient schedules.
   defines: LrSchedule, LrScheduleKind, lr_schedule_at, lr_schedule_parse,
            AuxSchedule, AuxScheduleKind, aux_schedule_at, aux_schedule_parse_kind
   LR: linear warmup from 0 over `warmup` steps, then constant / linear decay to min_lr /
   cosine decay to min_lr at `total` steps (the shapes of HF transformers' schedulers).
   Aux coefficient (AdaMoE's "tight then loose", REFERENCE.md §1.5): const, linear from `start`
   to `end` over the run, or `epoch`: values[e] during epoch e (the last value repeats). */
#ifndef SCHEDULE_H
#define SCHEDULE_H
#include "tensor/status.h"

typedef enum { LR_CONSTANT, LR_LINEAR, LR_COSINE } LrScheduleKind;

typedef struct {
    LrScheduleKind kind;
    double lr, min_lr;
    long warmup, total;
} LrSchedule;

double lr_schedule_at(const LrSchedule *s, long step);     /* step is 0-based */
Status lr_schedule_parse(const char *name, LrScheduleKind *out, Error *err);
const char *lr_schedule_name(LrScheduleKind k);

typedef enum { AUX_CONST, AUX_LINEAR, AUX_EPOCH } AuxScheduleKind;

#define AUX_MAX_EPOCH_VALUES 32
typedef struct {
    AuxScheduleKind kind;
    double start, end;                                  /* const uses start */
    double values[AUX_MAX_EPOCH_VALUES];
    int n_values;
} AuxSchedule;

/* progress = step / total_steps in [0, 1]; epoch 0-based */
double aux_schedule_at(const AuxSchedule *s, double progress, int epoch);
Status aux_schedule_parse_kind(const char *name, AuxScheduleKind *out, Error *err);
/* "0.01,0.001" -> values */
Status aux_schedule_parse_values(AuxSchedule *s, const char *list, Error *err);

#endif
