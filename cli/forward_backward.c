/* cli/forward_backward.c — `./train forward-backward`: the C side of the PyTorch parity check.
     forward-backward --model M [--adapter-dir D] --tokens tokens.json [--json-out out.json]
                      [--grads-out grads.safetensors] [--grads-dtype f32|f64] [--threads N]
                      [adapter options: --adapter --experts --routing --aux-coef ... --seed --nonzero-b]
   Same interface, tokens.json format and out.json keys as shared/tools/torch_ref.py
   forward-backward (summary_dict()). The adapter options are train's (cli/adapter_options.h):
   with --adapter-dir they start from the directory's adapter_config.json and the given ones
   override it (routing, top-p, aux, ...; the expert layout must match the files); without it
   they build a fresh adapter from --seed (as make-tiny: B = 0, or N(0, 0.02²) with --nonzero-b),
   and --adapter none (the default) is the base model. The aux coefficient is the trainer's at
   step 0 (--aux-schedule epoch: the first of --aux-coefs), so the loss is the trainer's first
   forward on the same batch (without pads). For a plain LoRA adapter the MoE fields are what torch_ref
   emits for lora: aux 0 per layer, null router statistics, and "aux_coef" is still --aux-coef (default
   0.001), as for the base model; Mo-LoRA / AdaMoE adapters report
   loss = ce + aux_coef·aux_sum, aux per layer and the router statistics of every layer. The gradient file uses the adapter's
   file keys. The model is read as llama2.c .bin (file) or HF directory; weights stay f32
   (bf16 files are widened), and the arithmetic is `real` (float; double in the f64 build). */
#include "cli/forward_backward.h"
#include "cli/recompute_option.h"
#include "cli/errors.h"
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "cli/adapter_options.h"
#include "nn/checkpoint.h"
#include "cli/make_tiny.h"
#include "nn/forward_backward.h"
#include "data/atomic_file.h"
#include "cli/model_flags.h"
#include "data/json.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: ./train forward-backward --model M [--adapter-dir D] --tokens tokens.json\n" \
              "       [--json-out out.json] [--grads-out grads.safetensors] [--grads-dtype f32|f64] [--threads N]\n" \
              "       [--adapter molora|adamoe|moe-ffn --experts n --null m --top-k k --routing topk ... --seed S --nonzero-b]\n" \
              "       (adapter options as ./train train; with --adapter-dir, given ones override the directory's)"

typedef struct {
    const char *model, *adapter_dir, *tokens, *json_out, *grads_out, *grads_dtype, *config;
    const char *base_dtype, *expert_dtype, *recompute;
    int threads, seed, nonzero_b;
    AdapterOptions ad;
    AdapterOptionsText ad_text;
} FbOptions;

static void write_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

