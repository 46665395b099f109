/* cli/route_out.c — `./train route` on stdout: the JSON document (route_out.h lists its keys) and
   the terminal grid, layers down and tokens across as in the SVG heat map: each cell holds the
   token's true experts in that layer (a digit, or one decimal for a mean over modules), coloured
   by the same scale when stdout is a terminal, plain otherwise; Load per layer at the right. */
#include "cli/route_out.h"
#include "data/json.h"
#include "nn/moe.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_num(FILE *f, double x) {
    if (isnan(x)) fputs("null", f);
    else fprintf(f, "%.6g", x);
}

static void put_entry_lists(FILE *f, const RouteView *v, const RouteEntry *e) {
    fputs(",\"experts_per_layer\":[", f);
    for (int l = 0; l < v->n_layers; l++) {
        fprintf(f, "%s[", l ? "," : "");
        for (int x = 0, first = 1; x < v->E; x++)
            if (e->used[(size_t)l * v->E + x]) { fprintf(f, "%s%d", first ? "" : ",", x); first = 0; }
        fputc(']', f);
    }
    fputs("],\"weights_per_layer\":[", f);
    for (int l = 0; l < v->n_layers; l++) {
        fprintf(f, "%s[", l ? "," : "");
        int n = e->n_routings[l] > 0 ? e->n_routings[l] : 1;
        for (int x = 0, first = 1; x < v->E; x++)
            if (e->used[(size_t)l * v->E + x]) {
                fprintf(f, "%s%.6g", first ? "" : ",", e->w_sum[(size_t)l * v->E + x] / n);
                first = 0;
            }
        fputc(']', f);
    }
    fputc(']', f);
}

static void put_tokens(FILE *f, const RouteView *v) {
    fputs("{\"tokens\":[", f);
    for (int i = 0; i < v->n; i++) {
        const RouteEntry *e = &v->e[i];
        fprintf(f, "%s{\"text\":", i ? "," : "");
        json_write_string(f, e->text, strlen(e->text));
        fprintf(f, ",\"id\":%d", e->id);
        if (v->by_id) fprintf(f, ",\"occurrences\":%d", e->occurrences);
        fputs(",\"true_experts_per_layer\":[", f);
        for (int l = 0; l < v->n_layers; l++) {
            if (l) fputc(',', f);
            put_num(f, route_entry_true(v, e, l));
        }
        fputc(']', f);
        put_entry_lists(f, v, e);
        fputc('}', f);
    }
    fputc(']', f);
}

static int hist_len(const RouteView *v) {
    int n = 0;
    for (int l = 0; l < v->n_layers; l++) if (v->layer_k[l] > n) n = v->layer_k[l];
    for (int j = 0; j <= MOE_MAX_EXPERTS; j++) if (v->hist[j] > 0 && j > n) n = j;
    return n + 1;
}

