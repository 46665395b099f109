/* cli/demo.c — the embedded demo: a tiny Llama-style model built in memory, the synthetic
   "find the match" task (demo_task.c) in the usual prompt format, fine-tuned side by side with
   each adapter of DEMO_METHODS; prints live progress, then a comparison table, and writes
   runs/demo/ (task files, one run directory per method with metrics.jsonl and report.svg).
   Options: --steps N, --threads N, --out DIR, --quiet. */
#include "cli/demo.h"
#include "cli/demo_task.h"
#include "optim/trainer.h"
#include "cli/train.h"
#include "cli/flags.h"
#include "cli/report_svg.h"
#include "cli/train_log.h"
#include "data/task.h"
#include "nn/checkpoint.h"
#include "nn/moe.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct { const char *name, *label; AdapterConfig acfg; } DemoMethod;

static const DemoMethod DEMO_METHODS[] = {
    { "lora", "LoRA r=8", { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16.0 } },
    { "molora_top2", "Mo-LoRA top-2", { .kind = ADAPTER_MOLORA, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16.0,
      .n_true = 4, .top_k = 2, .normalize = MOE_NORM_ALL_SELECTED, .aux = MOE_AUX_VANILLA, .aux_coef = 1e-3, .k_baseline = 2 } },
    { "adamoe_m5k4", "AdaMoE m5k4", { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 8, .alpha = 16.0,
      .n_true = 4, .n_null = 5, .top_k = 4, .normalize = MOE_NORM_TRUE_ONLY, .null_kind = MOE_NULL_ZERO,
      .aux = MOE_AUX_EQ6, .aux_coef = 1e-3, .k_baseline = 2 } },
};
#define N_METHODS ((int)(sizeof DEMO_METHODS / sizeof DEMO_METHODS[0]))

typedef struct { double acc, loss, tok_per_s, seconds, load, flops_saved; int routed; } DemoResult;

#define DEMO_LR 5e-3          /* adapters */
#define DEMO_PRE_LR 3e-3      /* full fine-tuning of the base */

static ModelConfig demo_model_config(void) {
    ModelConfig c = { 0 };
    c.dim = 64; c.hidden_dim = 128; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 16;
    c.vocab_size = 259; c.max_seq_len = 128; c.norm_eps = 1e-5; c.rope_theta = 10000; c.bos_id = 1; c.eos_id = 2;
    return c;
}

static Status make_dir(const char *path, Error *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return error_set(err, STATUS_IO, "run the demo from a writable directory", "cannot create %s: %s", path, strerror(errno));
    return STATUS_OK;
}

static Status load_tokenized(const char *dir, const char *split, const Tokenizer *tk, McDataset *ds, TokenizedSet *ts,
                             Error *err) {
    Status s = task_load("mc_jsonl", dir, split, ds, err);
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.style = PROMPT_PLAIN;
    pc.instruction = DEMO_INSTRUCTION;
    pc.max_len = 128;
    if (!s) s = dataset_tokenize(ds, tk, &pc, ts, err);
    return s;
}

/* Copies every base weight of `from` into the same-named parameter of `to`. */
static void copy_base(LlamaModel *to, const LlamaModel *from) {
    for (int i = 0; i < from->ps.n; i++) {
        const Tensor *src = from->ps.params[i];
        Tensor *dst = param_find(&to->ps, src->name);
        if (dst) memcpy(dst->data, src->data, src->numel * sizeof(real));
    }
}

static void demo_train_config(TrainConfig *tc, int steps, double lr, const char *dir) {
    train_config_default(tc);
    tc->max_steps = steps;
    tc->batch = 32;
    tc->lr = lr;
    tc->schedule = LR_COSINE;
    tc->min_lr = lr / 10;
    tc->warmup_ratio = 0.05;
    tc->eval_every = steps / 2;
    tc->eval_batch = 64;
    tc->out_dir = dir;
    tc->task = "demo_sum_mod4";
}

/* trains with metrics.jsonl in dir and, unless quiet, the progress line four times a run */
static Status demo_train(Trainer *tr, const char *dir, int steps, int quiet, Error *err) {
    TrainLog log = { .out_dir = dir, .quiet = quiet, .log_every = steps / 4 > 0 ? steps / 4 : 1 };
    TrainHooks hooks = train_log_hooks(&log);
    Status s = trainer_run(tr, &hooks, err);
    train_log_close(&log);
    return s;
}

