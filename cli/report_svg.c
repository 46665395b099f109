/* cli/report_svg.c — see report_svg.h. Reads the records {"type":"train","step","loss",
   "load_per_layer"?} and {"type":"eval","step","acc"} and draws them. */
#include "cli/report_svg.h"
#include "data/atomic_file.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 64
#define PANEL_W 720
#define PANEL_H 200
#define MARGIN_L 60
#define MARGIN_T 40

typedef struct { double *x, *y; int n, cap; } Series;

typedef struct {
    Series loss, acc, load[MAX_LAYERS];
    int n_layers;
} Metrics;

static void series_push(Series *s, double x, double y) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->x = xrealloc(s->x, (size_t)s->cap * sizeof *s->x);
        s->y = xrealloc(s->y, (size_t)s->cap * sizeof *s->y);
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

static int collect(void *ctx, const JsonValue *row, int line_no, Error *err) {
    (void)line_no; (void)err;
    Metrics *m = ctx;
    const char *type;
    double step, v;
    if (!json_get_string(row, "type", &type) || !json_get_number(row, "step", &step)) return 0;
    if (!strcmp(type, "train") && json_get_number(row, "loss", &v)) {
        series_push(&m->loss, step, v);
        const JsonValue *lp = json_get(row, "load_per_layer");
        for (size_t i = 0; lp && lp->type == JSON_ARRAY && i < lp->count && i < MAX_LAYERS; i++) {
            if (lp->items[i].type != JSON_NUMBER) continue;
            series_push(&m->load[i], step, lp->items[i].number);
            if ((int)i + 1 > m->n_layers) m->n_layers = (int)i + 1;
        }
    } else if (!strcmp(type, "eval") && json_get_number(row, "acc", &v)) {
        series_push(&m->acc, step, v);
    }
    return 0;
}

/* the y range over several series, padded a little; x range likewise */
static void ranges(const Series *s, int n, double *x0, double *x1, double *y0, double *y1) {
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < s[k].n; i++) {
            *x0 = fmin(*x0, s[k].x[i]); *x1 = fmax(*x1, s[k].x[i]);
            if (isfinite(s[k].y[i])) { *y0 = fmin(*y0, s[k].y[i]); *y1 = fmax(*y1, s[k].y[i]); }
        }
    if (!(*x1 > *x0)) *x1 = *x0 + 1;
    if (!(*y1 > *y0)) { *y0 -= 0.5; *y1 += 0.5; }
    double pad = 0.05 * (*y1 - *y0);
    *y0 -= pad; *y1 += pad;
}

static void panel(FILE *f, int top, const char *title, const Series *s, int n) {
    static const char *const colors[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                          "#8c564b", "#e377c2", "#17becf" };
    int w = PANEL_W - MARGIN_L - 20, h = PANEL_H - 50;
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", MARGIN_L, top + 16, title);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", MARGIN_L, top + 24, w, h);
    int any = 0;
    for (int k = 0; k < n; k++) any |= s[k].n > 0;
    if (!any) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#777\">no data</text>\n", MARGIN_L + 10, top + 24 + h / 2);
        return;
    }
    double x0, x1, y0, y1;
    ranges(s, n, &x0, &x1, &y0, &y1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%.4g</text>\n", MARGIN_L - 4, top + 32, y1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%.4g</text>\n", MARGIN_L - 4, top + 24 + h, y0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\">step %.0f</text>\n", MARGIN_L, top + 38 + h, x0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">step %.0f</text>\n", MARGIN_L + w, top + 38 + h, x1);
    for (int k = 0; k < n; k++) {
        if (!s[k].n) continue;
        const char *c = colors[k % 8];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", c);
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].y[i])) continue;
            double px = MARGIN_L + (s[k].x[i] - x0) / (x1 - x0) * w;
            double py = top + 24 + h - (s[k].y[i] - y0) / (y1 - y0) * h;
            fprintf(f, "%.1f,%.1f ", px, py);
        }
        fprintf(f, "\"/>\n");
        if (s[k].n == 1 || n == 1) {   /* single points (e.g. one eval) stay visible */
            for (int i = 0; i < s[k].n && s[k].n <= 50; i++) {
                double px = MARGIN_L + (s[k].x[i] - x0) / (x1 - x0) * w;
                double py = top + 24 + h - (s[k].y[i] - y0) / (y1 - y0) * h;
                if (isfinite(py)) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px, py, c);
            }
        }
        if (n > 1)
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"%s\">layer %d</text>\n",
                    MARGIN_L + w - 60, top + 36 + 12 * k, c, k);
    }
}

static void metrics_free(Metrics *m) {
    free(m->loss.x); free(m->loss.y); free(m->acc.x); free(m->acc.y);
    for (int i = 0; i < MAX_LAYERS; i++) { free(m->load[i].x); free(m->load[i].y); }
}

/* escapes &, <, > and quotes for an SVG text node */
static void put_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

Status report_svg_write(const char *metrics_jsonl, const char *svg_path, const char *title, Error *err) {
    Metrics m;
    memset(&m, 0, sizeof m);
    Status s = jsonl_foreach(metrics_jsonl, collect, &m, err);
    AtomicFile af;
    if (!s) s = atomic_write_begin(&af, svg_path, err);
    if (s) { metrics_free(&m); return s; }
    int height = MARGIN_T + 3 * PANEL_H;
    fprintf(af.f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"24\" font-size=\"16\">",
            PANEL_W, height, MARGIN_L);
    put_escaped(af.f, title ? title : "moetrain run");
    fprintf(af.f, "</text>\n");
    panel(af.f, MARGIN_T, "training loss", &m.loss, 1);
    panel(af.f, MARGIN_T + PANEL_H, "dev accuracy", &m.acc, 1);
    panel(af.f, MARGIN_T + 2 * PANEL_H, "Load per layer (true experts per token)", m.load, m.n_layers);
    fprintf(af.f, "</svg>\n");
    metrics_free(&m);
    return atomic_write_commit(&af, err);
}
