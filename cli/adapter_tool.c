/* cli/adapter_tool.c — see adapter_tool.h. */
#include "cli/adapter_tool.h"
#include "cli/model_flags.h"
#include "optim/evaluate.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int tool_flags(ToolOpts *o, Flag *f) {
    memset(o, 0, sizeof *o);
    o->split = "dev";
    o->seq = 256;
    o->batch = 16;
    Flag t[] = {
        { "task", FLAG_STRING, &o->task, "task name (see ./train train --help)", 0 },
        { "data", FLAG_STRING, &o->data, "dataset directory or file", 0 },
        { "split", FLAG_STRING, &o->split, "split scored before and after (train | dev | test)", 0 },
        { "out", FLAG_STRING, &o->out, "directory for the new adapter (PEFT format)", 0 },
        { "eval-limit", FLAG_INT, &o->eval_limit, "score the first N examples (0 = all)", 0 },
        { "seq", FLAG_INT, &o->seq, "max tokens per example", 0 },
        { "batch", FLAG_INT, &o->batch, "evaluation batch size", 0 },
        { "threads", FLAG_INT, &o->threads, "worker threads (0 = all CPUs)", 0 },
    };
    _Static_assert(sizeof t / sizeof t[0] + MODEL_FLAGS_MAX == TOOL_N_FLAGS, "TOOL_N_FLAGS");
    return model_flags(f, &o->model, &o->tokenizer, &o->adapter_dir, t, (int)(sizeof t / sizeof t[0]));
}

Status tool_check(const ToolOpts *o, const char *command, Error *err) {
    char hint[96];
    snprintf(hint, sizeof hint, "see ./train %s --help", command);
    if (!o->model || !o->adapter_dir || !o->task || !o->data || !o->out)
        return error_set(err, STATUS_INVALID, hint, "--model, --adapter-dir, --task, --data and --out are required");
    if (!task_is_known(o->task)) return error_set(err, STATUS_INVALID, NULL, "unknown task '%s'", o->task);
    if (o->eval_limit < 0 || o->seq < 8 || o->batch < 1 || o->threads < 0)
        return error_set(err, STATUS_INVALID, NULL, "--eval-limit >= 0, --seq >= 8, --batch >= 1, --threads >= 0");
    return STATUS_OK;
}

Status tool_split_load(const ToolOpts *o, const LlamaModel *m, const char *split, int limit, ToolSplit *s, Error *err) {
    memset(s, 0, sizeof *s);
    char buf[1024];
    const char *tkp = o->tokenizer;
    struct stat st;
    if (!tkp && stat(o->model, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(buf, sizeof buf, "%s/tokenizer.json", o->model);
        tkp = buf;
    }
    if (!tkp) return error_set(err, STATUS_INVALID, "e.g. --tokenizer tok512.bin", "--tokenizer is required for a llama2.c model");
    Status r = tokenizer_load(&s->tk, tkp, m->cfg.vocab_size, err);
    if (r) return r;
    s->have_tk = 1;
    if ((r = task_load(o->task, o->data, split, &s->ds, err))) return r;
    s->have_ds = 1;
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.max_len = o->seq;
    if ((r = dataset_tokenize(&s->ds, &s->tk, &pc, &s->ts, err))) return r;
    s->have_ts = 1;
    if (limit > 0 && limit < s->ts.n) s->ts.n = limit;
    return STATUS_OK;
}

void tool_split_free(ToolSplit *s) {
    if (s->have_ts) tokenized_set_free(&s->ts);
    if (s->have_ds) mc_dataset_free(&s->ds);
    if (s->have_tk) tokenizer_free(&s->tk);
    memset(s, 0, sizeof *s);
}

Status tool_score(LlamaModel *m, const ToolSplit *s, const ToolOpts *o, ToolScore *out, Error *err) {
    Arena a;
    arena_init(&a, (size_t)16 << 20);
    EvalResult r;
    if (m->moe) moe_stats_reset(&m->moe->stats);
    Status st = evaluate_letters(m, &s->ts, s->ds.positive_choice, o->eval_limit, o->batch, &a, &r, err);
    arena_free(&a);
    if (st) return st;
    *out = (ToolScore){ r.acc, r.mcc, 0, 0, r.n };
    if (m->moe) {
        MoeSummary ms;
        moe_summary_model(&m->moe->stats, &ms);
        out->load = ms.load;
        out->flops_saved = ms.flops_saved;
    }
    return STATUS_OK;
}

void tool_print_score(const char *label, const ToolScore *r) {
    printf("%-8s acc %.4f (n=%d)  Load %.3f  %%FLOPs saved %.1f%%\n", label, r->acc, r->n, r->load, 100 * r->flops_saved);
}
