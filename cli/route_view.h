/* cli/route_view.h — what `./train route` shows, gathered from the routers' records of a forward
   (MoeState.log: per (layer, module) the probabilities, the selection and the mixing weights).
   defines: RouteEntry, RouteView, ROUTE_SHOW_ALL, route_view_init, route_view_add,
            route_view_free, route_entry_true, route_entry_module_true, route_entry_mean,
            route_view_load, route_view_module_load, route_module_name, route_module_parse,
            route_text_display, route_label,
            route_view_extremes, route_color
   An entry aggregates routings: for a text, one entry per position (its routings: one per routed
   module of each layer); for a dataset (by_id), one entry per token id, over every occurrence.
     true experts of an entry in layer l = mean over its routings of |{e ∈ S_t : e < n}|
     (the layer's routed modules, or only the one chosen with --module)
     used[l][e]   = expert e was selected in at least one of those routings
     weight[l][e] = e's mixing weight averaged over all of them (0 where not selected)
   The view's Load per layer is the same mean over every routing of the layer (the metrics'
   Load, pooled over modules), and hist[j] counts routings with j true experts. */
#ifndef CLI_ROUTE_VIEW_H
#define CLI_ROUTE_VIEW_H
#include "nn/llama.h"
#include "data/tokenizer.h"

#define ROUTE_SHOW_ALL (-1)   /* RouteView.shown: every routed module of a layer */

typedef struct {
    int id, occurrences;
    char text[64];            /* display text: valid UTF-8, no control characters (route_text_display) */
    double *true_sum;         /* [L] Σ true experts over the routings of layer l */
    int *n_routings;          /* [L] */
    double *mod_sum;          /* [L * MOE_MODULES] the same per module */
    int *mod_n;               /* [L * MOE_MODULES] */
    double *w_sum;            /* [L * E] Σ mixing weights of expert e */
    unsigned char *used;      /* [L * E] */
} RouteEntry;

typedef struct {
    int n_layers, E;          /* E: the most experts (true + null) of any layer */
    int shown;                /* ROUTE_SHOW_ALL or a module slot (0..MOE_MODULES-1) */
    int ffn;                  /* MoE FFN model: slot MOE_FFN_SLOT is the FFN router ("ffn") */
    int routing, causal;      /* MoeRouting of the adapter; expert-choice is not causal */
    int *layer_true, *layer_null, *layer_k;   /* [L] */
    unsigned char *routed;    /* [L * MOE_MODULES]: the module is routed in that layer */
    int by_id;                /* entries per token id (dataset) instead of per position */
    RouteEntry *e;
    int n, cap;
    int *id_entry;            /* by_id: [vocab] entry index or -1 */
    int vocab, prompts;
    long tokens;
    double *load_sum, *load_n;   /* [L] */
    double *mod_load_sum, *mod_load_n;   /* [L * MOE_MODULES] */
    double hist[MOE_MAX_EXPERTS + 1];
} RouteView;

/* shown: ROUTE_SHOW_ALL or a slot; the model must have routers (m->moe) */
void route_view_init(RouteView *v, const LlamaModel *m, int shown, int by_id);
/* adds positions 0..n-1 of the forward just run over ids (one sequence, batch 1) */
void route_view_add(RouteView *v, const LlamaModel *m, const Tokenizer *tk, const int *ids, int n);
void route_view_free(RouteView *v);

/* mean true experts of an entry in layer l (NAN when the layer routes nothing shown) */
double route_entry_true(const RouteView *v, const RouteEntry *e, int layer);
double route_entry_module_true(const RouteView *v, const RouteEntry *e, int layer, int slot);
/* mean over the layers that route */
double route_entry_mean(const RouteView *v, const RouteEntry *e);
double route_view_load(const RouteView *v, int layer);
double route_view_module_load(const RouteView *v, int layer, int slot);

/* "q" "k" "v" "o" "gate" "up" "down", or "ffn" for the FFN router of a MoE FFN model */
const char *route_module_name(int ffn, int slot);
/* "q" / "q_proj" / ... / "ffn" -> slot, -1 if unknown */
int route_module_parse(const char *s);
/* raw piece bytes -> printable UTF-8: newline "↵", tab "→", other control and invalid bytes
   "<0xNN>"; truncated on a character boundary to fit n */
void route_text_display(const char *raw, char *out, size_t n);
/* text for a label: leading spaces dropped (a lone space becomes "␣"), at most max_chars
   characters (a cut ends in "…"); returns its width in characters */
int route_label(const char *text, int max_chars, char *out, size_t n);
/* entries with >= min_count occurrences, by mean true experts: the `top` highest into most[],
   the `top` lowest into fewest[] (ascending); returns how many each list holds */
int route_view_extremes(const RouteView *v, int top, int min_count, int *most, int *fewest);
/* the colour of t in [0, 1] (0 = no true expert): a light-to-dark blue-green scale */
void route_color(double t, unsigned char rgb[3]);

#endif
