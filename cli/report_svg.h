/* cli/report_svg.h — OUT/report.svg from OUT/metrics.jsonl.
   defines: report_svg_write
   Three stacked panels drawn with plain SVG (no scripts, no external resources): training loss
   over steps, dev accuracy at each eval, and Load (mean true experts per token) per layer over
   steps, one polyline per layer. Series that are absent (no eval yet, no MoE layers) get a
   "no data" note instead of a chart. Written atomically. */
#ifndef REPORT_SVG_H
#define REPORT_SVG_H
#include "tensor/status.h"

/* title: shown on top (e.g. the run directory) */
Status report_svg_write(const char *metrics_jsonl, const char *svg_path, const char *title, Error *err);

#endif
