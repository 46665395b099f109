/* cli/sweep.c — `./train sweep`: runs every (task, configuration, seed) of a grid through
   the train command, skipping runs that already finished (their metrics.jsonl has a summary), so
   an interrupted sweep resumes; then writes OUT/results.csv (one row per run), OUT/results.svg (sweep_svg.h) and OUT/results.md
   (a table like AdaMoE's Table 7: dev accuracy mean ± std over seeds per task, and Load).
   Grid entries: kK = top-K over the true experts (no null experts; the paper's baselines k1, k2),
   mMkK = AdaMoE with M null experts and top-K over experts + nulls (m5k4 ...). Two families, the
   paper's two experiments:
     --family lora (default)  LoRA experts on every adapted linear: kK = Mo-LoRA (--adapter molora
                              --experts n --top-k K), mMkK = --adapter adamoe --null M --top-k K
     --family ffn             the model's MoE FFN (a Mixtral checkpoint, or a dense model with
                              `-- --upcycle n`): --adapter moe-ffn --null M --top-k K (M = 0 for kK:
                              the FFN experts, top-K, with LoRA; M > 0 adds gate2's null experts)
   The field around AdaMoE (--family lora): sdA-B = SMoE-Dropout (molora, --router frozen-random,
   --top-k-schedule linear:A:B, evaluated at top-B; B = --experts evaluates with every expert);
   any entry + modifiers: +pg (--pregate), +xf (--experts-from, the sweep's --experts-from list;
   the experts are its directories), +fz (--freeze-experts): k2+xf, m5k4+pg, k2+xf+fz, sd1-4+pg.
   Options after `--` are passed to every train run unchanged (model, lr, epochs, ...). */
#include "cli/sweep.h"
#include "cli/sweep_svg.h"
#include "cli/train.h"
#include "data/atomic_file.h"
#include "data/json.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SWEEP_MAX 64

typedef struct { char name[32]; int null, top_k, sd_k0, pregate, experts_from, freeze; } GridCfg;
typedef struct { double acc, load; int ok; } RunResult;

/* "+pg+xf" modifiers after the base entry; 0 on an unknown one */
static int parse_modifiers(const char *m, GridCfg *c) {
    while (*m == '+') {
        if (!strncmp(m, "+pg", 3)) c->pregate = 1;
        else if (!strncmp(m, "+xf", 3)) c->experts_from = 1;
        else if (!strncmp(m, "+fz", 3)) c->freeze = 1;
        else return 0;
        m += 3;
    }
    return *m == 0;
}

static int parse_grid(const char *s, GridCfg *g, int *n) {
    *n = 0;
    while (*s && *n < SWEEP_MAX) {
        size_t len = strcspn(s, ",");
        GridCfg *c = &g[*n];
        memset(c, 0, sizeof *c);
        if (len >= sizeof c->name) return 0;
        snprintf(c->name, sizeof c->name, "%.*s", (int)len, s);
        char base[32];
        snprintf(base, sizeof base, "%.*s", (int)strcspn(c->name, "+"), c->name);
        char tail;
        if (sscanf(base, "k%d%c", &c->top_k, &tail) == 1) c->null = 0;
        else if (sscanf(base, "sd%d-%d%c", &c->sd_k0, &c->top_k, &tail) == 2) c->null = 0;
        else if (sscanf(base, "m%dk%d%c", &c->null, &c->top_k, &tail) != 2) return 0;
        if (c->top_k < 1 || c->null < 0 || (c->sd_k0 < 1 && base[0] == 's') || !parse_modifiers(c->name + strlen(base), c))
            return 0;
        (*n)++;
        s += len;
        if (*s == ',') s++;
    }
    return *n > 0;
}

static int summary_row(void *ctx, const JsonValue *row, int line, Error *err) {
    (void)line; (void)err;
    RunResult *r = ctx;
    const char *type;
    if (!json_get_string(row, "type", &type) || strcmp(type, "summary")) return 0;
    r->ok = json_get_number(row, "final_acc", &r->acc);
    if (!json_get_number(row, "load", &r->load)) r->load = NAN;
    return 0;
}

