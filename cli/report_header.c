/* cli/report_header.c — see report_header.h. */
#include "cli/report_header.h"
#include "cli/svg.h"
#include "data/json.h"
#include "nn/adapter_io.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* the options worth a glance, in this order (config.json has every resolved option) */
static const char *const SHOWN[] = { "model", "task", "adapter", "experts", "null", "top-k", "routing", "normalize",
                                     "null-kind", "shared-experts", "aux", "aux-coef", "aux-schedule", "aux-coef-end",
                                     "rank", "targets", "lr", "schedule", "epochs", "max-steps", "batch", "seed" };

/* appends "key value" to the wrapped lines */
static void add_item(ReportConfig *rc, const char *key, const char *value) {
    char item[300];
    snprintf(item, sizeof item, "%s %s", key, value);
    if (rc->n_lines == 0) rc->n_lines = 1;
    char *line = rc->lines[rc->n_lines - 1];
    if (strlen(line) + strlen(item) + 3 > 140 && rc->n_lines < 4) line = rc->lines[rc->n_lines++];
    if (strlen(line) + strlen(item) + 4 >= sizeof rc->lines[0]) return;
    if (line[0]) strcat(line, " · ");
    strcat(line, item);
}

static int from_config_json(const char *dir, ReportConfig *rc) {
    char path[1100], value[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    JsonDoc doc;
    Error err;
    if (json_parse_file(&doc, path, &err) != STATUS_OK) return 0;
    for (size_t i = 0; i < sizeof SHOWN / sizeof SHOWN[0]; i++) {
        const JsonValue *v = json_get(doc.root, SHOWN[i]);
        if (!v || v->type == JSON_NULL) continue;
        if (v->type == JSON_STRING) snprintf(value, sizeof value, "%s", v->string);
        else if (v->type == JSON_NUMBER) snprintf(value, sizeof value, "%g", v->number);
        else if (v->type == JSON_BOOL) snprintf(value, sizeof value, "%s", v->boolean ? "yes" : "no");
        else continue;
        if (!strcmp(SHOWN[i], "aux-coef-end") && !strstr(rc->lines[0], "linear") && !strstr(rc->lines[1], "linear")) continue;
        add_item(rc, SHOWN[i], value);
    }
    json_doc_free(&doc);
    return 1;
}

static void from_adapter(const AdapterConfig *a, ReportConfig *rc) {
    char v[64];
    add_item(rc, "adapter", adapter_kind_name(a->kind));
    if (a->n_true > 0) { snprintf(v, sizeof v, "%d", a->n_true); add_item(rc, "experts", v); }
    if (a->n_null > 0) { snprintf(v, sizeof v, "%d", a->n_null); add_item(rc, "null", v); }
    if (a->top_k > 0) { snprintf(v, sizeof v, "%d", a->top_k); add_item(rc, "top-k", v); }
    if (a->n_true > 0) {
        add_item(rc, "routing", moe_routing_name(a->routing));
        add_item(rc, "normalize", moe_normalize_name(a->normalize));
        add_item(rc, "aux", moe_aux_kind_name(a->aux));
        snprintf(v, sizeof v, "%g", a->aux_coef);
        add_item(rc, "aux-coef", v);
    }
    snprintf(v, sizeof v, "%d", a->rank);
    add_item(rc, "rank", v);
}

/* one target per distinct (k, n, m) over the layers; only with null experts (else Load = k) */
static void targets(const AdapterConfig *a, int n_layers, ReportConfig *rc) {
    rc->aux_eq6 = a->aux == MOE_AUX_EQ6;
    for (int l = 0; l < (n_layers > 0 ? n_layers : 1); l++) {
        AdapterConfig c = adapter_moe_layer(a, l);
        if (c.top_k > rc->k_max) rc->k_max = c.top_k;
        if (c.n_true <= 0 || c.n_null <= 0 || c.routing != MOE_ROUTING_TOPK) continue;
        int seen = 0;
        for (int i = 0; i < rc->n_targets; i++)
            seen |= rc->target_k[i] == c.top_k && rc->target_n[i] == c.n_true && rc->target_m[i] == c.n_null;
        if (seen || rc->n_targets == REPORT_MAX_TARGETS) continue;
        rc->target_k[rc->n_targets] = c.top_k;
        rc->target_n[rc->n_targets] = c.n_true;
        rc->target_m[rc->n_targets] = c.n_null;
        rc->target[rc->n_targets++] = (double)c.top_k * c.n_true / (c.n_true + c.n_null);
    }
}

void report_config_read(const char *metrics_path, int n_layers, ReportConfig *rc) {
    memset(rc, 0, sizeof *rc);
    char dir[1024], adir[1100];
    snprintf(dir, sizeof dir, "%s", metrics_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int have_cfg = from_config_json(dir, rc);
    snprintf(adir, sizeof adir, "%s/adapter", dir);
    AdapterConfig a;
    Error err;
    if (adapter_read_config(adir, &a, &err) != STATUS_OK) return;
    if (!have_cfg) from_adapter(&a, rc);
    targets(&a, n_layers, rc);
}

int report_header_height(const ReportConfig *rc) {
    return 44 + 16 * rc->n_lines + (rc->has_summary ? 18 : 0) + 10;
}

void report_header_write(FILE *f, const char *title, const ReportConfig *rc, int width) {
    fprintf(f, "<text x=\"20\" y=\"28\" font-size=\"18\" font-weight=\"bold\">");
    svg_escape(f, title);
    fprintf(f, "</text>\n");
    int y = 48;
    for (int i = 0; i < rc->n_lines; i++, y += 16) {
        fprintf(f, "<text x=\"20\" y=\"%d\" font-size=\"12\" fill=\"#444\">", y);
        svg_escape(f, rc->lines[i]);
        fprintf(f, "</text>\n");
    }
    if (rc->has_summary) {
        fprintf(f, "<text x=\"20\" y=\"%d\" font-size=\"12\" font-weight=\"bold\" fill=\"#222\">final dev accuracy %.1f%% "
                   "(best %.1f%% at step %ld)", y + 2, 100 * rc->final_acc, 100 * rc->best_acc, rc->best_step);
        if (rc->cola) fprintf(f, ", MCC %.3f", rc->final_mcc);
        if (isfinite(rc->load)) fprintf(f, ", Load %.2f", rc->load);
        if (rc->n_targets == 1) fprintf(f, " (balance point %.2f)", rc->target[0]);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<line x1=\"20\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ccc\"/>\n", report_header_height(rc) - 6, width - 20,
            report_header_height(rc) - 6);
}
