/* nn/checkpoint_hf.c — Hugging Face Llama directories: config.json + model.safetensors, or a
   sharded model.safetensors.index.json ({"weight_map": {tensor: file}}); F32 / F16 / BF16.
   HF q/k rows are kept as they are and the model uses half-split RoPE (REFERENCE.md §4.4), so
   no permutation happens at load. Tensors the model does not use (rotary inv_freq) are ignored;
   a tensor the model needs that is missing or mis-shaped is an error naming file and tensor, and
   so is a bias the config does not announce (Qwen2 q/k/v, Llama attention_bias q/k/v/o), which
   would otherwise be dropped silently. config.json is read by nn/hf_config.c. */
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "nn/adapter_moe.h"
#include "data/json.h"
#include "tensor/check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HF_MAX_SHARDS 128

typedef struct {
    SafeTensors files[HF_MAX_SHARDS];
    char names[HF_MAX_SHARDS][256];
    int n;
    JsonDoc index;
    int has_index;
} ShardSet;

static Status shards_open(ShardSet *ss, const char *dir, Error *err) {
    char path[1024];
    memset(ss, 0, sizeof *ss);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        ss->n = 1;
        snprintf(ss->names[0], sizeof ss->names[0], "model.safetensors");
        return safetensors_open(&ss->files[0], path, err);
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (stat(path, &st) != 0)
        return error_set(err, STATUS_IO, "an HF model directory holds config.json and model.safetensors",
                         "%s: neither model.safetensors nor model.safetensors.index.json found", dir);
    Status s = json_parse_file(&ss->index, path, err);
    if (s) return s;
    ss->has_index = 1;
    const JsonValue *map = json_get(ss->index.root, "weight_map");
    if (!map || map->type != JSON_OBJECT)
        return error_set(err, STATUS_FORMAT, NULL, "%s: missing \"weight_map\" object", path);
    for (size_t i = 0; i < map->count && !s; i++) {
        const JsonValue *fv = &map->items[i];
        if (fv->type != JSON_STRING || strchr(fv->string, '/'))
            return error_set(err, STATUS_FORMAT, NULL, "%s: weight_map[\"%s\"] must be a file name", path, map->keys[i]);
        int known = 0;
        for (int j = 0; j < ss->n; j++) known |= !strcmp(ss->names[j], fv->string);
        if (known) continue;
        if (ss->n == HF_MAX_SHARDS) return error_set(err, STATUS_FORMAT, NULL, "%s: more than %d shards", path, HF_MAX_SHARDS);
        snprintf(ss->names[ss->n], sizeof ss->names[0], "%s", fv->string);
        char shard[1280];
        snprintf(shard, sizeof shard, "%s/%s", dir, fv->string);
        s = safetensors_open(&ss->files[ss->n], shard, err);
        if (!s) ss->n++;
    }
    return s;
}

static const SafeTensors *shards_lookup(const ShardSet *ss, const char *name) {
    if (!ss->has_index) return &ss->files[0];
    const char *file = NULL;
    if (!json_get_string(json_get(ss->index.root, "weight_map"), name, &file)) return NULL;
    for (int j = 0; j < ss->n; j++)
        if (!strcmp(ss->names[j], file)) return &ss->files[j];
    return NULL;
}

static void shards_close(ShardSet *ss) {
    for (int j = 0; j < ss->n; j++) safetensors_close(&ss->files[j]);
    if (ss->has_index) json_doc_free(&ss->index);
}

/* Loads every base (non-adapter) parameter the model declared, straight into its storage (bf16
   storage from a BF16 file is a plain copy; the readers drop the file pages they have read): the
   peak is about the model itself, not model + file + a float copy of the largest tensor. */
static Status load_base_params(LlamaModel *m, const ShardSet *ss, const char *dir, Error *err) {
    Status s = STATUS_OK;
    for (int i = 0; i < m->ps.n && !s; i++) {
        Tensor *t = m->ps.params[i];
        if (adapter_is_param_name(t->name)) continue;
        const SafeTensors *st = shards_lookup(ss, t->name);
        if (!st)
            return error_set(err, STATUS_FORMAT, "the checkpoint does not match its config.json",
                             "%s: tensor %s is missing (not in the weight map)", dir, t->name);
        if (m->ps.mapped[i]) t->bf16 = (uint16_t *)(uintptr_t)safetensors_find(st, t->name)->data;
        else if (t->quant) s = safetensors_read_quant(st, t->name, t->shape, t->ndim, t->quant, err);
        else if (t->bf16) s = safetensors_read_bf16(st, t->name, t->shape, t->ndim, t->bf16, err);
        else s = safetensors_read_real(st, t->name, t->shape, t->ndim, t->data, err);
    }
    return s;
}

/* Frozen bf16 views whose file tensor is BF16 (and 2-byte aligned, as writers that pad the
   header to 8 bytes make it) point into the file's mapping instead of being copied (param_store.h:
   "Memory-mapped views"). Before allocate. */
static void mark_mapped_views(LlamaModel *m, const ShardSet *ss) {
    for (int i = 0; i < m->ps.n; i++) {
        Tensor *p = m->ps.params[i];
        if (m->ps.roles[i] != PARAM_FROZEN || adapter_is_param_name(p->name)) continue;
        const SafeTensors *st = shards_lookup(ss, p->name);
        const SafeTensor *t = st ? safetensors_find(st, p->name) : NULL;
        if (t && t->dtype == SAFE_BF16 && (uintptr_t)t->data % 2 == 0) param_store_map_view(&m->ps, p);
    }
}