static Status run_method(const DemoMethod *dm, const LlamaModel *base, const char *out, int steps, int quiet,
                         const TokenizedSet *train, const TokenizedSet *dev, DemoResult *res, Error *err) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", out, dm->name);
    Status s = make_dir(dir, err);
    if (s) return s;
    ModelConfig mc = demo_model_config();
    LlamaModel m;
    llama_declare(&m, &mc, &dm->acfg, 0);
    copy_base(&m, base);                       /* the same pretrained base for every method */
    llama_init_adapter(&m, 42);
    TrainConfig tc;
    demo_train_config(&tc, steps, DEMO_LR, dir);
    char base_dir[600];
    snprintf(base_dir, sizeof base_dir, "%s/base", out);
    tc.model_name = base_dir;                  /* the adapter's base_model_name_or_path */
    Trainer tr;
    s = trainer_init(&tr, &m, train, dev, &tc, err);
    if (!s) {
        if (!quiet) printf("\n== %s: %zu trainable parameters ==\n", dm->label, m.ps.train_numel);
        s = demo_train(&tr, dir, steps, quiet, err);
        res->acc = tr.last_eval.acc;
        res->loss = tr.last_loss;
        res->seconds = tr.seconds;
        res->tok_per_s = tr.seconds > 0 ? tr.tokens / tr.seconds : 0;
        if (m.moe) {   /* router statistics of the final evaluation */
            MoeSummary ms;
            moe_summary_model(&m.moe->stats, &ms);
            res->routed = 1;
            res->load = ms.load;
            res->flops_saved = ms.flops_saved;
        }
        trainer_free(&tr);
    }
    if (!s) {
        char metrics[600], svg[600];
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
        snprintf(svg, sizeof svg, "%s/report.svg", dir);
        s = report_svg_write(metrics, svg, dm->label, err);
    }
    llama_free(&m);
    return s;
}

/* Pretraining: full fine-tuning of a random model on "a + b mod 3" with the loss on every
   token, so the base model can read the prompt format and digits; adapters then learn mod 4. */
static Status pretrain(LlamaModel *base, const char *out, int steps, int quiet, const TokenizedSet *train,
                       const TokenizedSet *dev, Error *err) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pretrain", out);
    Status s = make_dir(dir, err);
    if (s) return s;
    ModelConfig mc = demo_model_config();
    AdapterConfig full = { .kind = ADAPTER_FULL };
    llama_declare(base, &mc, &full, 0);
    llama_init_base_random(base, 1234, 0.1);
    TrainConfig tc;
    demo_train_config(&tc, steps, DEMO_PRE_LR, dir);
    tc.loss_on_all = 0;
    tc.task = "demo_sum_mod3";
    Trainer tr;
    if (!quiet) printf("\n== pretraining the base model (full fine-tuning on \"a + b mod 3\", %d steps) ==\n", steps);
    s = trainer_init(&tr, base, train, dev, &tc, err);
    if (!s) {
        s = demo_train(&tr, dir, steps, 1, err);
        if (!quiet && !s) printf("base model: mod-3 dev accuracy %.1f%% after %.1f s\n", 100 * tr.last_eval.acc, tr.seconds);
        trainer_free(&tr);
    }
    return s;
}

static void print_table(const DemoResult *res) {
    printf("\n%-14s %8s %10s %6s %8s %10s\n", "method", "dev acc", "final loss", "Load", "%FLOPs", "tok/s");
    for (int i = 0; i < N_METHODS; i++) {
        char load[16] = "-", flops[16] = "-";
        if (res[i].routed) {
            snprintf(load, sizeof load, "%.2f", res[i].load);
            snprintf(flops, sizeof flops, "%.1f%%", 100 * res[i].flops_saved);
        }
        printf("%-14s %7.1f%% %10.4f %6s %8s %10.0f\n", DEMO_METHODS[i].label, 100 * res[i].acc, res[i].loss, load, flops,
               res[i].tok_per_s);
    }
    printf("(chance: 25%%. Load = true experts per token; %%FLOPs = expert FLOPs saved vs top-2)\n");
}

/* OUT/NAME/train.jsonl (4000 examples, seed) and dev.jsonl (400, seed + 1) of the mod-`modulus`
   task, read back and tokenized into ds[0..1], ts[0..1] */
static Status write_task(const char *out, const char *name, int modulus, uint64_t seed, const Tokenizer *tk,
                         McDataset *ds, TokenizedSet *ts, Error *err) {
    char dir[600], path[640];
    snprintf(dir, sizeof dir, "%s/%s", out, name);
    Status s = make_dir(dir, err);
    snprintf(path, sizeof path, "%s/train.jsonl", dir);
    if (!s) s = demo_write_split(path, 4000, modulus, seed, err);
    snprintf(path, sizeof path, "%s/dev.jsonl", dir);
    if (!s) s = demo_write_split(path, 400, modulus, seed + 1, err);
    if (!s) s = load_tokenized(dir, "train", tk, &ds[0], &ts[0], err);
    if (!s) s = load_tokenized(dir, "dev", tk, &ds[1], &ts[1], err);
    return s;
}

