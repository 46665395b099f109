/* cli/plot_svg.c — see plot_svg.h. */
#include "cli/plot_svg.h"
#include "cli/svg.h"
#include "tensor/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAD_L 58   /* room for the y tick labels and the y axis title */
#define PAD_R 12
#define PAD_T 26   /* the title */
#define PAD_B 36   /* x tick labels and the x axis title */

void series_push_err(Series *s, double x, double y, double ex, double ey) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->x = xrealloc(s->x, (size_t)s->cap * sizeof *s->x);
        s->y = xrealloc(s->y, (size_t)s->cap * sizeof *s->y);
        s->ex = xrealloc(s->ex, (size_t)s->cap * sizeof *s->ex);
        s->ey = xrealloc(s->ey, (size_t)s->cap * sizeof *s->ey);
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->ex[s->n] = ex;
    s->ey[s->n++] = ey;
}

void series_push(Series *s, double x, double y) { series_push_err(s, x, y, NAN, NAN); }

void series_free(Series *s) {
    free(s->x); free(s->y); free(s->ex); free(s->ey);
    memset(s, 0, sizeof *s);
}

void plot_init(Plot *p, const char *title, const char *xlabel, const char *ylabel) {
    memset(p, 0, sizeof *p);
    p->title = title;
    p->xlabel = xlabel;
    p->ylabel = ylabel;
    p->y_lo = p->y_hi = p->x_lo = p->x_hi = NAN;
}

void plot_add(Plot *p, PlotLine line) {
    if (p->n_lines < PLOT_MAX_LINES) p->lines[p->n_lines++] = line;
}

void plot_ref(Plot *p, double y, const char *label, const char *color) {
    if (p->n_refs < PLOT_MAX_REFS && isfinite(y)) p->refs[p->n_refs++] = (PlotRef){ y, label, color };
}

static void widen(double *lo, double *hi, double v) {
    if (!isfinite(v)) return;
    if (isnan(*lo) || v < *lo) *lo = v;
    if (isnan(*hi) || v > *hi) *hi = v;
}

/* the data ranges (error bars included), widened by the requested ranges and the refs */
static int data_ranges(const Plot *p, double *x0, double *x1, double *y0, double *y1) {
    int any = 0;
    *x0 = *x1 = *y0 = *y1 = NAN;
    for (int k = 0; k < p->n_lines; k++) {
        const Series *s = p->lines[k].s;
        for (int i = 0; i < s->n; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
            any = 1;
            double ex = isfinite(s->ex[i]) ? s->ex[i] : 0, ey = isfinite(s->ey[i]) ? s->ey[i] : 0;
            widen(x0, x1, s->x[i] - ex); widen(x0, x1, s->x[i] + ex);
            widen(y0, y1, s->y[i] - ey); widen(y0, y1, s->y[i] + ey);
        }
    }
    widen(x0, x1, p->x_lo); widen(x0, x1, p->x_hi);
    widen(y0, y1, p->y_lo); widen(y0, y1, p->y_hi);
    for (int r = 0; r < p->n_refs; r++) widen(y0, y1, p->refs[r].y);
    return any;
}

typedef struct { double x0, x1, y0, y1; int left, top, w, h; } Frame;

static double px(const Frame *fr, double x) { return fr->left + (x - fr->x0) / (fr->x1 - fr->x0) * fr->w; }
static double py(const Frame *fr, double y) { return fr->top + fr->h - (y - fr->y0) / (fr->y1 - fr->y0) * fr->h; }

/* ticks, grid lines and their labels on both axes */
static void axes(FILE *f, Frame *fr) {
    double xt[SVG_MAX_TICKS], yt[SVG_MAX_TICKS], xs, ys;
    char buf[32];
    int nx = svg_nice_ticks(&fr->x0, &fr->x1, fr->w > 300 ? 6 : 4, xt, &xs);
    int ny = svg_nice_ticks(&fr->y0, &fr->y1, 5, yt, &ys);
    for (int i = 0; i < ny; i++) {
        double y = py(fr, yt[i]);
        svg_tick_label(yt[i], ys, buf, sizeof buf);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n", fr->left, y, fr->left + fr->w, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">%s</text>\n", fr->left - 5, y + 3.5, buf);
    }
    for (int i = 0; i < nx; i++) {
        double x = px(fr, xt[i]);
        svg_tick_label(xt[i], xs, buf, sizeof buf);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e6e6e6\"/>\n", x, fr->top, x, fr->top + fr->h);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">%s</text>\n", x,
                fr->top + fr->h + 13, buf);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", fr->left, fr->top, fr->w, fr->h);
}

