/* nn/adapter_io.c — PEFT LoRA adapter directories (see adapter_io.h): writer, config reader and
   strict loader. The config keys and their order follow PEFT's LoraConfig as written by
   torch_ref.py adapter_config_dict(); the tensors are F32 under "base_model.model.<param name>".
   Which tensors belong to the adapter is decided by name alone (adapter_is_param_name: lora_,
   router, gate2, shared_, null_const), so saving, loading and the parity tools agree on one set.
   Loading is two-phase: adapter_read_config() first, so the model can be DECLARED with the
   file's shapes (rank, targets, experts), then adapter_load() checks that the file's config
   equals the model's and fills every adapter tensor, refusing missing, extra or misshapen ones.
   Each of the two files is written atomically; the pair is not: the tensors are written first,
   so an interrupted save can leave new tensors next to an old config. */
#include "nn/adapter_io.h"
#include "nn/adapter_moe.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "data/atomic_file.h"
#include "data/json.h"
#include "tensor/check.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_FILE "adapter_config.json"
#define MODEL_FILE "adapter_model.safetensors"

const char *adapter_file_key(const char *param_name, char *buf, size_t n) {
    snprintf(buf, n, "%s%s", ADAPTER_KEY_PREFIX, param_name);
    return buf;
}

static int is_lora_param(const Tensor *t) { return adapter_is_param_name(t->name); }


/* a float for JSON: integral values as Python writes them (16.0, so PEFT sees a float), others
   with 17 significant digits, which read back as the same double (Python would print the
   shortest such form: 0.05 where we write 0.050000000000000003) */
static void write_float(FILE *f, double v) {
    if (v == floor(v) && fabs(v) < 1e15) fprintf(f, "%.1f", v);
    else fprintf(f, "%.17g", v);
}

/* adapter_config.json: PEFT's LoraConfig keys (REFERENCE.md §4.6), the values we do not
   implement at their neutral defaults, then the "moe" object for routed adapters. */
static void write_config_json(FILE *f, const AdapterConfig *a, const char *base_name) {
    fprintf(f, "{\n  \"peft_type\": \"LORA\",\n  \"task_type\": \"CAUSAL_LM\",\n"
               "  \"base_model_name_or_path\": ");
    json_write_string(f, base_name ? base_name : "", base_name ? strlen(base_name) : 0);
    fprintf(f, ",\n  \"r\": %d,\n  \"lora_alpha\": ", a->rank);
    write_float(f, a->alpha);
    fputs(",\n  \"lora_dropout\": ", f);
    write_float(f, a->dropout);
    fputs(",\n  \"target_modules\": [", f);
    int first = 1;
    for (int i = 0; i < LORA_TARGET_BITS; i++)
        if (a->targets & (1 << i)) {
            fprintf(f, "%s\"%s\"", first ? "" : ", ", adapter_target_module(a, i));
            first = 0;
        }
    fprintf(f, "],\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n  \"inference_mode\": false,\n"
               "  \"init_lora_weights\": true,\n  \"modules_to_save\": null,\n"
               "  \"layers_to_transform\": null,\n  \"layers_pattern\": null,\n  \"rank_pattern\": {},\n"
               "  \"alpha_pattern\": {},\n  \"use_rslora\": %s,\n  \"use_dora\": false,\n"
               "  \"revision\": null", a->rslora ? "true" : "false");
    adapter_moe_write_json(f, a);
    fputs("\n}\n", f);
}

/* Every adapter tensor (chosen by name) is written as F32, whatever the build's precision. */
Status adapter_save(const LlamaModel *m, const char *dir, const char *base_name, Error *err) {
    if (m->acfg.kind != ADAPTER_LORA && !adapter_is_routed(&m->acfg))
        return error_set(err, STATUS_INVALID, "full fine-tuning saves a base checkpoint instead",
                         "cannot save an adapter for adapter kind '%s' (lora, molora, adamoe)", adapter_kind_name(m->acfg.kind));
    Status s = dirs_make(dir, err);
    if (s) return s;
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    char key[320], path[1100];
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *t = m->ps.params[i];
        if (is_lora_param(t))
            safetensors_writer_add_real(&w, adapter_file_key(t->name, key, sizeof key), SAFE_F32,
                                        t->shape, t->ndim, t->data);
    }
    safetensors_writer_set_metadata(&w, "format", "pt");
    snprintf(path, sizeof path, "%s/%s", dir, MODEL_FILE);
    s = safetensors_write(&w, path, err);
    safetensors_writer_free(&w);
    if (s) return s;
    snprintf(path, sizeof path, "%s/%s", dir, CONFIG_FILE);
    AtomicFile af;
    s = atomic_write_begin(&af, path, err);
    if (s) return s;
    write_config_json(af.f, &m->acfg, base_name);
    return atomic_write_commit(&af, err);
}

/* ---- reading the config ---- */

static Status unsupported(Error *err, const char *path, const char *what) {
    return error_set(err, STATUS_INVALID, "only plain LoRA adapters (PEFT defaults) are supported",
                     "%s: %s is not supported", path, what);
}

