/* nn/adapter_experts.c — experts from existing LoRA adapters (see adapter_experts.h). The
   sources are ordinary PEFT adapter directories, read with the same config reader and
   safetensors reader as --adapter-dir (nn/adapter_io.c): no new file format. */
#include "nn/adapter_experts.h"
#include "nn/adapter_io.h"
#include "nn/safetensors.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static double lora_scaling(const AdapterConfig *a, int rank) {
    return a->rslora ? a->alpha / sqrt((double)rank) : a->alpha / rank;
}

/* source `dir` (config f) fits model config m: plain LoRA, same targets, every layer's rank and
   expert count as the model's */
static Status check_source(const AdapterConfig *f, const AdapterConfig *m, int n_layers, const char *dir, int n_dirs,
                           Error *err) {
    char a[64], b[64];
    if (f->kind != ADAPTER_LORA)
        return error_set(err, STATUS_INVALID, "--experts-from takes plain LoRA adapters (one task each)",
                         "%s/adapter_config.json: a %s adapter, not plain LoRA", dir, adapter_kind_name(f->kind));
    if (f->targets != m->targets)
        return error_set(err, STATUS_INVALID, "train the sources and the mixture with the same --targets",
                         "%s/adapter_config.json: target_modules %s, but the mixture adapts %s", dir,
                         lora_targets_str(f->targets, a, sizeof a), lora_targets_str(m->targets, b, sizeof b));
    for (int l = 0; l < n_layers; l++) {
        AdapterConfig c = adapter_moe_layer(m, l);
        if (c.rank != f->rank)
            return error_set(err, STATUS_INVALID, "give the mixture the sources' --rank",
                             "%s/adapter_config.json: \"r\" %d, but layer %d's experts have rank %d", dir, f->rank, l, c.rank);
        if (c.n_true != n_dirs)
            return error_set(err, STATUS_INVALID, "one source adapter per true expert (--experts)",
                             "--experts-from gives %d adapters, but layer %d has %d true experts", n_dirs, l, c.n_true);
    }
    return STATUS_OK;
}

/* expert e of every routed linear <- the source's PREFIX.lora_A / lora_B (B rescaled) */
static Status load_expert(LlamaModel *m, const SafeTensors *st, int e, double ratio, Error *err) {
    char key[320], prefix[256];
    for (int l = 0; l < m->cfg.n_layers; l++) {
        LlamaLayer *ly = &m->layers[l];
        LoraLinear *lin[7] = { &ly->q, &ly->k, &ly->v, &ly->o, &ly->gate, &ly->up, &ly->down };
        for (int j = 0; j < 7; j++) {
            MoeLinear *x = lin[j]->moe;
            if (!x) continue;
            snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(lin[j]->weight->name) - 7), lin[j]->weight->name);
            Tensor *A = x->lora_a[e], *B = x->lora_b[e];
            snprintf(key, sizeof key, "%s%s.lora_A.weight", ADAPTER_KEY_PREFIX, prefix);
            Status s = safetensors_read_real(st, key, A->shape, A->ndim, A->data, err);
            snprintf(key, sizeof key, "%s%s.lora_B.weight", ADAPTER_KEY_PREFIX, prefix);
            if (!s) s = safetensors_read_real(st, key, B->shape, B->ndim, B->data, err);
            if (s) return s;
            for (size_t i = 0; i < B->numel; i++) B->data[i] = (real)((double)B->data[i] * ratio / x->scaling);
        }
    }
    return STATUS_OK;
}

Status adapter_experts_from(LlamaModel *m, const char *const *dirs, int n_dirs, Error *err) {
    if (m->acfg.kind != ADAPTER_MOLORA && m->acfg.kind != ADAPTER_ADAMOE)
        return error_set(err, STATUS_INVALID, "use --adapter molora or adamoe", "--experts-from needs a molora or adamoe "
                         "adapter (LoRA experts on the adapted linears), not %s", adapter_kind_name(m->acfg.kind));
    AdapterConfig src[MOE_MAX_EXPERTS];
    if (n_dirs < 1 || n_dirs > MOE_MAX_EXPERTS)
        return error_set(err, STATUS_INVALID, NULL, "--experts-from: 1..%d directories, got %d", MOE_MAX_EXPERTS, n_dirs);
    for (int e = 0; e < n_dirs; e++) {   /* every config first: nothing changes on a mismatch */
        Status s = adapter_read_config(dirs[e], &src[e], err);
        if (!s) s = check_source(&src[e], &m->acfg, m->cfg.n_layers, dirs[e], n_dirs, err);
        if (s) return s;
    }
    for (int e = 0; e < n_dirs; e++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/adapter_model.safetensors", dirs[e]);
        SafeTensors st;
        Status s = safetensors_open(&st, path, err);
        if (s) return s;
        s = load_expert(m, &st, e, lora_scaling(&src[e], src[e].rank), err);
        safetensors_close(&st);
        if (s) return s;
    }
    return STATUS_OK;
}
