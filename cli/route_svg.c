/* cli/route_svg.c — the routing heat map (route_svg.h), in the spirit of the AdaMoE paper's
   Figure 1: one column per token (its text underneath), one row per layer, each cell coloured
   by the true experts the token used there (0 = bypass, up to the layer's k), the value written
   in the cell and a tooltip (<title>) with the per-module counts; Load per layer at the right
   (value and bar), a legend of the colour scale below. */
#include "cli/route_svg.h"
#include "cli/svg.h"
#include "nn/moe.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define TOP 78          /* title, subtitle, group labels */
#define LEFT 70         /* "layer 12" */
#define CELL_H 28
#define LOAD_W 150      /* the Load column */
#define CHAR_W 7.2      /* width of a character at font-size 12 (sans-serif, roughly) */
#define GAP_W 24        /* a separator column */

static int col_width(const RouteView *v, int col) {
    char buf[96];
    if (col < 0) return GAP_W;
    int chars = route_label(v->e[col].text, 10, buf, sizeof buf);
    int w = (int)(chars * CHAR_W + 10);
    return w < 30 ? 30 : w;
}

static void fill_of(double t, char out[8]) {
    unsigned char c[3];
    route_color(t, c);
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static void cell(FILE *f, const RouteView *v, const RouteEntry *e, int l, int x, int w) {
    int y = TOP + l * CELL_H;
    double val = route_entry_true(v, e, l);
    char fill[8], txt[16];
    fill_of(isnan(val) ? 0 : val / v->layer_k[l], fill);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"white\"><title>", x, y, w, CELL_H,
            isnan(val) ? "#ffffff" : fill);
    svg_escape(f, e->text);
    fprintf(f, " (id %d%s) layer %d: ", e->id, v->by_id ? ", averaged" : "", l);
    if (isnan(val)) fprintf(f, "not routed");
    else fprintf(f, "%.2f true experts", val);
    for (int j = 0; j < MOE_MODULES && v->shown == ROUTE_SHOW_ALL; j++) {
        double mj = route_entry_module_true(v, e, l, j);
        if (!isnan(mj)) fprintf(f, "; %s %.3g", route_module_name(v->ffn, j), mj);
    }
    fprintf(f, "</title></rect>\n");
    if (isnan(val)) return;
    if (fabs(val - round(val)) < 1e-9) snprintf(txt, sizeof txt, "%d", (int)round(val));
    else snprintf(txt, sizeof txt, val < 0.05 ? "%.2f" : "%.1f", val);
    unsigned char c[3];
    route_color(val / v->layer_k[l], c);
    int dark = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140;
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n", x + w / 2.0,
            y + CELL_H / 2 + 4, dark ? "white" : "#222", txt);
}

/* the token texts (and occurrences when averaged by id) under the grid */
static void labels(FILE *f, const RouteView *v, const int *cols, int n_cols) {
    int y = TOP + v->n_layers * CELL_H + 16, x = LEFT;
    char buf[96];
    for (int i = 0; i < n_cols; i++) {
        int w = col_width(v, cols[i]);
        if (cols[i] >= 0) {
            const RouteEntry *e = &v->e[cols[i]];
            route_label(e->text, 10, buf, sizeof buf);
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" font-family=\"monospace\">", x + w / 2.0, y);
            svg_escape(f, buf);
            fprintf(f, "</text>\n");
            if (v->by_id)
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\" fill=\"#777\">×%d</text>\n",
                        x + w / 2.0, y + 13, e->occurrences);
        }
        x += w;
    }
}

/* Load per layer: the value and a bar out of the layer's k */
static void load_column(FILE *f, const RouteView *v, int x) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"bold\">Load</text>\n", x, TOP - 6);
    for (int l = 0; l < v->n_layers; l++) {
        double load = route_view_load(v, l);
        int y = TOP + l * CELL_H;
        if (isnan(load)) continue;
        double frac = load / v->layer_k[l];
        char fill[8];
        fill_of(frac, fill);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"80\" height=\"%d\" fill=\"none\" stroke=\"#bbb\"/>\n", x, y + 6, CELL_H - 12);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", x, y + 6, 80 * (frac > 1 ? 1 : frac),
                CELL_H - 12, fill);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%.2f</text>\n", x + 88, y + CELL_H / 2 + 4, load);
    }
}

static void legend(FILE *f, const RouteView *v, int y) {
    int kmax = 1;
    for (int l = 0; l < v->n_layers; l++) if (v->layer_k[l] > kmax) kmax = v->layer_k[l];
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">true experts used (out of k = %d):</text>\n", LEFT, y + 14, kmax);
    int x0 = LEFT + 215;
    for (int j = 0; j <= kmax; j++) {
        char fill[8];
        fill_of((double)j / kmax, fill);
        int x = x0 + j * 44;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"40\" height=\"18\" fill=\"%s\" stroke=\"#999\"/>\n", x, y, fill);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n", x + 20, y + 32, j);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#555\">", LEFT, y + 54);
    if (v->shown == ROUTE_SHOW_ALL)
        fprintf(f, "A cell is the mean over the layer's routed modules (hover for each module); --module q|k|... shows one.");
    else fprintf(f, "Module %s only.", route_module_name(v->ffn, v->shown));
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#555\">0 = bypass (the base output only). "
               "Load = mean true experts per token in the layer.</text>\n", LEFT, y + 69);
    if (!v->causal)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#b00\">Expert-choice routing is NOT causal: "
                   "a token's experts depend on the later tokens too.</text>\n", LEFT, y + 84);
}

Status route_svg_write(const RouteView *v, const int *cols, int n_cols, const char *title, const char *subtitle,
                       const char *path, Error *err) {
    int grid_w = 0;
    for (int i = 0; i < n_cols; i++) grid_w += col_width(v, cols[i]);
    int width = LEFT + grid_w + 20 + LOAD_W, height = TOP + v->n_layers * CELL_H + (v->by_id ? 44 : 30) + 100;
    if (width < 760) width = 760;
    AtomicFile af;
    Status s = svg_begin(&af, path, width, height, err);
    if (s) return s;
    FILE *f = af.f;
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", LEFT);
    svg_escape(f, title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"44\" font-size=\"12\" fill=\"#444\">", LEFT);
    svg_escape(f, subtitle);
    fprintf(f, "</text>\n");
    for (int l = 0; l < v->n_layers; l++)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">layer %d</text>\n", LEFT - 8,
                TOP + l * CELL_H + CELL_H / 2 + 4, l);
    int x = LEFT;
    for (int i = 0; i < n_cols; i++) {
        int w = col_width(v, cols[i]);
        if (cols[i] >= 0)
            for (int l = 0; l < v->n_layers; l++) cell(f, v, &v->e[cols[i]], l, x, w);
        x += w;
    }
    if (v->by_id && n_cols > 0) {   /* group labels: the most-experts tokens, then the fewest */
        int gap = 0;
        while (gap < n_cols && cols[gap] >= 0) gap++;
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\">tokens using the most experts</text>\n", LEFT, TOP - 6);
        int xg = LEFT;
        for (int i = 0; i <= gap && i < n_cols; i++) xg += col_width(v, cols[i]);
        if (gap < n_cols)
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\">... and the fewest</text>\n", xg, TOP - 6);
    }
    labels(f, v, cols, n_cols);
    load_column(f, v, LEFT + grid_w + 20);
    legend(f, v, TOP + v->n_layers * CELL_H + (v->by_id ? 44 : 30));
    return svg_end(&af, err);
}