static Status demo_setup(const char *out, Tokenizer *tk, McDataset *ds, TokenizedSet *ts, Error *err) {
    char path[600];
    Status s = make_dir("runs", err);
    if (!s && strncmp(out, "runs/", 5) != 0) s = STATUS_OK;
    if (!s) s = make_dir(out, err);
    snprintf(path, sizeof path, "%s/task", out);
    if (!s) s = make_dir(path, err);
    snprintf(path, sizeof path, "%s/task/tokenizer.bin", out);
    if (!s) s = demo_write_tokenizer(path, err);
    if (!s) s = tokenizer_load(tk, path, 259, err);
    if (!s) s = write_task(out, "task", 4, 1, tk, ds, ts, err);
    if (!s) s = write_task(out, "pretrain_task", 3, 3, tk, ds + 2, ts + 2, err);
    return s;
}

int demo_run(int argc, char **argv) {
    int steps = 200, pre_steps = 300, threads = 0, quiet = 0, help = 0;
    const char *out = "runs/demo";
    Flag flags[] = {
        { "steps", FLAG_INT, &steps, "optimizer steps per method", 0 },
        { "pretrain-steps", FLAG_INT, &pre_steps, "full fine-tuning steps of the base model first", 0 },
        { "threads", FLAG_INT, &threads, "worker threads (0 = all CPUs)", 0 },
        { "out", FLAG_STRING, &out, "output directory", 0 },
        { "quiet", FLAG_BOOL, &quiet, "only the final table", 0 },
    };
    Error err;
    Status s = flags_parse(flags, 5, argc, argv, 1, &help, &err);
    if (help) { flags_print_help(stdout, "usage: ./train [demo] [options]", flags, 5); return 0; }
    if (!s && steps < 2) s = error_set(&err, STATUS_INVALID, NULL, "--steps must be >= 2");
    if (s) { error_print(&err); return 1; }
    threads_init(threads);
    printf("moetrain demo: a tiny Llama (dim 64, 2 layers, GQA 4/2 heads, byte vocabulary) learns a synthetic\n"
           "multiple-choice task (\"3+5 mod 4 / A. 0 B. 1 C. 2 D. 3 / Answer: A\"), %d steps per method.\n"
           "simd=%s threads=%d; results in %s/\n", steps, gemm_simd_level(), threads_count(), out);
    Tokenizer tk;
    McDataset ds[4];
    TokenizedSet ts[4];
    memset(ds, 0, sizeof ds);
    memset(ts, 0, sizeof ts);
    s = demo_setup(out, &tk, ds, ts, &err);
    DemoResult res[N_METHODS];
    memset(res, 0, sizeof res);
    LlamaModel base;
    memset(&base, 0, sizeof base);
    if (!s) s = pretrain(&base, out, pre_steps, quiet, &ts[2], &ts[3], &err);
    char base_dir[600];   /* the base as a model directory, so `./train route` / `eval` can load it */
    snprintf(base_dir, sizeof base_dir, "%s/base", out);
    if (!s) s = hf_write(&base, base_dir, SAFE_F32, &err);
    for (int i = 0; !s && i < N_METHODS; i++)
        s = run_method(&DEMO_METHODS[i], &base, out, steps, quiet, &ts[0], &ts[1], &res[i], &err);
    if (base.layers) llama_free(&base);
    if (!s) print_table(res);
    if (!s) printf("metrics and reports: %s/<method>/metrics.jsonl, report.svg\n"
                   "which tokens use how many experts: ./train route --adapter-dir %s/adamoe_m5k4/adapter "
                   "--tokenizer %s/task/tokenizer.bin --text \"7+2 mod 4\"\n", out, out, out);
    for (int i = 0; i < 4; i++) { tokenized_set_free(&ts[i]); mc_dataset_free(&ds[i]); }
    tokenizer_free(&tk);
    if (s) error_print(&err);
    return cli_exit_code(s);
}

void demo_banner(const char *version) {
    printf("moetrain %s  (real=%s, simd=%s, threads=%d)\n", version,
           sizeof(real) == sizeof(double) ? "double" : "float", gemm_simd_level(), threads_count());
}