/* Rejects PEFT options whose semantics we do not implement (they would be silently wrong):
   a bias adapter, DoRA, transposed weights (fan_in_fan_out), per-module ranks or alphas, a
   layer subset. A key that is absent counts as its PEFT default. */
static Status check_unsupported(const JsonValue *r, const char *path, Error *err) {
    const char *str;
    int b;
    if (json_get_string(r, "peft_type", &str) && strcmp(str, "LORA"))
        return error_set(err, STATUS_INVALID, NULL, "%s: peft_type \"%s\", expected \"LORA\"", path, str);
    if (json_get_string(r, "bias", &str) && strcmp(str, "none")) return unsupported(err, path, "bias other than \"none\"");
    if (json_get_bool(r, "use_dora", &b) && b) return unsupported(err, path, "use_dora (DoRA)");
    if (json_get_bool(r, "fan_in_fan_out", &b) && b) return unsupported(err, path, "fan_in_fan_out true");
    const char *objs[2] = { "rank_pattern", "alpha_pattern" };
    for (int i = 0; i < 2; i++) {
        const JsonValue *v = json_get(r, objs[i]);
        if (v && v->type != JSON_NULL && !(v->type == JSON_OBJECT && v->count == 0))
            return unsupported(err, path, objs[i]);
    }
    const JsonValue *v = json_get(r, "layers_to_transform");
    if (v && v->type != JSON_NULL) return unsupported(err, path, "layers_to_transform");
    return STATUS_OK;
}

/* One target_modules entry as PEFT reads it: a module-name suffix. A bare "gate" is therefore the
   Mixtral router (block_sparse_moe.gate; Llama has no module named "gate"), not gate_proj. */
static int read_target_entry(const JsonValue *e, int *bits) {
    Error e2;
    if (e->type != JSON_STRING || strchr(e->string, ',') || !strcmp(e->string, "all")) return 0;
    if (!strcmp(e->string, "gate")) { *bits = LORA_TARGET_ROUTER; return 1; }
    return lora_targets_parse(e->string, bits, &e2) == STATUS_OK;
}

/* target_modules -> LORA_TARGET_* bits: PEFT's "all-linear" string or a list of names; an empty
   list only for moe-ffn adapters, whose expert LoRAs live in the "moe" object. */
static Status read_targets(const JsonValue *r, const char *path, int *out, Error *err) {
    const JsonValue *tm = json_get(r, "target_modules");
    const char *hint = "target_modules lists q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj "
                       "(Mixtral: w1, w3, w2, and block_sparse_moe.gate for the router)";
    if (tm && tm->type == JSON_STRING && !strcmp(tm->string, "all-linear")) {
        *out = LORA_TARGET_ALL;
        return STATUS_OK;
    }
    if (!tm || tm->type != JSON_ARRAY || (tm->count == 0 && !json_get(r, "moe")))   /* moe-ffn: may be [] */
        return error_set(err, STATUS_FORMAT, hint, "%s: \"target_modules\" must be a non-empty list of names", path);
    int bits = 0;
    for (size_t i = 0; i < tm->count; i++) {
        const JsonValue *e = &tm->items[i];
        int b;
        if (!read_target_entry(e, &b))
            return error_set(err, STATUS_FORMAT, hint, "%s:%d:%d: target_modules[%zu] is not a supported module name",
                             path, e->line, e->col, i);
        bits |= b;
    }
    *out = bits;
    return STATUS_OK;
}

/* r (required, 1..65536), lora_alpha (required, > 0), lora_dropout [0, 1), use_rslora and
   target_modules; absent optional keys keep cfg's zero values (PEFT defaults: 0.0, false) */
static Status read_config_values(const JsonValue *r, const char *path, AdapterConfig *cfg, Error *err) {
    long long rank;
    if (!json_get_int(r, "r", &rank) || rank < 1 || rank > 65536)
        return error_set(err, STATUS_FORMAT, "r is the LoRA rank, an integer >= 1",
                         "%s: missing or invalid \"r\"", path);
    if (!json_get_number(r, "lora_alpha", &cfg->alpha) || !(cfg->alpha > 0))
        return error_set(err, STATUS_FORMAT, NULL, "%s: missing or invalid \"lora_alpha\" (a number > 0)", path);
    cfg->rank = (int)rank;
    if (json_get(r, "lora_dropout") &&
        (!json_get_number(r, "lora_dropout", &cfg->dropout) || cfg->dropout < 0 || cfg->dropout >= 1))
        return error_set(err, STATUS_FORMAT, NULL, "%s: \"lora_dropout\" must be a number in [0, 1)", path);
    const JsonValue *rs = json_get(r, "use_rslora");
    if (rs && rs->type != JSON_NULL && !json_get_bool(r, "use_rslora", &cfg->rslora))
        return error_set(err, STATUS_FORMAT, NULL, "%s: \"use_rslora\" must be true or false", path);
    return read_targets(r, path, &cfg->targets, err);
}