static void put_int_list(FILE *f, const char *key, const int *x, int n) {
    fprintf(f, "\"%s\":[", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", x[i]);
    fputc(']', f);
}

static void put_module(FILE *f, const RouteView *v, int j) {
    fprintf(f, "\"%s\":{\"shown\":%s,\"routing\":\"%s\",\"causal\":%s,", route_module_name(v->ffn, j),
            v->shown == ROUTE_SHOW_ALL || v->shown == j ? "true" : "false", moe_routing_name((MoeRouting)v->routing),
            v->causal ? "true" : "false");
    put_int_list(f, "n_true", v->layer_true, v->n_layers);
    fputc(',', f);
    put_int_list(f, "n_null", v->layer_null, v->n_layers);
    fputc(',', f);
    put_int_list(f, "top_k", v->layer_k, v->n_layers);
    fputs(",\"load_per_layer\":[", f);
    for (int l = 0; l < v->n_layers; l++) {
        if (l) fputc(',', f);
        put_num(f, route_view_module_load(v, l, j));
    }
    fputs("],\"true_experts_per_layer\":[", f);
    for (int i = 0; i < v->n; i++) {
        fprintf(f, "%s[", i ? "," : "");
        for (int l = 0; l < v->n_layers; l++) {
            if (l) fputc(',', f);
            put_num(f, route_entry_module_true(v, &v->e[i], l, j));
        }
        fputc(']', f);
    }
    fputs("]}", f);
}

void route_print_json(FILE *f, const RouteView *v) {
    put_tokens(f, v);
    fputs(",\"load_per_layer\":[", f);
    for (int l = 0; l < v->n_layers; l++) {
        if (l) fputc(',', f);
        put_num(f, route_view_load(v, l));
    }
    fputs("],\"count_histogram\":[", f);
    for (int j = 0, n = hist_len(v); j < n; j++) fprintf(f, "%s%.0f", j ? "," : "", v->hist[j]);
    fputs("],\"modules\":{", f);
    for (int j = 0, first = 1; j < MOE_MODULES; j++) {
        int any = 0;
        for (int l = 0; l < v->n_layers; l++) any |= v->routed[l * MOE_MODULES + j];
        if (!any) continue;
        if (!first) fputc(',', f);
        first = 0;
        put_module(f, v, j);
    }
    fputs("}}\n", f);
}

/* ---- the terminal grid ---- */

static void cell_value(double x, char *buf, size_t n) {
    if (isnan(x)) snprintf(buf, n, "-");
    else if (fabs(x - round(x)) < 1e-9) snprintf(buf, n, "%d", (int)round(x));
    else snprintf(buf, n, x < 0.05 ? "%.2f" : "%.1f", x);
}

/* one cell, centred in w columns; coloured background when color */
static void put_cell(FILE *f, const char *s, int len, int w, int color, double t) {
    int left = (w - len) / 2, right = w - len - left;
    if (color) {
        unsigned char c[3];
        route_color(t, c);
        int dark = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140;
        fprintf(f, "\033[48;2;%d;%d;%dm\033[%sm", c[0], c[1], c[2], dark ? "97" : "30");
    }
    fprintf(f, "%*s%s%*s", left, "", s, right, "");
    if (color) fputs("\033[0m", f);
}

/* tokens [from, to) as one block: the label row, then one row per layer */
static void grid_block(FILE *f, const RouteView *v, const int *cols, const int *width, int from, int to, int n_cols,
                       int color) {
    char buf[96];
    fprintf(f, "%-6s", "");
    for (int i = from; i < to; i++) {
        int len = cols[i] < 0 ? 1 : route_label(v->e[cols[i]].text, 12, buf, sizeof buf);
        if (cols[i] < 0) snprintf(buf, sizeof buf, "|");
        fprintf(f, " %s%*s", buf, width[i] - len, "");
    }
    fputc('\n', f);
    for (int l = 0; l < v->n_layers; l++) {
        fprintf(f, "L%-5d", l);
        for (int i = from; i < to; i++) {
            fputc(' ', f);
            if (cols[i] < 0) { fputs("|", f); continue; }
            double x = route_entry_true(v, &v->e[cols[i]], l);
            cell_value(x, buf, sizeof buf);
            put_cell(f, buf, (int)strlen(buf), width[i], color && !isnan(x), isnan(x) ? 0 : x / v->layer_k[l]);
        }
        if (to == n_cols) fprintf(f, "   Load %.2f", route_view_load(v, l));   /* the last block */
        fputc('\n', f);
    }
}

void route_print_grid(FILE *f, const RouteView *v, const int *cols, int n_cols, int color, int term_width) {
    int *width = xmalloc((size_t)(n_cols > 0 ? n_cols : 1) * sizeof *width);
    char buf[96];
    for (int i = 0; i < n_cols; i++) {
        int w = cols[i] < 0 ? 1 : route_label(v->e[cols[i]].text, 12, buf, sizeof buf);
        width[i] = cols[i] < 0 ? 1 : w < 3 ? 3 : w;
    }
    int from = 0;
    while (from < n_cols) {
        int used = 6 + 12, to = from;   /* layer label + the Load column */
        while (to < n_cols && (to == from || used + width[to] + 1 <= term_width)) used += width[to++] + 1;
        grid_block(f, v, cols, width, from, to, n_cols, color);
        from = to;
        if (from < n_cols) fputc('\n', f);
    }
    int kmax = 0;
    for (int l = 0; l < v->n_layers; l++) if (v->layer_k[l] > kmax) kmax = v->layer_k[l];
    fprintf(f, "\ncells: true experts the token used in that layer (0 = bypass: base output only) out of k = %d", kmax);
    if (v->shown == ROUTE_SHOW_ALL) fprintf(f, ";\n       a mean over the layer's routed modules (--module q|k|... for one)");
    else fprintf(f, "; module %s", route_module_name(v->ffn, v->shown));
    fprintf(f, "\n%s", v->causal ? "" : "expert-choice routing is NOT causal: a token's experts depend on the later tokens too\n");
    free(width);
}

void route_print_extremes(FILE *f, const RouteView *v, const int *idx, int n, const char *title) {
    char buf[96];
    fprintf(f, "%s\n  %-14s %6s %6s %6s", title, "token", "id", "count", "mean");
    for (int l = 0; l < v->n_layers; l++) fprintf(f, "  L%-3d", l);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        const RouteEntry *e = &v->e[idx[i]];
        int len = route_label(e->text, 14, buf, sizeof buf);
        fprintf(f, "  %s%*s %6d %6d %6.2f", buf, 14 - len, "", e->id, e->occurrences, route_entry_mean(v, e));
        for (int l = 0; l < v->n_layers; l++) fprintf(f, "  %4.2f", route_entry_true(v, e, l));
        fputc('\n', f);
    }
}