static void line_series(FILE *f, const Frame *fr, const PlotLine *l) {
    const Series *s = l->s;
    if (l->width > 0 && s->n > 1) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s points=\"", l->color, l->width,
                l->dashed ? " stroke-dasharray=\"6,4\"" : "");
        for (int i = 0; i < s->n; i++)
            if (isfinite(s->x[i]) && isfinite(s->y[i])) fprintf(f, "%.1f,%.1f ", px(fr, s->x[i]), py(fr, s->y[i]));
        fprintf(f, "\"/>\n");
    }
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
        double cx = px(fr, s->x[i]), cy = py(fr, s->y[i]);
        if (isfinite(s->ey[i]) && s->ey[i] > 0)
            fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"%s\" fill=\"none\"/>\n", cx,
                    py(fr, s->y[i] - s->ey[i]), py(fr, s->y[i] + s->ey[i]), cx - 4, py(fr, s->y[i] - s->ey[i]), cx + 4,
                    cx - 4, py(fr, s->y[i] + s->ey[i]), cx + 4, l->color);
        if (isfinite(s->ex[i]) && s->ex[i] > 0)
            fprintf(f, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"%s\" fill=\"none\"/>\n", px(fr, s->x[i] - s->ex[i]), cy,
                    px(fr, s->x[i] + s->ex[i]), l->color);
        if (l->markers || s->n == 1)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", cx, cy, l->color);
    }
    if (l->point_label && s->n > 0 && isfinite(s->y[0])) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"%s\">", px(fr, s->x[0]) + 7, py(fr, s->y[0]) - 6, l->color);
        svg_escape(f, l->point_label);
        fprintf(f, "</text>\n");
    }
}

/* the legend: one row per labelled line and reference, in a box in a corner of the frame */
static void legend(FILE *f, const Frame *fr, const Plot *p) {
    const char *label[PLOT_MAX_LINES + PLOT_MAX_REFS], *color[PLOT_MAX_LINES + PLOT_MAX_REFS];
    int dashed[PLOT_MAX_LINES + PLOT_MAX_REFS], n = 0;
    size_t longest = 0;
    for (int k = 0; k < p->n_lines + p->n_refs; k++) {
        int ref = k >= p->n_lines;
        const char *l = ref ? p->refs[k - p->n_lines].label : p->lines[k].label;
        if (!l) continue;
        label[n] = l;
        color[n] = ref ? p->refs[k - p->n_lines].color : p->lines[k].color;
        dashed[n++] = ref || p->lines[k].dashed;
        if (strlen(l) > longest) longest = strlen(l);
    }
    if (!n) return;
    int bw = (int)(longest * 5.3) + 34, bh = 13 * n + 6;
    int bx = p->legend_left ? fr->left + 6 : fr->left + fr->w - 6 - bw;
    int by = p->legend_left ? fr->top + fr->h - 6 - bh : fr->top + 6;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ddd\"/>\n",
            bx, by, bw, bh);
    for (int i = 0; i < n; i++) {
        int y = by + 14 + 13 * i;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", bx + 6, y - 4,
                bx + 24, y - 4, color[i], dashed[i] ? " stroke-dasharray=\"4,3\"" : "");
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#333\">", bx + 28, y);
        svg_escape(f, label[i]);
        fprintf(f, "</text>\n");
    }
}

void plot_panel(FILE *f, int x, int y, int w, int h, const Plot *p) {
    fprintf(f, "<g>\n<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">", x + PAD_L, y + 16);
    svg_escape(f, p->title);
    fprintf(f, "</text>\n");
    Frame fr = { .left = x + PAD_L, .top = y + PAD_T, .w = w - PAD_L - PAD_R, .h = h - PAD_T - PAD_B };
    if (!data_ranges(p, &fr.x0, &fr.x1, &fr.y0, &fr.y1)) {
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n", fr.left, fr.top, fr.w, fr.h);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#777\" text-anchor=\"middle\">no data</text>\n</g>\n",
                fr.left + fr.w / 2, fr.top + fr.h / 2);
        return;
    }
    axes(f, &fr);
    for (int r = 0; r < p->n_refs; r++) {
        double ry = py(&fr, p->refs[r].y);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/>\n",
                fr.left, ry, fr.left + fr.w, ry, p->refs[r].color);
    }
    for (int k = 0; k < p->n_lines; k++) line_series(f, &fr, &p->lines[k]);
    legend(f, &fr, p);
    if (p->xlabel)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">%s</text>\n",
                fr.left + fr.w / 2, fr.top + fr.h + 28, p->xlabel);
    if (p->ylabel)
        fprintf(f, "<text transform=\"translate(%d,%d) rotate(-90)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">%s</text>\n",
                x + 12, fr.top + fr.h / 2, p->ylabel);
    fprintf(f, "</g>\n");
}