/* A plain LoRA config unless a non-null "moe" object makes it molora / adamoe / moe-ffn. */
Status adapter_read_config(const char *dir, AdapterConfig *cfg, Error *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, CONFIG_FILE);
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = ADAPTER_LORA;
    JsonDoc doc;
    Status s = json_parse_file(&doc, path, err);
    if (s) return s;
    if (doc.root->type != JSON_OBJECT)
        s = error_set(err, STATUS_FORMAT, NULL, "%s: expected a JSON object", path);
    if (!s) s = check_unsupported(doc.root, path, err);
    if (!s) s = read_config_values(doc.root, path, cfg, err);
    const JsonValue *moe = s ? NULL : json_get(doc.root, "moe");
    if (moe && moe->type != JSON_NULL) s = adapter_moe_read_json(moe, path, cfg, err);
    json_doc_free(&doc);
    return s;
}

/* ---- loading the tensors ---- */

/* The file's config f must describe the same tensors as the model's m: same rank, alpha,
   targets and rsLoRA flag (alpha and rsLoRA do not change shapes, but loading B·A trained for
   another scale would silently change the model), and for routed adapters the same experts. */
static Status config_matches(const AdapterConfig *f, const AdapterConfig *m, const char *dir, Error *err) {
    char a[64], b[64];
    const char *hint = "declare the model with adapter_read_config() of this directory";
    if (m->kind != ADAPTER_LORA && !adapter_is_routed(m))
        return error_set(err, STATUS_INVALID, hint, "%s: the model has no LoRA adapter (kind %s)", dir,
                         adapter_kind_name(m->kind));
    if ((f->kind != ADAPTER_LORA || m->kind != ADAPTER_LORA) && adapter_moe_matches(f, m, dir, err))
        return err->status;
    if (f->rank != m->rank || f->targets != m->targets || f->rslora != m->rslora || fabs(f->alpha - m->alpha) > 0)
        return error_set(err, STATUS_INVALID, hint,
                         "%s/%s: r %d, lora_alpha %g, targets %s, use_rslora %d, but the model was declared "
                         "with r %d, alpha %g, targets %s, rslora %d", dir, CONFIG_FILE, f->rank, f->alpha,
                         lora_targets_str(f->targets, a, sizeof a), f->rslora, m->rank, m->alpha,
                         lora_targets_str(m->targets, b, sizeof b), m->rslora);
    return STATUS_OK;
}

/* Every key of the file must be one of the model's adapter tensors: an extra key means the file
   was trained for other targets or another model, and ignoring it would lose part of it. */
static Status check_no_extra_keys(const LlamaModel *m, const SafeTensors *st, Error *err) {
    size_t np = strlen(ADAPTER_KEY_PREFIX);
    for (size_t i = 0; i < st->count; i++) {
        const char *key = safetensors_at(st, i)->name;
        const Tensor *t = strncmp(key, ADAPTER_KEY_PREFIX, np) ? NULL : param_find(&m->ps, key + np);
        if (!t || !is_lora_param(t))
            return error_set(err, STATUS_FORMAT,
                             "the adapter does not fit this model / config (wrong target_modules or a foreign file?)",
                             "%s: unexpected tensor %s (no such LoRA tensor in the model)", st->path, key);
    }
    return STATUS_OK;
}

/* config match -> no extra keys -> every adapter tensor present with the declared shape
   (safetensors_read_real converts F32 / F16 / BF16 / F64 into real). On error the model may
   hold some tensors already loaded: the caller drops it (model_load_with_adapter frees it). */
Status adapter_load(LlamaModel *m, const char *dir, Error *err) {
    AdapterConfig fc;
    Status s = adapter_read_config(dir, &fc, err);
    if (!s) s = config_matches(&fc, &m->acfg, dir, err);
    if (s) return s;
    char path[1100], key[320];
    snprintf(path, sizeof path, "%s/%s", dir, MODEL_FILE);
    SafeTensors st;
    s = safetensors_open(&st, path, err);
    if (s) return s;
    s = check_no_extra_keys(m, &st, err);
    for (int i = 0; i < m->ps.n && !s; i++) {
        Tensor *t = m->ps.params[i];
        if (is_lora_param(t))
            s = safetensors_read_real(&st, adapter_file_key(t->name, key, sizeof key), t->shape, t->ndim,
                                      t->data, err);
    }
    safetensors_close(&st);
    return s;
}

Status model_load_with_adapter(LlamaModel *m, const char *model_path, const char *adapter_dir, int frozen_bf16,
                               Error *err) {
    AdapterConfig acfg = { .kind = ADAPTER_NONE };
    Status s = adapter_dir ? adapter_read_config(adapter_dir, &acfg, err) : STATUS_OK;
    if (!s) s = model_load(m, model_path, &acfg, frozen_bf16, err);
    if (!s && adapter_dir) {
        s = adapter_load(m, adapter_dir, err);
        if (s) llama_free(m);
    }
    return s;
}
