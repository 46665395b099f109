/* nn/lora_merge.c — W += s·B·A for every plain LoRA pair (see lora_merge.h). */
#include "nn/lora_merge.h"
#include "tensor/pack_cache.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

Status lora_merge_check(const AdapterConfig *a, const char *adapter_dir, Error *err) {
    if (a->kind == ADAPTER_LORA || a->kind == ADAPTER_FULL || a->kind == ADAPTER_NONE) return STATUS_OK;
    const char *dir = adapter_dir ? adapter_dir : "D";
    char hint[256];
    snprintf(hint, sizeof hint, "use the adapter as it is: ./train generate (or eval) --model M --adapter-dir %s", dir);
    if (a->kind == ADAPTER_MOE_FFN)
        return error_set(err, STATUS_INVALID, hint,
                         "%s: cannot merge a moe-ffn adapter into dense weights: its gate2 null experts and top-%d "
                         "routing decide per token which experts run (the mixture depends on the input), which a "
                         "Mixtral checkpoint cannot express", dir, a->top_k);
    return error_set(err, STATUS_INVALID, hint,
                     "%s: cannot merge the %s adapter into dense weights: its LoRA experts are mixed per token by a "
                     "router (the mixture depends on the input), so no single weight matrix equals it",
                     dir, a->kind == ADAPTER_MOLORA ? "Mo-LoRA (molora)" : "AdaMoE (adamoe)");
}

/* "X.lora_A.weight" -> "X" + suffix */
static void sibling(const char *a_name, const char *suffix, char *out, size_t n) {
    size_t len = strlen(a_name) - strlen(".lora_A.weight");
    snprintf(out, n, "%.*s%s", (int)len, a_name, suffix);
}

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* The scaling of lora.c / moe_ffn.c: α/r, rsLoRA α/√r. W [out, in] += s · B [out, r] · A [r, in]
   through the GEMM (beta 1: accumulate into W). */
int lora_merge(LlamaModel *m) {
    int merged = 0;
    for (int i = 0; i < m->ps.n; i++) {
        const Tensor *A = m->ps.params[i];
        if (!ends_with(A->name, ".lora_A.weight")) continue;
        char wname[256], bname[256];
        sibling(A->name, ".weight", wname, sizeof wname);
        sibling(A->name, ".lora_B.weight", bname, sizeof bname);
        Tensor *W = param_find(&m->ps, wname), *B = param_find(&m->ps, bname);
        CHECK(W && B, "lora_merge: %s without %s or %s", A->name, wname, bname);
        CHECK(W->data != NULL, "lora_merge: %s must be held in real storage", wname);
        int r = A->shape[0], in = A->shape[1], out = B->shape[0];
        CHECK(B->shape[1] == r && W->shape[0] == out && W->shape[1] == in, "lora_merge: %s shapes", wname);
        pack_slot_release(W->pack);    /* W changes: panels kept for the run would be stale */
        double s = m->acfg.rslora ? m->acfg.alpha / sqrt((double)r) : m->acfg.alpha / r;
        gemm(0, 0, out, in, r, (real)s, B->data, r, A->data, in, (real)1, W->data, in);
        memset(B->data, 0, B->numel * sizeof(real));
        merged++;
    }
    return merged;
}
