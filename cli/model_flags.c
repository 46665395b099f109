/* cli/model_flags.c — the --model / --tokenizer / --adapter-dir table (see model_flags.h). */
#include "cli/model_flags.h"
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
