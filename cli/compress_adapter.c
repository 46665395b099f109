/* cli/compress_adapter.c — `./train compress-adapter`: ComPEFT (nn/adapter_compress.h) on the
   adapter in --adapter-dir: --density d keeps the largest-magnitude fraction d of every LoRA
   tensor, --ternary makes the kept values signs times one scale per tensor (--std-scale a: the
   scale a·σ as ComPEFT tunes it; default the least-squares mean |kept|). Scores the adapter on
   --split before and after, writes the compressed adapter to --out (PEFT format, dense F32) and
   prints the size ratio a sparse encoding would reach. */
#include "cli/compress_adapter.h"
#include "cli/adapter_tool.h"
#include "cli/errors.h"
#include "nn/adapter_compress.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    ToolOpts t;
    CompressSpec c;
} CompressOpts;

#define COMPRESS_MAX_FLAGS (TOOL_N_FLAGS + 3)

static int compress_flags(CompressOpts *o, Flag *f) {
    int n = tool_flags(&o->t, f);
    o->c = (CompressSpec){ 0.1, 0, 0 };
    Flag own[] = {
        { "density", FLAG_DOUBLE, &o->c.density, "fraction of each LoRA tensor's values kept (largest magnitude), in (0, 1]", 0 },
        { "ternary", FLAG_BOOL, &o->c.ternary, "kept values become sign x one scale per tensor", 0 },
        { "std-scale", FLAG_DOUBLE, &o->c.std_scale, "ternary scale = this x the tensor's std (ComPEFT's alpha; 0 = mean |kept|)", 0 },
    };
    memcpy(f + n, own, sizeof own);
    return n + (int)(sizeof own / sizeof own[0]);
}

static Status run(const CompressOpts *o, Error *err) {
    LlamaModel m;
    Status s = model_load_with_adapter(&m, o->t.model, o->t.adapter_dir, BASE_DTYPE_AUTO, err);
    if (s) return s;
    ToolSplit ev;
    ToolScore before, after;
    CompressStats st;
    s = tool_split_load(&o->t, &m, o->t.split, 0, &ev, err);
    if (!s) s = tool_score(&m, &ev, &o->t, &before, err);
    if (!s) s = adapter_compress(&m, &o->c, &st, err);
    if (!s) s = tool_score(&m, &ev, &o->t, &after, err);
    if (!s) s = adapter_save(&m, o->t.out, o->t.model, err);
    if (!s) {
        printf("compressed %d LoRA tensors: kept %zu of %zu values (density %g%s)\n", st.tensors, st.kept, st.values,
               o->c.density, o->c.ternary ? ", ternary" : "");
        printf("size ratio %.2fx on the LoRA tensors (%.0f -> %.0f bits), %.2fx on the whole adapter (dense routers "
               "included)\n", st.lora_bits / st.lora_bits_compressed, st.lora_bits, st.lora_bits_compressed,
               (st.lora_bits + st.other_bits) / (st.lora_bits_compressed + st.other_bits));
        tool_print_score("before", &before);
        tool_print_score("after", &after);
        printf("wrote %s (a dense PEFT adapter with the compressed values)\n", o->t.out);
    }
    tool_split_free(&ev);
    llama_free(&m);
    return s;
}

int compress_adapter_cli(int argc, char **argv) {
    CompressOpts o;
    Flag f[COMPRESS_MAX_FLAGS];
    int n = compress_flags(&o, f), help = 0;
    Error err;
    Status s = flags_parse(f, n, argc, argv, 1, &help, &err);
    if (!s && help) {
        flags_print_help(stdout, "usage: ./train compress-adapter --model M --tokenizer T --adapter-dir D --density 0.1 "
                         "[--ternary] --task TASK --data DIR --out OUT\n  ComPEFT (Yadav et al. 2023): sparsify (and "
                         "ternarise) every LoRA tensor", f, n);
        return 0;
    }
    if (!s) s = tool_check(&o.t, "compress-adapter", &err);
    if (!s && !(o.c.density > 0 && o.c.density <= 1))
        s = error_set(&err, STATUS_INVALID, "e.g. --density 0.1", "--density must be in (0, 1], got %g", o.c.density);
    if (!s && !(o.c.std_scale >= 0)) s = error_set(&err, STATUS_INVALID, NULL, "--std-scale must be >= 0, got %g", o.c.std_scale);
    if (!s) threads_init(o.t.threads);
    if (!s) s = run(&o, &err);
    if (s) error_print(&err);
    return cli_exit_code(s);
}