/* After loading: every shard a mapped view points into is handed to the store. */
static void adopt_mapped_shards(LlamaModel *m, ShardSet *ss) {
    for (int j = 0; j < ss->n; j++) {
        const unsigned char *lo = ss->files[j].map, *hi = lo + ss->files[j].file_size;
        int used = 0;
        for (int i = 0; i < m->ps.n && !used; i++)
            used = m->ps.mapped[i] && (const unsigned char *)m->ps.params[i]->bf16 >= lo &&
                   (const unsigned char *)m->ps.params[i]->bf16 < hi;
        if (!used) continue;
        void *addr;
        size_t len;
        safetensors_detach_map(&ss->files[j], &addr, &len);
        param_store_adopt_map(&m->ps, addr, len);
    }
}

/* every "*.bias" tensor of the files must be one the model declared */
static Status check_biases(const LlamaModel *m, const ShardSet *ss, const char *dir, Error *err) {
    for (int j = 0; j < ss->n; j++)
        for (size_t i = 0; i < ss->files[j].count; i++) {
            const char *name = ss->files[j].tensors[i].name;
            size_t len = strlen(name);
            if (len < 5 || strcmp(name + len - 5, ".bias") || param_find(&m->ps, name)) continue;
            return error_set(err, STATUS_FORMAT, "biases need model_type qwen2 (q/k/v) or \"attention_bias\": true "
                             "(q/k/v/o); MLP biases are not supported", "%s/%s: tensor %s is not used by the model "
                             "config.json describes", dir, ss->names[j], name);
        }
    return STATUS_OK;
}

static void shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* Every base tensor the model declared is in the files with the declared shape and a float dtype:
   checked before anything is allocated. *all_bf16: every base matrix is stored as BF16. */
static Status check_base_tensors(const LlamaModel *m, const ShardSet *ss, const char *dir, int *all_bf16, Error *err) {
    int matrices = 0;
    *all_bf16 = 1;
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *p = m->ps.params[i];
        if (adapter_is_param_name(p->name)) continue;
        const SafeTensors *st = shards_lookup(ss, p->name);
        const SafeTensor *t = st ? safetensors_find(st, p->name) : NULL;
        if (!t)
            return error_set(err, STATUS_FORMAT, "the checkpoint does not match its config.json",
                             "%s: tensor %s is missing%s", st ? st->path : dir, p->name, st ? "" : " (not in the weight map)");
        if (t->dtype != SAFE_F32 && t->dtype != SAFE_F16 && t->dtype != SAFE_BF16 && t->dtype != SAFE_F64)
            return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s has dtype %s, expected F32, F16, BF16 or F64", st->path,
                             p->name, safetensors_dtype_name(t->dtype));
        int same = t->ndim == p->ndim;
        int64_t want[SAFE_MAX_DIMS];
        for (int k = 0; k < p->ndim; k++) same &= t->shape[k] == (want[k] = p->shape[k]);
        if (!same) {
            char got[128], exp[128];
            shape_str(t->shape, t->ndim, got, sizeof got);
            shape_str(want, p->ndim, exp, sizeof exp);
            return error_set(err, STATUS_FORMAT, "the checkpoint does not match its config.json",
                             "%s: tensor %s has shape %s, expected %s (from config.json)", st->path, p->name, got, exp);
        }
        if (p->ndim >= 2) matrices++, *all_bf16 &= t->dtype == SAFE_BF16;
    }
    if (!matrices) *all_bf16 = 0;
    return STATUS_OK;
}

Status hf_load_budget(LlamaModel *m, const char *dir, const AdapterConfig *acfg, int frozen_bf16, const MemBudget *b,
                      Error *err) {
    ModelConfig cfg;
    Status s = hf_read_config(dir, &cfg, err);
    if (!s) s = moe_ffn_check_model(&cfg, acfg, dir, err);
    if (s) return s;
    ShardSet *ss = xcalloc(1, sizeof *ss);
    s = shards_open(ss, dir, err);
    if (!s) {
        int all_bf16 = 0;
        llama_declare_params(m, &cfg, acfg, frozen_bf16 < 0 ? 0 : frozen_bf16);
        s = check_base_tensors(m, ss, dir, &all_bf16, err);
        if (!s) s = check_biases(m, ss, dir, err);
        if (!s && frozen_bf16 == BASE_DTYPE_AUTO) m->ps.frozen_bf16 = all_bf16;   /* bf16 files stay bf16 */
        if (!s) s = memory_check(m, b, dir, err);
        if (!s) mark_mapped_views(m, ss);
        if (!s) s = llama_allocate(m, err);
        if (!s) s = load_base_params(m, ss, dir, err);
        if (!s) adopt_mapped_shards(m, ss);
        if (s) llama_free(m);
    }
    shards_close(ss);
    free(ss);
    return s;
}

Status hf_load(LlamaModel *m, const char *dir, const AdapterConfig *acfg, int frozen_bf16, Error *err) {
    return hf_load_budget(m, dir, acfg, frozen_bf16, NULL, err);
}

Status model_load_budget(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, const MemBudget *b,
                         Error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return error_set(err, STATUS_IO, "give a llama2.c .bin file or a Hugging Face model directory",
                         "cannot open model %s: no such file or directory", path);
    if (S_ISDIR(st.st_mode)) return hf_load_budget(m, path, acfg, frozen_bf16, b, err);
    return llama2c_load_budget(m, path, acfg, frozen_bf16, b, err);
}

Status model_load(LlamaModel *m, const char *path, const AdapterConfig *acfg, int frozen_bf16, Error *err) {
    return model_load_budget(m, path, acfg, frozen_bf16, NULL, err);
}
