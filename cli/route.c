/* cli/route.c — `./train route`: which tokens used how many TRUE experts (for teaching).
     route --model M [--tokenizer T] --adapter-dir D (--text "..." | --prompt-ids 1,2,3) [--json]
   Runs one no-grad forward of the model with its molora / adamoe adapter over the sequence (a
   text is encoded with BOS, as generate does) and reads each router's selection from the
   MoeState log. Table: one row per token — its piece, then per layer the mean number of true
   experts over the layer's routed modules, marked '*' when at least one module gave the token
   no true expert (bypass: base output only there). --json prints one line
     {"modules":["q_proj",...],"layers":L,"tokens":[{"id":..,"piece":"..",
      "true_experts":[[per routed module of layer 0],...],"mean_per_layer":[...]},...]}
   Routing variants behave as in evaluation (stochastic: the average of all true experts;
   expert-choice: experts choose among this sequence's tokens — non-causal). */
#include "cli/route.h"
#include "cli/errors.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "cli/model_flags.h"
#include "data/json.h"
#include "data/tokenizer.h"
#include "tensor/check.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *model, *tokenizer, *adapter_dir, *text, *prompt_ids, *config; int json; } RouteOpts;

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

/* true experts of token i in (layer, module), -1 when the module is not routed */
static int true_count(const MoeState *st, int layer, int module, int i) {
    const MoeRecord *rec = &st->log[layer * MOE_MODULES + module];
    return rec->p ? rec->r->n_true_sel[i] : -1;
}

static double layer_mean(const MoeState *st, int layer, int i, int *bypass) {
    double s = 0;
    int n = 0;
    *bypass = 0;
    for (int j = 0; j < MOE_MODULES; j++) {
        int c = true_count(st, layer, j, i);
        if (c < 0) continue;
        s += c;
        n++;
        *bypass |= c == 0;
    }
    return n ? s / n : 0;
}

static void print_piece(const Tokenizer *tk, const int *ids, int i, char *buf, size_t n) {
    char tmp[128];
    if (!tk) snprintf(buf, n, "%d", ids[i]);
    else if (i == 0 && ids[0] == tk->bos_id) snprintf(buf, n, "<s>");
    else snprintf(buf, n, "%s", tokenizer_piece(tk, i ? ids[i - 1] : tk->bos_id, ids[i], tmp, sizeof tmp));
}

static void print_table(const LlamaModel *m, const Tokenizer *tk, const int *ids, int n) {
    const MoeState *st = m->moe;
    char piece[128];
    printf("%-16s", "token");
    for (int l = 0; l < m->cfg.n_layers; l++) printf("  L%-4d", l);
    printf("\n");
    for (int i = 0; i < n; i++) {
        print_piece(tk, ids, i, piece, sizeof piece);
        for (char *c = piece; *c; c++) if (*c == '\n' || *c == '\t') *c = ' ';
        printf("%-16.16s", piece);
        for (int l = 0; l < m->cfg.n_layers; l++) {
            int bypass;
            double v = layer_mean(st, l, i, &bypass);
            printf("  %4.2f%c", v, bypass ? '*' : ' ');
        }
        printf("\n");
    }
    printf("(mean true experts over each layer's routed modules; * = some module bypassed the token)\n");
}

static void print_json(const LlamaModel *m, const Tokenizer *tk, const int *ids, int n) {
    const MoeState *st = m->moe;
    char piece[128];
    printf("{\"modules\":[");
    int first = 1;
    for (int j = 0; j < MOE_MODULES; j++)
        if (m->acfg.targets & (1 << j)) { printf("%s\"%s\"", first ? "" : ",", lora_target_module(j)); first = 0; }
    printf("],\"layers\":%d,\"tokens\":[", m->cfg.n_layers);
    for (int i = 0; i < n; i++) {
        printf("%s{\"id\":%d,\"piece\":", i ? "," : "", ids[i]);
        if (tk) {
            print_piece(tk, ids, i, piece, sizeof piece);
            json_write_string(stdout, piece, strlen(piece));
        } else printf("null");
        printf(",\"true_experts\":[");
        for (int l = 0; l < m->cfg.n_layers; l++) {
            printf("%s[", l ? "," : "");
            int f = 1;
            for (int j = 0; j < MOE_MODULES; j++) {
                int c = true_count(st, l, j, i);
                if (c >= 0) { printf("%s%d", f ? "" : ",", c); f = 0; }
            }
            printf("]");
        }
        printf("],\"mean_per_layer\":[");
        for (int l = 0; l < m->cfg.n_layers; l++) {
            int b;
            printf("%s%.6g", l ? "," : "", layer_mean(st, l, i, &b));
        }
        printf("]}");
    }
    printf("]}\n");
}

