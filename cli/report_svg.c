/* cli/report_svg.c — see report_svg.h. Reads the records {"type":"train","step","loss","aux",
   "aux_coef","lr","load_per_layer"?}, {"type":"eval","step","task","acc","mcc","null_fraction"?,
   "bypass_fraction"?,"router_entropy"?} and {"type":"summary",...}, the run's config.json and
   adapter/adapter_config.json beside metrics.jsonl when present, and lays the panels out two
   per row. */
#include "cli/report_svg.h"
#include "cli/plot_svg.h"
#include "cli/report_header.h"
#include "cli/svg.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 64
#define PAGE_W 1100
#define PANEL_W 540
#define PANEL_H 250

typedef struct {
    Series loss, smooth, lr, aux, aux_coef, acc, mcc, null_f, bypass_f, entropy, load[MAX_LAYERS];
    int n_layers, cola, has_summary;
    double final_acc, best_acc, final_mcc, final_load, best_step;
} Metrics;

static int collect(void *ctx, const JsonValue *row, int line_no, Error *err) {
    (void)line_no; (void)err;
    Metrics *m = ctx;
    const char *type, *task;
    double step, v;
    if (!json_get_string(row, "type", &type) || !json_get_number(row, "step", &step)) return 0;
    if (!strcmp(type, "train") && json_get_number(row, "loss", &v)) {
        series_push(&m->loss, step, v);
        if (json_get_number(row, "lr", &v)) series_push(&m->lr, step, v);
        if (json_get_number(row, "aux", &v)) series_push(&m->aux, step, v);
        if (json_get_number(row, "aux_coef", &v)) series_push(&m->aux_coef, step, v);
        const JsonValue *lp = json_get(row, "load_per_layer");
        for (size_t i = 0; lp && lp->type == JSON_ARRAY && i < lp->count && i < MAX_LAYERS; i++) {
            if (lp->items[i].type != JSON_NUMBER) continue;
            series_push(&m->load[i], step, lp->items[i].number);
            if ((int)i + 1 > m->n_layers) m->n_layers = (int)i + 1;
        }
    } else if (!strcmp(type, "summary") && json_get_number(row, "final_acc", &m->final_acc)) {
        m->has_summary = 1;
        if (!json_get_number(row, "best_acc", &m->best_acc)) m->best_acc = m->final_acc;
        if (!json_get_number(row, "best_step", &m->best_step)) m->best_step = step;
        if (!json_get_number(row, "final_mcc", &m->final_mcc)) m->final_mcc = NAN;
        if (!json_get_number(row, "load", &m->final_load)) m->final_load = NAN;
    } else if (!strcmp(type, "eval") && json_get_number(row, "acc", &v)) {
        series_push(&m->acc, step, v);
        if (json_get_number(row, "mcc", &v)) series_push(&m->mcc, step, v);
        if (json_get_string(row, "task", &task) && !strcmp(task, "cola")) m->cola = 1;
        if (json_get_number(row, "null_fraction", &v)) series_push(&m->null_f, step, v);
        if (json_get_number(row, "bypass_fraction", &v)) series_push(&m->bypass_f, step, v);
        if (json_get_number(row, "router_entropy", &v)) series_push(&m->entropy, step, v);
    }
    return 0;
}

/* a centred moving average over about n/25 points (the raw loss of small batches is noisy) */
static int smooth(const Series *in, Series *out) {
    int w = in->n / 25;
    if (w < 1) return 0;
    for (int i = 0; i < in->n; i++) {
        double s = 0;
        int k = 0;
        for (int j = i - w; j <= i + w; j++)
            if (j >= 0 && j < in->n && isfinite(in->y[j])) { s += in->y[j]; k++; }
        series_push(out, in->x[i], k ? s / k : NAN);
    }
    return 2 * w + 1;
}

static void metrics_free(Metrics *m) {
    Series *all[] = { &m->loss, &m->smooth, &m->lr, &m->aux, &m->aux_coef, &m->acc, &m->mcc, &m->null_f,
                      &m->bypass_f, &m->entropy };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) series_free(all[i]);
    for (int i = 0; i < MAX_LAYERS; i++) series_free(&m->load[i]);
}

