/* cli/route.c — `./train route`: which tokens used how many TRUE experts (for learning MoE).
     route [--model M] --adapter-dir D --tokenizer T (--text "..." | --prompt-ids 1,2,3 |
           --data DIR --task T [--split dev] [--limit N]) [--module q] [--svg FILE | --json]
   Runs the model with its Mo-LoRA / AdaMoE / moe-ffn adapter (or a Mixtral model's own routers)
   over a sequence without gradients (a text is encoded with BOS, as generate does) and reads each
   router's selection and mixing weights from the MoeState log (route_view.h). Output:
     a terminal   layers down, tokens across, each cell the true experts used (coloured), Load per
                  layer at the right; plain digits when stdout is not a terminal
     --svg FILE   the same as a heat map (route_svg.h)
     --json       one JSON line (route_out.h lists the keys)
   Per cell: the mean over the layer's routed modules (Mo-LoRA / AdaMoE adapt up to 7 linears per
   layer, each with its own router), or one module with --module. --data routes a dataset's
   prompts and averages by token id: the tokens that use the most and the fewest experts.
   --model defaults to the adapter's base_model_name_or_path. Routing variants behave as in
   evaluation (stochastic: all true experts; expert-choice: experts choose among the tokens of the
   sequence — non-causal, said in every output). */
#include "cli/route.h"
#include "cli/errors.h"
#include "cli/model_flags.h"
#include "cli/route_out.h"
#include "cli/route_run.h"
#include "cli/route_svg.h"
#include "nn/adapter_io.h"
#include "data/json.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *model, *tokenizer, *adapter_dir, *text, *prompt_ids, *config, *svg, *module;
    const char *data, *task, *split, *prompt_style;
    int json, limit, top, min_count, threads;
    char base_model[1024];
    const char *base_dtype, *expert_dtype;   /* storage of the frozen base (cli/model_flags.h) */
    int dtype_code;
} RouteOpts;

