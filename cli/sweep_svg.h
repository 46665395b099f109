/* cli/sweep_svg.h — OUT/results.svg of `./train sweep`: the paper's accuracy / compute trade-off
   as a plot, one panel per task: each configuration a point at (mean Load, mean dev accuracy)
   with error bars of one standard deviation over seeds in both directions, labelled with its
   name and the expert FLOPs it saves against top-2 (1 - Load/2).
   defines: SweepPoint, sweep_svg_write */
#ifndef CLI_SWEEP_SVG_H
#define CLI_SWEEP_SVG_H
#include "tensor/status.h"

typedef struct {
    const char *config;          /* "k2", "m5k4", ... */
    double acc, acc_std;         /* dev accuracy in %, over the seeds that finished */
    double load, load_std;
    int n;                       /* seeds that finished */
} SweepPoint;

/* pts[t * n_configs + c] */
Status sweep_svg_write(const char *path, char *const *tasks, int n_tasks, const SweepPoint *pts, int n_configs,
                       int seeds, Error *err);

#endif
