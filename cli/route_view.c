/* cli/route_view.c — see route_view.h. */
#include "cli/route_view.h"
#include "nn/moe.h"
#include "nn/moe_ffn.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void route_view_init(RouteView *v, const LlamaModel *m, int shown, int by_id) {
    CHECK(m->moe, "route_view_init: the model has no routers");
    const MoeStats *st = &m->moe->stats;
    int L = m->cfg.n_layers;
    memset(v, 0, sizeof *v);
    v->n_layers = L;
    v->shown = shown;
    v->ffn = m->layers[0].ffn != NULL;
    v->routing = (int)m->moe->acfg.routing;
    v->causal = m->moe->acfg.routing != MOE_ROUTING_EXPERT_CHOICE;
    v->layer_true = xcalloc((size_t)L * 3, sizeof(int));
    v->layer_null = v->layer_true + L;
    v->layer_k = v->layer_null + L;
    for (int l = 0; l < L; l++) {
        v->layer_true[l] = st->layer_true ? st->layer_true[l] : st->n_true;
        v->layer_null[l] = st->layer_null ? st->layer_null[l] : st->n_null;
        v->layer_k[l] = st->layer_k ? st->layer_k[l] : st->top_k;
        if (v->layer_true[l] + v->layer_null[l] > v->E) v->E = v->layer_true[l] + v->layer_null[l];
    }
    v->routed = xcalloc((size_t)L * MOE_MODULES, 1);
    v->load_sum = xcalloc((size_t)L * 2, sizeof(double));
    v->load_n = v->load_sum + L;
    v->mod_load_sum = xcalloc((size_t)L * MOE_MODULES * 2, sizeof(double));
    v->mod_load_n = v->mod_load_sum + (size_t)L * MOE_MODULES;
    v->by_id = by_id;
    if (by_id) {
        v->vocab = m->cfg.vocab_size;
        v->id_entry = xmalloc((size_t)v->vocab * sizeof(int));
        for (int i = 0; i < v->vocab; i++) v->id_entry[i] = -1;
    }
}

static RouteEntry *entry_new(RouteView *v, int id, const Tokenizer *tk, int prev) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->e = xrealloc(v->e, (size_t)v->cap * sizeof *v->e);
    }
    RouteEntry *e = &v->e[v->n++];
    memset(e, 0, sizeof *e);
    e->id = id;
    size_t L = (size_t)v->n_layers, M = L * MOE_MODULES, LE = L * (size_t)v->E;
    e->true_sum = xcalloc(L + M + LE, sizeof(double));
    e->mod_sum = e->true_sum + L;
    e->w_sum = e->mod_sum + M;
    e->n_routings = xcalloc(L + M, sizeof(int));
    e->mod_n = e->n_routings + L;
    e->used = xcalloc(LE > 0 ? LE : 1, 1);
    char raw[128];
    if (!tk) snprintf(raw, sizeof raw, "%d", id);
    else if (prev < 0 && id == tk->bos_id) snprintf(raw, sizeof raw, "<s>");
    else tokenizer_piece(tk, prev, id, raw, sizeof raw);
    route_text_display(raw, e->text, sizeof e->text);
    return e;
}

/* whether slot j of layer l is part of what is shown */
static int shown_slot(const RouteView *v, int j) {
    return v->shown == ROUTE_SHOW_ALL || v->shown == j;
}

/* one routing: row `row` of the record of (layer l, slot j) into entry e */
static void add_routing(RouteView *v, RouteEntry *e, const MoeRecord *rec, int l, int j, int row) {
    const Routing *r = rec->r;
    int c = r->n_true_sel[row];
    size_t lj = (size_t)l * MOE_MODULES + j;
    e->mod_sum[lj] += c;
    e->mod_n[lj]++;
    v->mod_load_sum[lj] += c;
    v->mod_load_n[lj] += 1;
    if (!shown_slot(v, j)) return;
    e->true_sum[l] += c;
    e->n_routings[l]++;
    v->load_sum[l] += c;
    v->load_n[l] += 1;
    v->hist[c] += 1;
    for (int s = 0; s < r->k; s++) {
        int x = r->sel[(size_t)row * r->k + s];
        if (x < 0 || x >= v->E) continue;
        e->used[(size_t)l * v->E + x] = 1;
        if (rec->w) e->w_sum[(size_t)l * v->E + x] += rec->w->data[(size_t)row * r->E + x];
    }
}