static int ids_parse(const char *list, int **out, int *n_out) {
    int *ids = xmalloc((strlen(list) / 2 + 1) * sizeof *ids), n = 0;
    for (const char *p = list; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || v < 0 || v > INT_MAX) {
            fprintf(stderr, "error: --prompt-ids: bad token id at \"%s\" (expected non-negative integers, comma-separated)\n", p);
            free(ids);
            return 0;
        }
        ids[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    *out = ids;
    *n_out = n;
    return n > 0;
}

static int text_encode(const Tokenizer *tk, const char *text, int **ids, int *n) {
    Error err = { 0 };
    int need = 0;
    if (tokenizer_encode(tk, text, tk->bos_id >= 0, 0, NULL, 0, &need, &err) != STATUS_OK) { error_print(&err); return 0; }
    *ids = xmalloc((size_t)(need > 0 ? need : 1) * sizeof **ids);
    if (tokenizer_encode(tk, text, tk->bos_id >= 0, 0, *ids, need, n, &err) != STATUS_OK) {
        error_print(&err);
        free(*ids);
        return 0;
    }
    return 1;
}

/* --model left out: the adapter's base_model_name_or_path */
static const char *default_model(RouteOpts *o) {
    char path[1100];
    snprintf(path, sizeof path, "%s/adapter_config.json", o->adapter_dir);
    JsonDoc doc;
    Error err;
    const char *name = NULL;
    if (json_parse_file(&doc, path, &err) != STATUS_OK) return NULL;
    if (json_get_string(doc.root, "base_model_name_or_path", &name) && name[0]) {
        snprintf(o->base_model, sizeof o->base_model, "%s", name);
        name = o->base_model;
    } else name = NULL;
    json_doc_free(&doc);
    return name;
}

static const char *check_opts(RouteOpts *o) {
    int inputs = !!o->text + !!o->prompt_ids + !!o->data;
    if (!o->model && o->adapter_dir) o->model = default_model(o);
    if (!o->model) return o->adapter_dir ? "--model is required (the adapter does not name its base model)" : "--model is required";
    if (inputs != 1) return "give exactly one of --text, --prompt-ids and --data";
    if ((o->text || o->data) && !o->tokenizer) return "--text and --data need --tokenizer (or use --prompt-ids)";
    if (o->data && !o->task) return "--data needs --task (e.g. rte, mc_jsonl)";
    if (o->json && o->svg) return "give one of --json and --svg";
    if (o->limit < 1 || o->top < 1 || o->min_count < 1) return "--limit, --top and --min-count must be >= 1";
    if (strcmp(o->prompt_style, "alpaca") && strcmp(o->prompt_style, "plain")) return "--prompt-style must be alpaca or plain";
    if (o->module && route_module_parse(o->module) < 0) return "--module must be one of q k v o gate up down ffn";
    return NULL;
}

/* 0 = go on, 1 = bad usage (printed), -1 = help printed */
static int parse_opts(RouteOpts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->split = "dev";
    o->prompt_style = "alpaca";
    o->limit = 100;
    o->top = 12;
    o->min_count = 3;
    o->base_dtype = "auto";
    Flag t[] = {
        { "text", FLAG_STRING, &o->text, "text to route (encoded with BOS)", 0 },
        { "prompt-ids", FLAG_STRING, &o->prompt_ids, "token ids, comma-separated", 0 },
        { "data", FLAG_STRING, &o->data, "route a dataset's prompts instead (with --task)", 0 },
        { "task", FLAG_STRING, &o->task, "the dataset's task (rte, cola, mc_jsonl, ...)", 0 },
        { "split", FLAG_STRING, &o->split, "dataset split", 0 },
        { "limit", FLAG_INT, &o->limit, "prompts to route from the dataset", 0 },
        { "prompt-style", FLAG_STRING, &o->prompt_style, "alpaca | plain (as trained)", 0 },
        { "top", FLAG_INT, &o->top, "--data: tokens listed for the most and for the fewest experts", 0 },
        { "min-count", FLAG_INT, &o->min_count, "--data: only tokens seen at least this often are listed", 0 },
        { "module", FLAG_STRING, &o->module, "one module (q k v o gate up down; ffn) instead of the layer mean", 0 },
        { "svg", FLAG_STRING, &o->svg, "write the heat map to this SVG file", 0 },
        { "json", FLAG_BOOL, &o->json, "one JSON line: per-token counts, experts and weights", 0 },
        { "threads", FLAG_INT, &o->threads, "worker threads (0 = all CPUs)", 0 },
        { "base-dtype", FLAG_STRING, &o->base_dtype, "auto | " BASE_DTYPE_HELP, 0 },
        { "expert-dtype", FLAG_STRING, &o->expert_dtype, EXPERT_DTYPE_HELP, 0 },
        { "config", FLAG_STRING, &o->config, "JSON file with any of these options", 0 },
    };
    Flag f[MODEL_FLAGS_MAX + sizeof t / sizeof t[0]];
    int n = model_flags(f, &o->model, &o->tokenizer, &o->adapter_dir, t, (int)(sizeof t / sizeof t[0])), help = 0;
    Error err;
    Status s = flags_parse(f, n, argc, argv, 1, &help, &err);
    if (!s && o->config) s = flags_load_config(f, n, o->config, &err);
    if (!s) s = base_dtype_code(o->base_dtype, o->expert_dtype, 1, &o->dtype_code, &err);
    if (s) { error_print(&err); return 1; }
    if (help) {
        flags_print_help(stdout, "usage: ./train route [--model M] --adapter-dir D --tokenizer T (--text \"...\" | --prompt-ids 1,2,3 |\n"
                         "                     --data DIR --task T [--limit N]) [--module q] [--svg FILE | --json]\n"
                         "Per token and layer: how many TRUE experts the routers chose (expert-choice routing is non-causal:\n"
                         "experts choose among this sequence's tokens).", f, n);
        return -1;
    }
    const char *bad = check_opts(o);
    if (bad) { fprintf(stderr, "error: route: %s\n", bad); return 1; }
    return 0;
}

/* the title and the one-line description of the routers for the SVG */
static void describe(const RouteOpts *o, const RouteView *v, char *title, size_t tn, char *sub, size_t sn) {
    snprintf(title, tn, "Routing of %s", o->adapter_dir ? o->adapter_dir : o->model);
    int n = v->layer_true[0], m = v->layer_null[0], k = v->layer_k[0];
    int len = snprintf(sub, sn, "%d true + %d null experts, top-%d, %s routing", n, m, k,
                       moe_routing_name((MoeRouting)v->routing));
    if (o->data && len > 0 && (size_t)len < sn)
        len += snprintf(sub + len, sn - (size_t)len, "; %d prompts of %s (%s), %ld tokens, averaged by token id",
                        v->prompts, o->data, o->split, v->tokens);
    else if (o->text && len > 0 && (size_t)len < sn) snprintf(sub + len, sn - (size_t)len, "; %d tokens", v->n);
}

static int output(const RouteOpts *o, const RouteView *v) {
    int n_cols = v->n, *cols = xmalloc((size_t)(2 * v->n + 2) * sizeof *cols), *fewest = NULL, n_ext = 0;
    for (int i = 0; i < v->n; i++) cols[i] = i;
    if (o->data) {   /* the most-experts tokens, a gap, the fewest */
        fewest = xmalloc((size_t)(o->top + 1) * sizeof *fewest);
        n_ext = route_view_extremes(v, o->top, o->min_count, cols, fewest);
        cols[n_ext] = -1;
        memcpy(cols + n_ext + 1, fewest, (size_t)n_ext * sizeof *cols);
        n_cols = n_ext ? 2 * n_ext + 1 : 0;
    }
    int rc = 0;
    if (o->json) route_print_json(stdout, v);
    else if (o->svg) {
        char title[1200], sub[1600];
        Error err;
        describe(o, v, title, sizeof title, sub, sizeof sub);
        if (route_svg_write(v, cols, n_cols, title, sub, o->svg, &err) != STATUS_OK) { error_print(&err); rc = 1; }
        else printf("wrote %s (%d tokens x %d layers)\n", o->svg, o->data ? 2 * n_ext : v->n, v->n_layers);
    } else if (o->data) {
        printf("%d prompts, %ld tokens, %d distinct; Load per layer:", v->prompts, v->tokens, v->n);
        for (int l = 0; l < v->n_layers; l++) printf(" %.2f", route_view_load(v, l));
        route_print_extremes(stdout, v, cols, n_ext, "\ntokens using the most true experts (mean over layers):");
        route_print_extremes(stdout, v, fewest, n_ext, "\n... and the fewest:");
        if (!v->causal) printf("\nexpert-choice routing is NOT causal: each prompt's experts choose among its tokens\n");
    } else {
        const char *cw = getenv("COLUMNS");
        int tty = isatty(fileno(stdout)), width = cw && atoi(cw) > 40 ? atoi(cw) : 100;
        route_print_grid(stdout, v, cols, n_cols, tty && !getenv("NO_COLOR"), width);
    }
    free(cols);
    free(fewest);
    return rc;
}

static int route_main(const RouteOpts *o, const LlamaModel *m) {
    Tokenizer tk;
    Error err;
    int have_tk = 0, *ids = NULL, n = 0, rc = 0;
    if (o->tokenizer) {
        if (tokenizer_load(&tk, o->tokenizer, m->cfg.vocab_size, &err) != STATUS_OK) { error_print(&err); return 1; }
        have_tk = 1;
    }
    RouteView v;
    route_view_init(&v, m, o->module ? route_module_parse(o->module) : ROUTE_SHOW_ALL, o->data != NULL);
    if (o->data) rc = route_dataset(m, &tk, o->task, o->data, o->split, o->limit, o->prompt_style, &v);
    else rc = (o->text ? text_encode(&tk, o->text, &ids, &n) : ids_parse(o->prompt_ids, &ids, &n)) ? 0 : 1;
    if (!rc && !o->data) rc = route_sequence(m, have_tk ? &tk : NULL, ids, n, &v);
    if (!rc && v.shown != ROUTE_SHOW_ALL) {
        int any = 0;
        for (int l = 0; l < v.n_layers; l++) any |= v.routed[l * MOE_MODULES + v.shown];
        if (!any) { fprintf(stderr, "error: route: module %s has no router in this model\n", o->module); rc = 1; }
    }
    if (!rc) rc = output(o, &v);
    route_view_free(&v);
    free(ids);
    if (have_tk) tokenizer_free(&tk);
    return rc;
}

int route_cli(int argc, char **argv) {
    RouteOpts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    if (o.threads > 0) threads_init(o.threads);
    LlamaModel m;
    Error err;
    if (model_load_with_adapter(&m, o.model, o.adapter_dir, o.dtype_code, &err) != STATUS_OK) { error_print(&err); return 1; }
    if (!m.moe) {
        fprintf(stderr, "error: %s has no routers (expected a molora / adamoe / moe-ffn adapter, or a Mixtral model)\n",
                o.adapter_dir ? o.adapter_dir : o.model);
        llama_free(&m);
        return 1;
    }
    rc = route_main(&o, &m);
    llama_free(&m);
    return rc;
}