static const char *const COLORS[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf" };

static PlotLine line_of(const Series *s, const char *label, const char *color, double width, int markers) {
    return (PlotLine){ .s = s, .label = label, .color = color, .width = width, .markers = markers };
}

static void panel_loss(FILE *f, int x, int y, Metrics *m) {
    Plot p;
    char label[64];
    plot_init(&p, "Training loss", "step", "loss");
    p.x_lo = 0;
    int w = smooth(&m->loss, &m->smooth);
    plot_add(&p, line_of(&m->loss, w ? "per step" : "loss", w ? "#9ecae1" : COLORS[0], 1, 0));
    snprintf(label, sizeof label, "moving average (%d steps)", w);
    if (w) plot_add(&p, line_of(&m->smooth, label, COLORS[0], 2.2, 0));
    plot_panel(f, x, y, PANEL_W, PANEL_H, &p);
}

static void panel_acc(FILE *f, int x, int y, const Metrics *m) {
    Plot p;
    plot_init(&p, m->cola ? "Dev accuracy and MCC" : "Dev accuracy", "step", m->cola ? "accuracy / MCC" : "accuracy");
    p.x_lo = 0;
    plot_add(&p, line_of(&m->acc, "accuracy", COLORS[0], 1.8, 1));
    if (m->cola) plot_add(&p, line_of(&m->mcc, "MCC", COLORS[1], 1.8, 1));
    plot_panel(f, x, y, PANEL_W, PANEL_H, &p);
}

/* Load per layer, and the balance point k·n/(n+m) of each distinct layer shape, dashed */
static void panel_load(FILE *f, int x, int y, const Metrics *m, const ReportConfig *rc) {
    Plot p;
    char labels[MAX_LAYERS][24], refs[PLOT_MAX_REFS][96];
    plot_init(&p, "Load per layer (true experts per token)", "step", "Load");
    for (int l = 0; l < m->n_layers && l < PLOT_MAX_LINES; l++) {
        snprintf(labels[l], sizeof labels[l], "layer %d", l);
        plot_add(&p, line_of(&m->load[l], m->n_layers <= 8 ? labels[l] : NULL, COLORS[l % 8], 1.4, 0));
    }
    for (int i = 0; i < rc->n_targets && i < PLOT_MAX_REFS; i++) {
        snprintf(refs[i], sizeof refs[i], "%s k·n/(n+m) = %d·%d/%d = %.2f", rc->aux_eq6 ? "Eq. 6 balance" : "balance point",
                 rc->target_k[i], rc->target_n[i], rc->target_n[i] + rc->target_m[i], rc->target[i]);
        plot_ref(&p, rc->target[i], refs[i], "#444");
    }
    p.x_lo = p.y_lo = 0;
    p.y_hi = rc->k_max > 0 ? rc->k_max : NAN;
    p.legend_left = 1;
    plot_panel(f, x, y, PANEL_W, PANEL_H, &p);
}

static void panel_pair(FILE *f, int x, int y, const char *title, const char *ylabel, const Series *a, const char *la,
                       const Series *b, const char *lb, int markers) {
    Plot p;
    plot_init(&p, title, "step", ylabel);
    p.x_lo = 0;   /* every panel starts at step 0, so they line up */
    if (!strcmp(ylabel, "coefficient") || !strcmp(ylabel, "fraction")) p.y_lo = 0;
    plot_add(&p, line_of(a, la, COLORS[0], 1.6, markers));
    if (b) plot_add(&p, line_of(b, lb, COLORS[1], 1.6, markers));
    plot_panel(f, x, y, PANEL_W, PANEL_H, &p);
}

static void write_page(FILE *f, Metrics *m, const ReportConfig *rc, int header_h) {
    int moe = m->n_layers > 0 || m->null_f.n > 0, col = 0, row = 0, x0 = 10;
#define NEXT() (col ^= 1, row += !col)
#define X() (x0 + col * (PANEL_W + 10))
#define Y() (header_h + row * (PANEL_H + 8))
    panel_loss(f, X(), Y(), m); NEXT();
    panel_acc(f, X(), Y(), m); NEXT();
    if (moe) {
        panel_load(f, X(), Y(), m, rc); NEXT();
        panel_pair(f, X(), Y(), "Null and bypass fraction (at each eval)", "fraction", &m->null_f,
                   "null: share of the k slots on null experts", &m->bypass_f, "bypass: tokens with no true expert", 1);
        NEXT();
        panel_pair(f, X(), Y(), "Auxiliary (balance) loss", "aux loss", &m->aux, "aux loss (before the coefficient)", NULL, NULL, 0);
        NEXT();
        panel_pair(f, X(), Y(), "Aux coefficient schedule", "coefficient", &m->aux_coef, "aux coef", NULL, NULL, 0);
        NEXT();
    }
    panel_pair(f, X(), Y(), "Learning rate", "lr", &m->lr, NULL, NULL, NULL, 0); NEXT();
    if (moe) { panel_pair(f, X(), Y(), "Router entropy (at each eval)", "nats", &m->entropy, NULL, NULL, NULL, 1); NEXT(); }
#undef NEXT
#undef X
#undef Y
}

Status report_svg_write(const char *metrics_jsonl, const char *svg_path, const char *title, Error *err) {
    Metrics m;
    memset(&m, 0, sizeof m);
    Status s = jsonl_foreach(metrics_jsonl, collect, &m, err);
    if (s) { metrics_free(&m); return s; }
    ReportConfig rc;
    report_config_read(metrics_jsonl, m.n_layers, &rc);
    rc.has_summary = m.has_summary;
    rc.final_acc = m.final_acc;
    rc.best_acc = m.best_acc;
    rc.best_step = (long)m.best_step;
    rc.final_mcc = m.final_mcc;
    rc.load = m.final_load;
    rc.cola = m.cola;
    int moe = m.n_layers > 0 || m.null_f.n > 0, panels = moe ? 8 : 3, rows = (panels + 1) / 2;
    int header_h = report_header_height(&rc);
    AtomicFile af;
    s = svg_begin(&af, svg_path, PAGE_W, header_h + rows * (PANEL_H + 8) + 10, err);
    if (s) { metrics_free(&m); return s; }
    report_header_write(af.f, title ? title : "moetrain run", &rc, PAGE_W);
    write_page(af.f, &m, &rc, header_h);
    metrics_free(&m);
    return svg_end(&af, err);
}