void route_view_add(RouteView *v, const LlamaModel *m, const Tokenizer *tk, const int *ids, int n) {
    const MoeState *st = m->moe;
    v->prompts++;
    v->tokens += n;
    for (int i = 0; i < n; i++) {
        RouteEntry *e;
        if (v->by_id && ids[i] >= 0 && ids[i] < v->vocab && v->id_entry[ids[i]] >= 0) e = &v->e[v->id_entry[ids[i]]];
        else {
            e = entry_new(v, ids[i], tk, v->by_id ? -1 : i ? ids[i - 1] : -1);
            if (v->by_id) v->id_entry[ids[i]] = v->n - 1;
        }
        e->occurrences++;
        for (int l = 0; l < v->n_layers; l++)
            for (int j = 0; j < MOE_MODULES; j++) {
                const MoeRecord *rec = &st->log[l * MOE_MODULES + j];
                if (!rec->p || !rec->r || i >= rec->r->N) continue;
                v->routed[l * MOE_MODULES + j] = 1;
                add_routing(v, e, rec, l, j, i);
            }
    }
}

void route_view_free(RouteView *v) {
    for (int i = 0; i < v->n; i++) {
        free(v->e[i].true_sum);
        free(v->e[i].n_routings);
        free(v->e[i].used);
    }
    free(v->e);
    free(v->layer_true);
    free(v->routed);
    free(v->load_sum);
    free(v->mod_load_sum);
    free(v->id_entry);
    memset(v, 0, sizeof *v);
}

double route_entry_true(const RouteView *v, const RouteEntry *e, int layer) {
    (void)v;
    return e->n_routings[layer] ? e->true_sum[layer] / e->n_routings[layer] : NAN;
}

double route_entry_module_true(const RouteView *v, const RouteEntry *e, int layer, int slot) {
    (void)v;
    size_t lj = (size_t)layer * MOE_MODULES + slot;
    return e->mod_n[lj] ? e->mod_sum[lj] / e->mod_n[lj] : NAN;
}

double route_entry_mean(const RouteView *v, const RouteEntry *e) {
    double s = 0;
    int n = 0;
    for (int l = 0; l < v->n_layers; l++) {
        double x = route_entry_true(v, e, l);
        if (!isnan(x)) { s += x; n++; }
    }
    return n ? s / n : NAN;
}

double route_view_load(const RouteView *v, int layer) {
    return v->load_n[layer] > 0 ? v->load_sum[layer] / v->load_n[layer] : NAN;
}

double route_view_module_load(const RouteView *v, int layer, int slot) {
    size_t lj = (size_t)layer * MOE_MODULES + slot;
    return v->mod_load_n[lj] > 0 ? v->mod_load_sum[lj] / v->mod_load_n[lj] : NAN;
}

static const char *const MODULE_NAMES[MOE_MODULES] = { "q", "k", "v", "o", "gate", "up", "down" };

const char *route_module_name(int ffn, int slot) {
    if (ffn && slot == MOE_FFN_SLOT) return "ffn";
    return slot >= 0 && slot < MOE_MODULES ? MODULE_NAMES[slot] : "?";
}

