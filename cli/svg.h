/* cli/svg.h — small helpers for the SVG pages the commands write (report.svg, results.svg, the
   routing heat map): plain SVG 1.1, no scripts, no external resources, written atomically.
   defines: svg_begin, svg_end, svg_escape, svg_nice_ticks, svg_tick_label, SVG_MAX_TICKS
   Axis ticks are "nice" numbers (1, 2 or 5 times a power of ten) that cover the data range,
   labelled with only the decimals their step needs (0.25, not 0.2500001; never "-0"). */
#ifndef CLI_SVG_H
#define CLI_SVG_H
#include "data/atomic_file.h"
#include <stdio.h>

#define SVG_MAX_TICKS 16

/* opens path for writing and puts the <svg> element (width x height) with a white background */
Status svg_begin(AtomicFile *af, const char *path, int width, int height, Error *err);
/* closes the <svg> element and commits the file */
Status svg_end(AtomicFile *af, Error *err);
/* s with & < > " escaped (for text nodes and attribute values) */
void svg_escape(FILE *f, const char *s);
/* about `target` nice ticks covering [*lo, *hi]; widens *lo / *hi to the outer ticks and
   returns the number of ticks written to ticks[] (2..SVG_MAX_TICKS); *step the spacing */
int svg_nice_ticks(double *lo, double *hi, int target, double *ticks, double *step);
/* v printed with the decimals that `step` needs */
void svg_tick_label(double v, double step, char *buf, size_t n);

#endif
