/* optim/schedule.h — learning-rate and aux-loss-coefficient schedules.
   defines: LrSchedule, LrScheduleKind, lr_schedule_at, lr_schedule_parse,
            AuxSchedule, AuxScheduleKind, aux_schedule_at, aux_schedule_parse_kind,
            TopKSchedule, TopKScheduleKind, topk_schedule_at, topk_schedule_parse, topk_schedule_final
   LR: linear warmup from 0 over `warmup` steps, then constant / linear decay to min_lr /
   cosine decay to min_lr at `total` steps (the shapes of HF transformers' schedulers).
   Aux coefficient (AdaMoE's "tight then loose", REFERENCE.md §1.5): const, linear from `start`
   to `end` over the run, or `epoch`: values[e] during epoch e (the last value repeats).
   Active experts (SMoE-Dropout, Chen et al. 2023: the number of active experts grows during
   training): `linear:K0:K1` splits the run into |K1-K0|+1 equal parts, part i using K0 ± i
   (k = K0 + floor((K1-K0+1)·progress), clamped to K1; 1:4 over 60 steps = 15 steps each of
   1, 2, 3, 4), or `epoch:k1,k2,...` (k_e during epoch e, the last repeats). */
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

typedef enum { TOPK_NONE, TOPK_LINEAR, TOPK_EPOCH } TopKScheduleKind;

typedef struct {
    TopKScheduleKind kind;
    int k0, k1;                                         /* linear */
    int values[AUX_MAX_EPOCH_VALUES];                   /* epoch */
    int n_values;
} TopKSchedule;

/* the k of this point of the run (0 for TOPK_NONE: each router's own k) */
int topk_schedule_at(const TopKSchedule *s, double progress, int epoch);
/* "" or "none", "linear:K0:K1", "epoch:k1,k2,..." (every k >= 1) */
Status topk_schedule_parse(const char *spec, TopKSchedule *out, Error *err);
/* the k the run ends with (K1, or the last epoch value; 0 for none) */
int topk_schedule_final(const TopKSchedule *s);

#endif
