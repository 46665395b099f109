/* cli/plot_svg.h — one chart panel in an SVG page (report.svg, results.svg): a frame, nice axis
   ticks with light grid lines, any number of series (lines and / or markers, optional error bars
   in x and y, dashed reference lines), a legend and axis titles.
   defines: Series, series_push, series_free, PlotLine, PlotRef, Plot, plot_panel, PLOT_MAX_*
   A panel whose series are all empty says "no data". Non-finite points are skipped. */
#ifndef CLI_PLOT_SVG_H
#define CLI_PLOT_SVG_H
#include <stdio.h>

typedef struct { double *x, *y, *ex, *ey; int n, cap; } Series;   /* ex / ey: error bars or NULL */

void series_push(Series *s, double x, double y);
/* with error bars (half-widths; NAN or 0 = none) */
void series_push_err(Series *s, double x, double y, double ex, double ey);
void series_free(Series *s);

#define PLOT_MAX_LINES 24
#define PLOT_MAX_REFS 8

typedef struct {
    const Series *s;
    const char *label;       /* legend text, NULL = not in the legend */
    const char *color;
    double width;            /* stroke width; 0 = no line (markers only) */
    int markers;             /* circles at the points */
    int dashed;
    const char *point_label; /* text next to the first point (results.svg), or NULL */
} PlotLine;

typedef struct { double y; const char *label; const char *color; } PlotRef;   /* dashed horizontal line */

typedef struct {
    const char *title, *xlabel, *ylabel;
    PlotLine lines[PLOT_MAX_LINES];
    int n_lines;
    PlotRef refs[PLOT_MAX_REFS];
    int n_refs;
    double y_lo, y_hi;       /* a range the y axis must include (NAN: the data's only) */
    double x_lo, x_hi;       /* likewise for x */
    int legend_left;         /* legend in the lower left corner instead of the upper right */
} Plot;

/* Plot with no lines, no refs and NAN ranges */
void plot_init(Plot *p, const char *title, const char *xlabel, const char *ylabel);
void plot_add(Plot *p, PlotLine line);
void plot_ref(Plot *p, double y, const char *label, const char *color);
/* draws p in the box (x, y, w, h) of the page, title included */
void plot_panel(FILE *f, int x, int y, int w, int h, const Plot *p);

#endif