static RunResult read_result(const char *dir) {
    RunResult r = { 0, NAN, 0 };
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    Error err;
    FILE *f = fopen(path, "r");
    if (!f) return r;
    fclose(f);
    if (jsonl_foreach(path, summary_row, &r, &err)) r.ok = 0;
    return r;
}

/* the field's options of entry c (SMoE-Dropout schedule, modifiers) into argv at *argc */
static void field_args(const GridCfg *c, const char *experts_from, char *sched, size_t cap, char **argv, int *argc) {
    if (c->sd_k0) {
        snprintf(sched, cap, "linear:%d:%d", c->sd_k0, c->top_k);
        char *a[] = { "--router", "frozen-random", "--top-k-schedule", sched };
        for (int i = 0; i < 4; i++) argv[(*argc)++] = a[i];
    }
    if (c->pregate) argv[(*argc)++] = "--pregate";
    if (c->freeze) argv[(*argc)++] = "--freeze-experts";
    if (c->experts_from) { argv[(*argc)++] = "--experts-from"; argv[(*argc)++] = (char *)experts_from; }
}

static int run_one(const char *task, const char *data, const GridCfg *c, int seed, int experts, int ffn,
                   const char *dir, const char *experts_from, int extra_argc, char **extra) {
    char seed_s[16], null_s[16], k_s[16], n_s[16], sched[48];
    snprintf(seed_s, sizeof seed_s, "%d", seed);
    snprintf(null_s, sizeof null_s, "%d", c->null);
    snprintf(k_s, sizeof k_s, "%d", c->top_k);
    snprintf(n_s, sizeof n_s, "%d", experts);
    char *argv[64 + 40] = { "train", "--task", (char *)task, "--data", (char *)data, "--out", (char *)dir,
                            "--seed", seed_s, "--adapter", ffn ? "moe-ffn" : c->null ? "adamoe" : "molora" };
    int argc = 11;
    if (!c->sd_k0) { argv[argc++] = "--top-k"; argv[argc++] = k_s; }   /* sd: --top-k-schedule sets it */
    if (!ffn && !c->experts_from) { argv[argc++] = "--experts"; argv[argc++] = n_s; }
    if (c->null || ffn) { argv[argc++] = "--null"; argv[argc++] = null_s; }
    field_args(c, experts_from, sched, sizeof sched, argv, &argc);
    for (int i = 0; i < extra_argc && argc < 90; i++) argv[argc++] = extra[i];
    printf("\n=== sweep: %s %s seed %d -> %s ===\n", task, c->name, seed, dir);
    fflush(stdout);
    return train_cli(argc, argv);
}

static void mean_std(const double *x, int n, double *mean, double *std) {
    double s = 0, q = 0;
    int k = 0;
    for (int i = 0; i < n; i++) if (!isnan(x[i])) { s += x[i]; k++; }
    *mean = k ? s / k : NAN;
    for (int i = 0; i < n; i++) if (!isnan(x[i])) q += (x[i] - *mean) * (x[i] - *mean);
    *std = k > 1 ? sqrt(q / (k - 1)) : 0;
}

