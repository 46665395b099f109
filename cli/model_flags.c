/* cli/model_flags.c — the --model / --tokenizer / --adapter-dir table (see model_flags.h). */
#include "cli/model_flags.h"
#include "nn/checkpoint.h"
#include <string.h>

int model_flags(Flag *f, const char **model, const char **tokenizer, const char **adapter_dir,
                const Flag *own, int n_own) {
    const Flag t[MODEL_FLAGS_MAX] = {
        { "model", FLAG_STRING, model, "base model: llama2.c .bin file or HF directory", 0 },
        { "tokenizer", FLAG_STRING, tokenizer,
          "tokenizer.bin or tokenizer.json (train and eval default to an HF model's own tokenizer.json)", 0 },
        { "adapter-dir", FLAG_STRING, adapter_dir,
          "adapter directory (adapter_config.json + adapter_model.safetensors, e.g. runs/rte/adapter)", 0 },
    };
    int n = 0;
    for (int i = 0; i < MODEL_FLAGS_MAX; i++)
        if (t[i].ptr) f[n++] = t[i];
    memcpy(f + n, own, (size_t)n_own * sizeof *own);
    return n + n_own;
}

static int dtype_of(const char *name) {
    static const char *const names[] = { "f32", "bf16", "nf4", "nf4-nodq", "int8" };
    static const int codes[] = { BASE_DTYPE_F32, BASE_DTYPE_BF16, BASE_DTYPE_NF4, BASE_DTYPE_NF4_NODQ, BASE_DTYPE_INT8 };
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, names[i])) return codes[i];
    return -2;
}

Status base_dtype_code(const char *base, const char *experts, int allow_auto, int *code, Error *err) {
    int b = allow_auto && !strcmp(base, "auto") ? BASE_DTYPE_AUTO : dtype_of(base);
    if (b == -2)
        return error_set(err, STATUS_INVALID, NULL, "--base-dtype must be %sf32, bf16, nf4, nf4-nodq or int8, got '%s'",
                         allow_auto ? "auto, " : "", base);
    *code = b;
    if (!experts || !*experts) return STATUS_OK;
    int e = dtype_of(experts);
    if (e == -2)
        return error_set(err, STATUS_INVALID, NULL, "--expert-dtype must be f32, bf16, nf4, nf4-nodq or int8, got '%s'", experts);
    if (b < BASE_DTYPE_NF4)
        return error_set(err, STATUS_INVALID, "e.g. --base-dtype nf4 --expert-dtype bf16",
                         "--expert-dtype needs a quantised base (--base-dtype nf4, nf4-nodq or int8), got --base-dtype %s", base);
    *code = b + BASE_DTYPE_EXPERTS(e);
    return STATUS_OK;
}