int route_module_parse(const char *s) {
    static const char *const LONG[MOE_MODULES] = { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" };
    if (!strcmp(s, "ffn")) return MOE_FFN_SLOT;
    for (int j = 0; j < MOE_MODULES; j++)
        if (!strcmp(s, MODULE_NAMES[j]) || !strcmp(s, LONG[j])) return j;
    return -1;
}

/* length of the valid UTF-8 sequence at s (1..4), 0 if invalid */
static int utf8_len(const unsigned char *s) {
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 2 && s[0] < 0xC2) return 0;   /* overlong */
    for (int i = 1; i < n; i++) if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

void route_text_display(const char *raw, char *out, size_t n) {
    size_t o = 0;
    CHECK(n > 0, "route_text_display needs a buffer");
    for (const unsigned char *s = (const unsigned char *)raw; *s;) {
        char piece[8];
        int len = utf8_len(s), adv = len ? len : 1;
        if (*s == '\n') snprintf(piece, sizeof piece, "\xe2\x86\xb5");          /* ↵ */
        else if (*s == '\t') snprintf(piece, sizeof piece, "\xe2\x86\x92");     /* → */
        else if (!len || *s < 0x20 || *s == 0x7f) snprintf(piece, sizeof piece, "<0x%02X>", *s);
        else { memcpy(piece, s, (size_t)len); piece[len] = 0; }
        size_t pl = strlen(piece);
        if (o + pl + 1 > n) break;
        memcpy(out + o, piece, pl);
        o += pl;
        s += adv;
    }
    out[o] = 0;
}

void route_color(double t, unsigned char rgb[3]) {
    /* 0: neutral grey (no true expert: the base output only), then light yellow-green to dark
       blue (ColorBrewer YlGnBu stops), linear between stops */
    static const unsigned char stops[5][3] = { { 237, 248, 177 }, { 127, 205, 187 }, { 65, 182, 196 },
                                              { 34, 94, 168 }, { 8, 29, 88 } };
    if (!(t > 1e-9)) { rgb[0] = rgb[1] = rgb[2] = 224; return; }
    if (t > 1) t = 1;
    double x = t * 4;
    int i = x >= 4 ? 3 : (int)x;
    double f = x - i;
    for (int c = 0; c < 3; c++) rgb[c] = (unsigned char)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

int route_label(const char *text, int max_chars, char *out, size_t n) {
    while (*text == ' ') text++;
    if (!*text) { snprintf(out, n, "\xe2\x90\xa3"); return 1; }   /* ␣ */
    size_t o = 0;
    int chars = 0;
    for (const char *s = text; *s;) {
        int len = utf8_len((const unsigned char *)s);
        if (!len) len = 1;
        if (chars == max_chars - 1 && s[len]) {   /* one more would not fit with the rest */
            if (o + 4 <= n) { memcpy(out + o, "\xe2\x80\xa6", 3); o += 3; chars++; }   /* … */
            break;
        }
        if (o + (size_t)len + 1 > n) break;
        memcpy(out + o, s, (size_t)len);
        o += (size_t)len;
        s += len;
        chars++;
    }
    out[o] = 0;
    return chars;
}

static const RouteView *sort_view;

static int by_mean_desc(const void *a, const void *b) {
    const RouteEntry *x = &sort_view->e[*(const int *)a], *y = &sort_view->e[*(const int *)b];
    double mx = route_entry_mean(sort_view, x), my = route_entry_mean(sort_view, y);
    if (mx != my) return mx > my ? -1 : 1;
    return x->id - y->id;
}

int route_view_extremes(const RouteView *v, int top, int min_count, int *most, int *fewest) {
    int *idx = xmalloc((size_t)(v->n > 0 ? v->n : 1) * sizeof *idx), k = 0;
    for (int i = 0; i < v->n; i++)
        if (v->e[i].occurrences >= min_count && !isnan(route_entry_mean(v, &v->e[i]))) idx[k++] = i;
    sort_view = v;
    qsort(idx, (size_t)k, sizeof *idx, by_mean_desc);
    int n = top < k / 2 ? top : k / 2;   /* the two lists never overlap */
    for (int i = 0; i < n; i++) {
        most[i] = idx[i];
        fewest[i] = idx[k - 1 - i];
    }
    free(idx);
    return n;
}