/* results.csv (every run) and results.md (mean ± std per task and configuration) */
static int write_results(const char *out, char **tasks, int nt, const GridCfg *g, int ng, int seeds,
                         RunResult *res, SweepPoint *pts) {
    char path[1024];
    AtomicFile acsv, amd;
    Error err;
    snprintf(path, sizeof path, "%s/results.csv", out);
    if (atomic_write_begin(&acsv, path, &err)) { error_print(&err); return 0; }
    snprintf(path, sizeof path, "%s/results.md", out);
    if (atomic_write_begin(&amd, path, &err)) { error_print(&err); atomic_write_abort(&acsv); return 0; }
    FILE *csv = acsv.f, *md = amd.f;
    fprintf(csv, "task,config,seed,acc,load\n");
    fprintf(md, "| config |");
    for (int t = 0; t < nt; t++) fprintf(md, " %s acc (%%) | %s Load |", tasks[t], tasks[t]);
    fprintf(md, "\n|---|");
    for (int t = 0; t < nt; t++) fprintf(md, "---|---|");
    fprintf(md, "\n");
    for (int c = 0; c < ng; c++) {
        fprintf(md, "| %s |", g[c].name);
        for (int t = 0; t < nt; t++) {
            double acc[SWEEP_MAX], load[SWEEP_MAX], ma, sa, ml, sl;
            for (int s = 0; s < seeds; s++) {
                RunResult *r = &res[(t * ng + c) * seeds + s];
                acc[s] = r->ok ? 100 * r->acc : NAN;
                load[s] = r->ok ? r->load : NAN;
                fprintf(csv, "%s,%s,%d,%.6f,%.4f\n", tasks[t], g[c].name, s + 1, r->ok ? r->acc : NAN, load[s]);
            }
            mean_std(acc, seeds, &ma, &sa);
            mean_std(load, seeds, &ml, &sl);
            int done = 0;
            for (int s = 0; s < seeds; s++) done += !isnan(acc[s]);
            pts[t * ng + c] = (SweepPoint){ g[c].name, ma, sa, ml, sl, done };
            if (seeds > 1) fprintf(md, " %.2f ± %.2f | %.2f |", ma, sa, ml);
            else fprintf(md, " %.2f | %.2f |", ma, ml);   /* one seed: no spread to show */
        }
        fprintf(md, "\n");
    }
    fprintf(md, "\n%d seed(s) per cell; acc = final dev accuracy; Load = mean true experts per token.\n", seeds);
    int ok = atomic_write_commit(&acsv, &err) == STATUS_OK;
    if (!ok) error_print(&err);
    if (atomic_write_commit(&amd, &err) != STATUS_OK) { error_print(&err); ok = 0; }
    snprintf(path, sizeof path, "%s/results.svg", out);
    if (ok && sweep_svg_write(path, tasks, nt, pts, ng, seeds, &err) != STATUS_OK) { error_print(&err); ok = 0; }
    return ok;
}

static int split_list(char *s, char **items, int max) {
    int n = 0;
    for (char *p = strtok(s, ","); p && n < max; p = strtok(NULL, ",")) items[n++] = p;
    return n;
}

typedef struct {
    char *task_s, *data_s, *grid_s, *out;
    const char *family, *experts_from;
    int seeds, experts, extra;   /* extra: argv index of the first train option (after --) */
} SweepArgs;

/* 0 = run, 1 = bad usage (message printed), 2 = --help printed */
static int parse_args(int argc, char **argv, SweepArgs *a) {
    *a = (SweepArgs){ NULL, NULL, "k1,k2,m5k4,m7k4", "runs/sweep", "lora", NULL, 1, 4, argc };
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--")) { a->extra = i + 1; break; }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf("usage: ./train sweep --task rte[,cola] --data DIR[,DIR] [--grid k1,k2,m5k4,m7k4,m9k4,m5k2]\n"
                   "       [--seeds 3] [--experts 4] [--family lora|ffn] [--out runs/sweep] -- [train options for every run]\n"
                   "  kK: top-K, no null experts; mMkK: M null experts, top-K over experts + nulls\n"
                   "  --family lora: LoRA experts on the adapted linears (kK molora, mMkK adamoe; --experts per linear)\n"
                   "  --family ffn: the model's MoE FFN experts (Mixtral, or -- --upcycle n), --adapter moe-ffn\n"
                   "  sdA-B: SMoE-Dropout (frozen random router, top-k A -> B during training, evaluated at top-B)\n"
                   "  modifiers: +pg pre-gating, +xf experts from --experts-from D1,D2,.. (LoRA adapters), +fz frozen experts\n"
                   "  e.g. --grid k2,m5k4,sd1-4,m5k4+pg,k2+xf --experts-from runs/a/adapter,runs/b/adapter\n");
            return 2;
        }
        if (i + 1 >= argc) { fprintf(stderr, "error: sweep: %s needs a value\n", o); return 1; }
        if (!strcmp(o, "--task")) a->task_s = argv[++i];
        else if (!strcmp(o, "--data")) a->data_s = argv[++i];
        else if (!strcmp(o, "--grid")) a->grid_s = argv[++i];
        else if (!strcmp(o, "--out")) a->out = argv[++i];
        else if (!strcmp(o, "--seeds")) a->seeds = atoi(argv[++i]);
        else if (!strcmp(o, "--experts")) a->experts = atoi(argv[++i]);
        else if (!strcmp(o, "--family")) a->family = argv[++i];
        else if (!strcmp(o, "--experts-from")) a->experts_from = argv[++i];
        else { fprintf(stderr, "error: sweep: unknown option %s (train options go after --)\n", o); return 1; }
    }
    if (!a->task_s || !a->data_s) { fprintf(stderr, "error: sweep: --task and --data are required\n"); return 1; }
    if (strcmp(a->family, "lora") && strcmp(a->family, "ffn")) {
        fprintf(stderr, "error: sweep: --family must be lora or ffn, got '%s'\n", a->family);
        return 1;
    }
    if (a->seeds < 1 || a->seeds > SWEEP_MAX || a->experts < 1) {
        fprintf(stderr, "error: sweep: --seeds 1..64, --experts >= 1\n");
        return 1;
    }
    return 0;
}