static void write_repeated(FILE *f, const char *key, const char *item, int n) {
    fprintf(f, "  \"%s\": [", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? ", " : "", item);
    fputs("],\n", f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "grad_norms": {file key: ||grad||_2} sorted by key, as Python's sorted(dict) */
static void write_grad_norms(FILE *f, const LlamaModel *m) {
    char **keys = xcalloc((size_t)m->ps.n + 1, sizeof *keys);
    int n = 0;
    for (int i = 0; i < m->ps.n; i++)
        if (m->ps.params[i]->grad && adapter_is_param_name(m->ps.params[i]->name)) {
            char key[320];
            adapter_file_key(m->ps.params[i]->name, key, sizeof key);
            keys[n] = xmalloc(strlen(key) + 1);
            memcpy(keys[n++], key, strlen(key) + 1);
        }
    qsort(keys, (size_t)n, sizeof *keys, cmp_str);
    fputs("  \"grad_norms\": {", f);
    for (int i = 0; i < n; i++) {
        const Tensor *t = param_find(&m->ps, keys[i] + strlen(ADAPTER_KEY_PREFIX));
        double ss = 0;
        for (size_t j = 0; j < t->numel; j++) ss += (double)t->grad[j] * (double)t->grad[j];
        fprintf(f, "%s\n    ", i ? "," : "");
        json_write_string(f, keys[i], strlen(keys[i]));
        fputs(": ", f);
        write_num(f, sqrt(ss));
        free(keys[i]);
    }
    fputs(n ? "\n  },\n" : "},\n", f);
    free(keys);
}

/* "key": [per-layer value of the router statistics] (what: 0 load, 1 null, 2 bypass, 3 entropy) */
static void write_layer_stat(FILE *f, const MoeStats *st, const char *key, int what) {
    fprintf(f, "  \"%s\": [", key);
    for (int l = 0; l < st->n_layers; l++) {
        MoeSummary s;
        moe_summary_layer(st, l, &s);
        fputs(l ? ", " : "", f);
        if (s.tokens <= 0) { fputs("null", f); continue; }
        write_num(f, what == 0 ? s.load : what == 1 ? s.null_fraction : what == 2 ? s.bypass_fraction : s.entropy);
    }
    fputs("],\n", f);
}

/* the router fields of torch_ref's summary_dict() */
static void write_moe(FILE *f, const ForwardBackwardResult *r, const LlamaModel *m) {
    const MoeStats *st = &m->moe->stats;
    fputs("  \"aux_per_layer\": [", f);
    for (int l = 0; l < st->n_layers; l++) { fputs(l ? ", " : "", f); write_num(f, m->moe->aux_per_layer[l]); }
    fputs("],\n  \"aux_sum\": ", f);
    write_num(f, r->aux);
    fputs(",\n", f);
    write_layer_stat(f, st, "load_per_layer", 0);
    MoeSummary ms;
    moe_summary_model(st, &ms);
    fputs("  \"load_mean\": ", f);
    write_num(f, ms.load);
    fputs(",\n  \"expert_fractions_per_layer\": [", f);
    for (int l = 0; l < st->n_layers; l++) {
        MoeSummary s;
        moe_summary_layer(st, l, &s);
        fputs(l ? ", [" : "[", f);
        for (int i = 0; i < s.n_experts; i++) { fputs(i ? ", " : "", f); write_num(f, s.expert_fraction[i]); }
        fputs("]", f);
    }
    fputs("],\n", f);
    write_layer_stat(f, st, "null_fraction_per_layer", 1);
    write_layer_stat(f, st, "bypass_fraction_per_layer", 2);
    write_layer_stat(f, st, "router_entropy_per_layer", 3);
}

static void write_summary(FILE *f, const ForwardBackwardResult *r, const LlamaModel *m, const char *model_path) {
    int L = m->cfg.n_layers;
    fputs("{\n  \"loss\": ", f); write_num(f, r->loss);
    fputs(",\n  \"ce\": ", f); write_num(f, r->ce);
    fputs(",\n", f);
    if (m->moe) write_moe(f, r, m);
    else {
        write_repeated(f, "aux_per_layer", "0.0", L);
        fputs("  \"aux_sum\": 0.0,\n", f);
        write_repeated(f, "load_per_layer", "null", L);
        fputs("  \"load_mean\": null,\n", f);
        static const char *const per_layer[] = { "expert_fractions_per_layer", "null_fraction_per_layer",
                                                 "bypass_fraction_per_layer", "router_entropy_per_layer" };
        for (int k = 0; k < 4; k++) write_repeated(f, per_layer[k], "null", L);
    }
    fputs("  \"logits_pos0_first8\": [", f);
    for (int j = 0; j < r->n_first8; j++) {
        if (j) fputs(", ", f);
        write_num(f, r->logits_pos0_first8[j]);
    }
    fputs("],\n  \"logits_sum\": ", f); write_num(f, r->logits_sum);
    fprintf(f, ",\n  \"n_tokens\": %d,\n  \"n_target_tokens\": %d,\n  \"grad_global_norm\": ",
            r->n_tokens, r->n_target_tokens);
    write_num(f, r->grad_global_norm);
    fputs(",\n", f);
    write_grad_norms(f, m);
    fputs("  \"model\": ", f);
    json_write_string(f, model_path, strlen(model_path));
    fprintf(f, ",\n  \"adapter\": \"%s\",\n  \"dtype\": \"%s\",\n  \"aux_coef\": %.17g\n}\n",
            m->acfg.kind == ADAPTER_NONE ? "none" : adapter_kind_name(m->acfg.kind), REAL_IS_DOUBLE ? "float64" : "float32",
            m->acfg.aux_coef);
}

static Status write_json_file(const char *path, const ForwardBackwardResult *r, const LlamaModel *m, const char *model_path,
                              Error *err) {
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    write_summary(af.f, r, m, model_path);
    return atomic_write_commit(&af, err);
}

/* the adapter config of the options; aux coefficient = the trainer's at step 0 */
static Status fb_adapter(const FbOptions *o, AdapterConfig *acfg, Error *err) {
    Status s = adapter_options_config(&o->ad, NULL, acfg, err);
    if (!s) s = adapter_options_aux_coef0(&o->ad, &acfg->aux_coef, err);
    return s;
}

static Status run(const FbOptions *o, Error *err) {
    SafeDtype gd = SAFE_F32;
    if (!strcmp(o->grads_dtype, "f64")) gd = SAFE_F64;
    else if (strcmp(o->grads_dtype, "f32"))
        return error_set(err, STATUS_INVALID, NULL, "--grads-dtype must be f32 or f64, got '%s'", o->grads_dtype);
    AdapterConfig acfg;
    uint64_t seed = (uint64_t)(int64_t)o->seed;
    Status s = fb_adapter(o, &acfg, err);
    int dtype = BASE_DTYPE_AUTO;
    if (!s) s = base_dtype_code(o->base_dtype, o->expert_dtype, 1, &dtype, err);
    LlamaModel m;
    if (!s) s = adapter_options_load_model(&m, o->model, o->adapter_dir, &acfg, seed, dtype, err);
    if (s) return s;
    if (o->nonzero_b && !o->adapter_dir && acfg.kind != ADAPTER_NONE) make_tiny_nonzero_b(&m, seed);
    else if (o->nonzero_b)   /* as torch_ref.py: the flag only shapes a fresh adapter */
        fprintf(stderr, "note: --nonzero-b ignored: %s\n", o->adapter_dir ? "the adapter comes from --adapter-dir" : "no adapter");
    MemRecompute rc = MEM_RECOMPUTE_AUTO;   /* auto: off (forward-backward makes no memory estimate) */
    s = recompute_option_parse(o->recompute, &rc, err);
    if (!s && rc == MEM_RECOMPUTE_ON && m.acfg.pregate)
        s = error_set(err, STATUS_INVALID, "drop --pregate or --recompute on", "--recompute on cannot be combined with "
                      "--pregate: pre-gating routes each layer on the previous layer's inputs, which recompute does not keep");
    m.recompute = rc == MEM_RECOMPUTE_ON;
    TokenBatch tb = { 0 };
    ForwardBackwardResult r;
    if (!s) s = token_batch_load(o->tokens, &m.cfg, &tb, err);
    if (!s) s = forward_backward_run(&m, &tb, &r, err);
    if (!s && o->grads_out) s = forward_backward_write_grads(&m, o->grads_out, gd, err);
    if (!s && o->json_out) s = write_json_file(o->json_out, &r, &m, o->model, err);
    if (!s)
        printf("{\"loss\": %.9g, \"ce\": %.9g, \"aux_sum\": %.9g, \"logits_sum\": %.9g, \"n_target_tokens\": %d, "
               "\"grad_global_norm\": %.9g}\n", r.loss, r.ce, r.aux, r.logits_sum, r.n_target_tokens, r.grad_global_norm);
    token_batch_free(&tb);
    llama_free(&m);
    return s;
}

#define FB_MAX_FLAGS (14 + ADAPTER_OPTIONS_N_FLAGS)

static int fb_flags(FbOptions *o, Flag *f) {
    Flag t[] = {
        { "tokens", FLAG_STRING, &o->tokens, "tokens.json {\"inputs\": [[ids]], \"targets\": [[ids or -100]]}", 0 },
        { "json-out", FLAG_STRING, &o->json_out, "write the summary (torch_ref.py keys) here", 0 },
        { "grads-out", FLAG_STRING, &o->grads_out, "write the adapter gradients (safetensors) here", 0 },
        { "grads-dtype", FLAG_STRING, &o->grads_dtype, "f32 | f64", 0 },
        { "threads", FLAG_INT, &o->threads, "worker threads (0: $MOETRAIN_THREADS or all CPUs)", 0 },
        { "base-dtype", FLAG_STRING, &o->base_dtype, "auto | " BASE_DTYPE_HELP, 0 },
        { "expert-dtype", FLAG_STRING, &o->expert_dtype, EXPERT_DTYPE_HELP, 0 },
        { "seed", FLAG_INT, &o->seed, "seed of a fresh adapter (no --adapter-dir), as make-tiny --seed", 0 },
        { "nonzero-b", FLAG_BOOL, &o->nonzero_b, "fresh adapter: B ~ N(0, 0.02) instead of zeros (ignored with --adapter-dir, as torch_ref.py)", 0 },
        { "recompute", FLAG_STRING, &o->recompute, "auto (= off here) | on | off: re-run each decoder layer's forward in the backward instead of keeping its activations", 0 },
        { "config", FLAG_STRING, &o->config, "JSON file with these options", 0 },
    };
    int n = model_flags(f, &o->model, NULL, &o->adapter_dir, t, (int)(sizeof t / sizeof t[0]));
    n += adapter_options_flags(&o->ad, f + n);   /* the adapter options of train / eval / make-tiny */
    CHECK(n <= FB_MAX_FLAGS, "%d forward-backward options exceed FB_MAX_FLAGS", n);
    return n;
}

int forward_backward_cli(int argc, char **argv) {
    FbOptions o;
    memset(&o, 0, sizeof o);
    o.grads_dtype = "f32";
    o.base_dtype = "auto";
    o.recompute = "auto";
    adapter_options_default(&o.ad);
    o.ad.adapter = "none";   /* as torch_ref.py: no adapter unless asked for (or --adapter-dir) */
    Flag f[FB_MAX_FLAGS];
    int n = fb_flags(&o, f), help;
    Error err;
    Status s = adapter_options_parse(f, n, argc, argv, &o.ad, &o.ad_text, &o.adapter_dir, &o.config, &help, &err);
    if (!s && help) {
        flags_print_help(stdout, USAGE, f, n);
        return 0;
    }
    if (!s && (!o.model || !o.tokens))
        s = error_set(&err, STATUS_INVALID, USAGE, "forward-backward needs --model and --tokens");
    if (!s && o.threads < 0) s = error_set(&err, STATUS_INVALID, NULL, "--threads must be >= 0, got %d", o.threads);
    if (!s && o.threads > 0) threads_init(o.threads);
    if (!s) s = run(&o, &err);
    if (s) {
        error_print(&err);
        return 1;
    }
    return 0;
}
