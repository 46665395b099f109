/* cli/merge_experts.c — `./train merge-experts`: a trained Mo-LoRA / AdaMoE adapter (--adapter-dir)
   -> N merged experts per routed linear (--to), MC-SMoE style (nn/moe_merge.h):
     1. score the adapter on --split (accuracy, Load, %FLOPs);
     2. calibrate: route the first --calib-limit prompts of --calib-split (default train) and
        collect each router's usage and logit Gram matrix;
     3. group, merge, rewrite the routers (--similarity router-logits | weights) into a model
        declared with N experts, write it to --out (PEFT format) and score it the same way.
   Prints both scores, the sizes and, per layer, how the q router's experts were grouped. */
#include "cli/merge_experts.h"
#include "cli/adapter_tool.h"
#include "cli/errors.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/moe_merge.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ToolOpts t;
    int to, calib_limit;
    const char *similarity, *calib_split;
} MergeOpts;

#define MERGE_MAX_FLAGS (TOOL_N_FLAGS + 4)

static int merge_flags(MergeOpts *o, Flag *f) {
    int n = tool_flags(&o->t, f);
    o->to = 0; o->calib_limit = 256; o->similarity = "router-logits"; o->calib_split = "train";
    Flag own[] = {
        { "to", FLAG_INT, &o->to, "merged experts per routed linear (fewer than the adapter's)", 0 },
        { "similarity", FLAG_STRING, &o->similarity, "router-logits (MC-SMoE) | weights (cosine of the updates B·A)", 0 },
        { "calib-split", FLAG_STRING, &o->calib_split, "split whose prompts give the routing statistics", 0 },
        { "calib-limit", FLAG_INT, &o->calib_limit, "calibration examples (0 = the whole split)", 0 },
    };
    memcpy(f + n, own, sizeof own);
    return n + (int)(sizeof own / sizeof own[0]);
}

/* "layer L q: {0,2} {1} {3}" for every layer (the q router, or the first routed module) */
static void print_groups(const LlamaModel *m, const int *groups, int n, int N) {
    static const char *const names[MOE_MODULES] = { "q", "k", "v", "o", "gate", "up", "down" };
    for (int l = 0; l < m->cfg.n_layers; l++) {
        int j = 0;
        while (j < MOE_MODULES && groups[(l * MOE_MODULES + j) * n] < 0) j++;
        if (j == MOE_MODULES) continue;
        printf("  layer %d %s:", l, names[j]);
        for (int g = 0; g < N; g++) {
            printf(" {");
            for (int i = 0, first = 1; i < n; i++)
                if (groups[(l * MOE_MODULES + j) * n + i] == g) printf("%s%d", first ? "" : ",", i), first = 0;
            printf("}");
        }
        printf("\n");
    }
}

static Status calibrate(LlamaModel *m, const MergeOpts *o, MergeCalib *c, Error *err) {
    ToolSplit cs;
    Status s = tool_split_load(&o->t, m, o->calib_split, o->calib_limit, &cs, err);
    ToolScore ignored;
    merge_calib_init(c, m);
    if (!s) s = tool_score(m, &cs, &(ToolOpts){ .batch = o->t.batch }, &ignored, err);
    m->moe->observe = NULL;
    if (!s) printf("calibration: %d %s examples\n", cs.ts.n, o->calib_split);
    tool_split_free(&cs);
    return s;
}

static Status run(const MergeOpts *o, Error *err) {
    LlamaModel m, m2;
    AdapterConfig a2;
    MergeSimilarity how = !strcmp(o->similarity, "weights") ? MERGE_SIM_WEIGHTS : MERGE_SIM_ROUTER_LOGITS;
    Status s = model_load_with_adapter(&m, o->t.model, o->t.adapter_dir, BASE_DTYPE_AUTO, err);
    if (s) return s;
    if ((s = moe_merge_config(&m.acfg, o->to, &a2, err))) { llama_free(&m); return s; }
    ToolSplit ev;
    ToolScore before, after;
    MergeCalib calib = { 0 };
    int *groups = xmalloc((size_t)m.cfg.n_layers * MOE_MODULES * m.acfg.n_true * sizeof *groups), have_m2 = 0;
    s = tool_split_load(&o->t, &m, o->t.split, 0, &ev, err);
    if (!s) s = tool_score(&m, &ev, &o->t, &before, err);
    if (!s) s = calibrate(&m, o, &calib, err);
    if (!s && !(s = model_load(&m2, o->t.model, &a2, BASE_DTYPE_AUTO, err))) have_m2 = 1;
    if (!s) s = moe_merge_into(&m, &calib, how, &m2, groups, err);
    if (!s) s = tool_score(&m2, &ev, &o->t, &after, err);
    if (!s) s = adapter_save(&m2, o->t.out, o->t.model, err);
    if (!s) {
        printf("merged %d -> %d experts per routed linear (%s similarity; top-k %d -> %d)\n", m.acfg.n_true, o->to,
               o->similarity, m.acfg.top_k, a2.top_k);
        print_groups(&m, groups, m.acfg.n_true, o->to);
        tool_print_score("before", &before);
        tool_print_score("after", &after);
        printf("wrote %s (adapter_config.json, adapter_model.safetensors)\n", o->t.out);
    }
    merge_calib_free(&calib);
    free(groups);
    tool_split_free(&ev);
    if (have_m2) llama_free(&m2);
    llama_free(&m);
    return s;
}

int merge_experts_cli(int argc, char **argv) {
    MergeOpts o;
    Flag f[MERGE_MAX_FLAGS];
    int n = merge_flags(&o, f), help = 0;
    Error err;
    Status s = flags_parse(f, n, argc, argv, 1, &help, &err);
    if (!s && help) {
        flags_print_help(stdout, "usage: ./train merge-experts --model M --tokenizer T --adapter-dir D --to N --task TASK "
                         "--data DIR --out OUT [options]\n  MC-SMoE (Li et al. 2024): group experts by routing statistics, "
                         "merge each group weighted by usage, rewrite the router", f, n);
        return 0;
    }
    if (!s) s = tool_check(&o.t, "merge-experts", &err);
    if (!s && strcmp(o.similarity, "router-logits") && strcmp(o.similarity, "weights"))
        s = error_set(&err, STATUS_INVALID, NULL, "--similarity must be router-logits or weights, got '%s'", o.similarity);
    if (!s && o.calib_limit < 0) s = error_set(&err, STATUS_INVALID, NULL, "--calib-limit must be >= 0");
    if (!s) threads_init(o.t.threads);
    if (!s) s = run(&o, &err);
    if (s) error_print(&err);
    return cli_exit_code(s);
}