int sweep_cli(int argc, char **argv) {
    SweepArgs a;
    int p = parse_args(argc, argv, &a);
    if (p) return p == 2 ? 0 : 1;
    char *tasks[8], *datas[8], tbuf[512], dbuf[2048];
    GridCfg grid[SWEEP_MAX];
    int ng, seeds = a.seeds, ffn = !strcmp(a.family, "ffn");
    snprintf(tbuf, sizeof tbuf, "%s", a.task_s);
    snprintf(dbuf, sizeof dbuf, "%s", a.data_s);
    int nt = split_list(tbuf, tasks, 8), nd = split_list(dbuf, datas, 8);
    if (nt != nd) { fprintf(stderr, "error: sweep: %d tasks but %d --data entries\n", nt, nd); return 1; }
    if (!parse_grid(a.grid_s, grid, &ng)) {
        fprintf(stderr, "error: sweep: bad --grid '%s' (entries kK, mMkK or sdA-B, each with optional +pg +xf +fz; "
                "e.g. k2,m5k4,sd1-4,m5k4+pg)\n", a.grid_s);
        return 1;
    }
    for (int c = 0; c < ng; c++)
        if ((grid[c].experts_from && !a.experts_from) || (ffn && (grid[c].sd_k0 || grid[c].pregate || grid[c].experts_from ||
                                                                  grid[c].freeze))) {
            fprintf(stderr, "error: sweep: grid entry %s needs %s\n", grid[c].name,
                    ffn ? "--family lora (the field's methods route LoRA experts)" : "--experts-from D1,D2,... (LoRA adapters)");
            return 1;
        }
    if (mkdir(a.out, 0755) != 0 && errno != EEXIST) { fprintf(stderr, "error: cannot create %s: %s\n", a.out, strerror(errno)); return 1; }
    RunResult *res = calloc((size_t)nt * ng * seeds, sizeof *res);
    int rc = 0;
    for (int t = 0; t < nt && !rc; t++)
        for (int c = 0; c < ng && !rc; c++)
            for (int s = 0; s < seeds && !rc; s++) {
                char dir[1024];
                snprintf(dir, sizeof dir, "%.700s/%.64s_%.31s_s%d", a.out, tasks[t], grid[c].name, s + 1);
                RunResult *r = &res[(t * ng + c) * seeds + s];
                *r = read_result(dir);
                if (r->ok) { printf("sweep: %s done already, skipped\n", dir); continue; }
                rc = run_one(tasks[t], datas[t], &grid[c], s + 1, a.experts, ffn, dir, a.experts_from, argc - a.extra,
                             argv + a.extra);
                *r = read_result(dir);
            }
    SweepPoint *pts = calloc((size_t)nt * ng, sizeof *pts);
    if (!rc && write_results(a.out, tasks, nt, grid, ng, seeds, res, pts))
        printf("\nwrote %s/results.md, results.csv and results.svg\n", a.out);
    free(pts);
    free(res);
    return rc;
}
