/* cli/sweep_svg.c — see sweep_svg.h. */
#include "cli/sweep_svg.h"
#include "cli/plot_svg.h"
#include "cli/svg.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PANEL_W 560
#define PANEL_H 360
#define MAX_CONFIGS 24

static const char *const COLORS[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf" };

static void task_panel(FILE *f, int x, int y, const char *task, const SweepPoint *pts, int n_configs) {
    Series s[MAX_CONFIGS];
    char labels[MAX_CONFIGS][64], title[128];
    Plot p;
    snprintf(title, sizeof title, "%s: dev accuracy against Load", task);
    plot_init(&p, title, "Load (true experts per token; expert FLOPs follow it)", "dev accuracy (%)");
    memset(s, 0, sizeof s);
    for (int c = 0; c < n_configs && c < MAX_CONFIGS; c++) {
        const SweepPoint *q = &pts[c];
        if (q->n == 0 || !isfinite(q->acc)) continue;
        series_push_err(&s[c], q->load, q->acc, q->load_std, q->acc_std);
        double saved = 100 * (1 - q->load / 2);
        if (isfinite(q->load) && fabs(saved) < 0.5) snprintf(labels[c], sizeof labels[c], "%s (±0%% FLOPs)", q->config);
        else if (isfinite(q->load)) snprintf(labels[c], sizeof labels[c], "%s (%+.0f%% FLOPs)", q->config, -saved);
        else snprintf(labels[c], sizeof labels[c], "%s", q->config);
        plot_add(&p, (PlotLine){ .s = &s[c], .color = COLORS[c % 8], .markers = 1, .point_label = labels[c] });
    }
    double most = 0;
    for (int c = 0; c < n_configs; c++) if (pts[c].n && isfinite(pts[c].load) && pts[c].load > most) most = pts[c].load;
    p.x_lo = 0;
    p.x_hi = most + 0.6;   /* room for the labels right of the points */
    plot_panel(f, x, y, PANEL_W, PANEL_H, &p);
    for (int c = 0; c < MAX_CONFIGS; c++) series_free(&s[c]);
}

Status sweep_svg_write(const char *path, char *const *tasks, int n_tasks, const SweepPoint *pts, int n_configs,
                       int seeds, Error *err) {
    int cols = n_tasks > 1 ? 2 : 1, rows = (n_tasks + cols - 1) / cols;
    int width = 20 + cols * (PANEL_W + 10), height = 80 + rows * (PANEL_H + 10);
    AtomicFile af;
    Status s = svg_begin(&af, path, width, height, err);
    if (s) return s;
    fprintf(af.f, "<text x=\"20\" y=\"28\" font-size=\"18\" font-weight=\"bold\">Accuracy against Load</text>\n"
                  "<text x=\"20\" y=\"48\" font-size=\"12\" fill=\"#444\">one point per configuration: the mean over %d seed(s), "
                  "bars = one standard deviation over seeds;</text>\n<text x=\"20\" y=\"64\" font-size=\"12\" fill=\"#444\">"
                  "FLOPs: expert FLOPs against top-2 (1 - Load/2). kK = top-K, mMkK = M null experts, top-K</text>\n", seeds);
    for (int t = 0; t < n_tasks; t++)
        task_panel(af.f, 10 + (t % cols) * (PANEL_W + 10), 74 + (t / cols) * (PANEL_H + 10), tasks[t],
                   pts + (size_t)t * n_configs, n_configs);
    return svg_end(&af, err);
}