static int route_run(const RouteOpts *o, LlamaModel *m, const Tokenizer *tk, const int *ids, int n) {
    for (int i = 0; i < n; i++)
        if (ids[i] >= m->cfg.vocab_size) {
            fprintf(stderr, "error: token id %d at index %d is outside the vocabulary (expected 0..%d)\n", ids[i], i, m->cfg.vocab_size - 1);
            return 1;
        }
    if (n > m->cfg.max_seq_len) { fprintf(stderr, "error: %d tokens exceed the model's context of %d\n", n, m->cfg.max_seq_len); return 1; }
    Arena a;
    arena_init(&a, (size_t)16 << 20);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    llama_hidden(&t, m, ids, 1, n, NULL);
    if (o->json) print_json(m, tk, ids, n);
    else print_table(m, tk, ids, n);
    tape_free(&t);
    arena_free(&a);
    return 0;
}

static int parse_opts(RouteOpts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    Flag t[] = {
        { "text", FLAG_STRING, &o->text, "text to route (encoded with BOS)", 0 },
        { "prompt-ids", FLAG_STRING, &o->prompt_ids, "token ids, comma-separated", 0 },
        { "json", FLAG_BOOL, &o->json, "one JSON line with the per-token counts", 0 },
        { "config", FLAG_STRING, &o->config, "JSON file with any of these options", 0 },
    };
    Flag f[MODEL_FLAGS_MAX + sizeof t / sizeof t[0]];
    int n = model_flags(f, &o->model, &o->tokenizer, &o->adapter_dir, t, (int)(sizeof t / sizeof t[0])), help = 0;
    Error err;
    Status s = flags_parse(f, n, argc, argv, 1, &help, &err);
    if (!s && o->config) s = flags_load_config(f, n, o->config, &err);
    if (s) { error_print(&err); return 1; }
    if (help) {
        flags_print_help(stdout, "usage: ./train route --model M [--tokenizer T] --adapter-dir D (--text \"...\" | --prompt-ids 1,2,3) [--json]\n"
                         "Per token and layer: how many TRUE experts the routers chose (expert-choice routing is non-causal:\n"
                         "experts choose among this sequence's tokens).", f, n);
        return -1;
    }
    const char *bad = !o->model ? "--model is required" : !o->adapter_dir ? "--adapter-dir is required"
                    : !o->text == !o->prompt_ids ? "give exactly one of --text and --prompt-ids"
                    : o->text && !o->tokenizer ? "--text needs --tokenizer (or use --prompt-ids)" : NULL;
    if (bad) { fprintf(stderr, "error: route: %s\n", bad); return 1; }
    return 0;
}

int route_cli(int argc, char **argv) {
    RouteOpts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    LlamaModel m;
    Error err;
    if (model_load_with_adapter(&m, o.model, o.adapter_dir, 0, &err) != STATUS_OK) { error_print(&err); return 1; }
    if (!m.moe) {
        fprintf(stderr, "error: %s is not a molora / adamoe adapter (no routers)\n", o.adapter_dir);
        llama_free(&m);
        return 1;
    }
    Tokenizer tk;
    int have_tk = 0, *ids = NULL, n = 0;
    if (o.tokenizer) {
        if (tokenizer_load(&tk, o.tokenizer, m.cfg.vocab_size, &err) != STATUS_OK) { error_print(&err); llama_free(&m); return 1; }
        have_tk = 1;
    }
    rc = (o.text ? text_encode(&tk, o.text, &ids, &n) : ids_parse(o.prompt_ids, &ids, &n)) ? 0 : 1;
    if (!rc) rc = route_run(&o, &m, have_tk ? &tk : NULL, ids, n);
    free(ids);
    if (have_tk) tokenizer_free(&tk);
    llama_free(&m);
    return rc;
}
