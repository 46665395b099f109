/* cli/generate.c — the `./train generate` subcommand (a thin wrapper over generate.h).
     generate --model M [--tokenizer T] (--prompt TEXT | --prompt-ids 1,2,3) [--steps 64]
              [--temperature 0] [--top-p 1] [--seed 42] [--stop-at-eos] [--threads N] [--base-dtype f32|bf16|nf4|int8] [--json]
   The model is a llama2.c .bin or an HF directory, Llama or Mixtral (model_load_with_adapter:
   optionally with --adapter-dir: LoRA, Mo-LoRA / AdaMoE, moe-ffn incl. upcycled). A text prompt
   is encoded with BOS (as llama2.c's run.c does) and needs --tokenizer.
   Default output: the prompt text and then each generated piece, streamed to stdout as it is
   produced (without a tokenizer: the generated ids, space-separated), a newline, and a speed
   line on stderr. --json prints exactly one line
     {"prompt_ids":[...],"ids":[...generated ids only...],"text":"..."}
   where text is the generated ids decoded after the last prompt token (null without a
   tokenizer). Bad input: a message on stderr and exit status 1. */
#include "cli/generate.h"
#include "cli/errors.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "nn/generate.h"
#include "cli/model_flags.h"
#include "data/json.h"
#include "data/tokenizer.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *model, *tokenizer, *prompt, *prompt_ids, *config, *adapter_dir;
    int steps, seed, threads, json, stop_at_eos;
    double temperature, top_p;
    const char *base_dtype;   /* f32 | bf16 | nf4 | nf4-nodq | int8 storage of the frozen base weights */
    const char *expert_dtype; /* Mixtral experts' storage with a quantised base (NULL: as the base) */
    int dtype_code;           /* base_dtype_code of the two */
} GenOpts;

/* streaming state: pieces are printed (or appended to `text`) as tokens arrive */
typedef struct {
    const Tokenizer *tk;      /* NULL: ids */
    int stream;               /* print to stdout as tokens arrive */
    char *piece;              /* [piece_cap] */
    size_t piece_cap;
    char *text;               /* the generated text (json mode) */
    size_t len, cap;
    int count;                /* ids printed so far (no tokenizer) */
} Sink;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void text_append(Sink *s, const char *p, size_t n) {
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        char *t = realloc(s->text, s->cap);
        CHECK(t != NULL, "out of memory (%zu bytes of generated text)", s->cap);
        s->text = t;
    }
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = '\0';
}

static int on_token(void *ctx, int prev_id, int id) {
    Sink *s = ctx;
    if (!s->tk) {
        if (s->stream) printf(s->count++ ? " %d" : "%d", id);
    } else {
        const char *p = tokenizer_piece(s->tk, prev_id, id, s->piece, s->piece_cap);
        if (s->stream) fputs(p, stdout);
        else text_append(s, p, strlen(p));
    }
    if (s->stream) fflush(stdout);
    return 0;
}

/* "1,2,3" -> ids (caller frees); ids are range-checked later against the model */
static int parse_ids(const char *list, int **out, int *n_out) {
    size_t cap = strlen(list) / 2 + 1;
    int *ids = xmalloc(cap * sizeof *ids), n = 0;
    const char *p = list;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || v < 0 || v > INT_MAX) {
            fprintf(stderr, "error: --prompt-ids: bad token id at \"%s\" (expected non-negative "
                    "integers, comma-separated)\n", p);
            free(ids);
            return 0;
        }
        ids[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    *out = ids;
    *n_out = n;
    return 1;
}

static int encode_prompt(const Tokenizer *tk, const char *text, int **ids, int *n) {
    Error err = {0};
    int bos = tk->bos_id >= 0, need = 0;
    if (tokenizer_encode(tk, text, bos, 0, NULL, 0, &need, &err) != STATUS_OK) {
        error_print(&err);
        return 0;
    }
    *ids = xmalloc((size_t)(need > 0 ? need : 1) * sizeof **ids);
    if (tokenizer_encode(tk, text, bos, 0, *ids, need, n, &err) != STATUS_OK) {
        error_print(&err);
        free(*ids);
        return 0;
    }
    return 1;
}

static void print_ids(const int *ids, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    putchar(']');
}

/* Load over the decoded tokens (the prompt and every generated token but the last, which is
   never fed back): mean true experts per token, as training reports it; < 0 when not routed */
static double generation_load(const LlamaModel *m) {
    if (!m->moe) return -1;
    MoeSummary sum;
    moe_summary_model(&m->moe->stats, &sum);
    return sum.tokens > 0 ? sum.load : -1;
}

static void print_json(const int *prompt, int n_prompt, const int *ids, int n, const Sink *s, double load) {
    printf("{\"prompt_ids\":");
    print_ids(prompt, n_prompt);
    printf(",\"ids\":");
    print_ids(ids, n);
    printf(",\"text\":");
    if (s->tk) json_write_string(stdout, s->text ? s->text : "", s->len);
    else printf("null");
    if (load >= 0) printf(",\"load\":%.6f", load);
    printf("}\n");
}

/* the prompt echo of the default mode: every prompt piece after the first */
static void echo_prompt(Sink *s, const int *prompt, int n_prompt) {
    if (!s->tk) return;
    for (int i = 1; i < n_prompt; i++)
        fputs(tokenizer_piece(s->tk, prompt[i - 1], prompt[i], s->piece, s->piece_cap), stdout);
}

/* generation proper, once the model, tokenizer and prompt are ready */
static int run(const GenOpts *o, const LlamaModel *m, const Tokenizer *tk, const int *prompt, int n_prompt) {
    GenerateConfig gc = { o->steps, o->temperature, o->top_p, (uint64_t)(int64_t)o->seed, o->stop_at_eos, m->moe != NULL };
    if (m->moe) moe_stats_reset(&m->moe->stats);
    Sink s = { tk, !o->json, NULL, 0, NULL, 0, 0, 0 };
    s.piece_cap = tk ? (size_t)tk->max_token_length + 8 : 0;
    s.piece = tk ? xmalloc(s.piece_cap) : NULL;
    int *ids = xmalloc((size_t)(o->steps > 0 ? o->steps : 1) * sizeof *ids), n = 0;
    Error err = {0};
    if (s.stream) echo_prompt(&s, prompt, n_prompt);
    double t0 = now_s();
    Status st = llama_generate(m, prompt, n_prompt, &gc, on_token, &s, ids, &n, &err);
    double dt = now_s() - t0;
    if (st != STATUS_OK) error_print(&err);
    else if (o->json) print_json(prompt, n_prompt, ids, n, &s, generation_load(m));
    else {
        putchar('\n');
        fflush(stdout);
        fprintf(stderr, "%d tokens in %.3f s: %.1f tokens/s (prompt %d tokens, threads %d)", n, dt,
                dt > 0 ? n / dt : 0.0, n_prompt, threads_count());
        double load = generation_load(m);
        if (load >= 0) fprintf(stderr, "; Load %.3f true experts per token", load);
        fputc('\n', stderr);
    }
    free(ids);
    free(s.piece);
    free(s.text);
    return st == STATUS_OK ? 0 : 1;
}

static const char USAGE[] =
    "usage: ./train generate --model M [--tokenizer T] (--prompt TEXT | --prompt-ids 1,2,3) [options]";

/* flags -> opts; returns -1 to go on, else the exit status */
static int parse_opts(GenOpts *o, int argc, char **argv) {
    Flag t[] = {
        { "prompt", FLAG_STRING, &o->prompt, "prompt text (encoded with BOS; needs --tokenizer)", 0 },
        { "prompt-ids", FLAG_STRING, &o->prompt_ids, "prompt as comma-separated token ids", 0 },
        { "steps", FLAG_INT, &o->steps, "number of new tokens", 0 },
        { "temperature", FLAG_DOUBLE, &o->temperature, "0 = greedy (argmax)", 0 },
        { "top-p", FLAG_DOUBLE, &o->top_p, "nucleus sampling mass in (0, 1]; 1 = off", 0 },
        { "seed", FLAG_INT, &o->seed, "sampling seed", 0 },
        { "stop-at-eos", FLAG_BOOL, &o->stop_at_eos, "stop after the model's EOS token", 0 },
        { "threads", FLAG_INT, &o->threads, "worker threads (0 = $MOETRAIN_THREADS or all CPUs)", 0 },
        { "base-dtype", FLAG_STRING, &o->base_dtype, BASE_DTYPE_HELP, 0 },
        { "expert-dtype", FLAG_STRING, &o->expert_dtype, EXPERT_DTYPE_HELP, 0 },
        { "json", FLAG_BOOL, &o->json, "print one JSON line instead of streaming text", 0 },
        { "config", FLAG_STRING, &o->config, "JSON file of options (command line wins)", 0 },
    };
    Flag flags[MODEL_FLAGS_MAX + sizeof t / sizeof t[0]];
    int n = model_flags(flags, &o->model, &o->tokenizer, &o->adapter_dir, t, (int)(sizeof t / sizeof t[0])), help = 0;
    Error err = {0};
    if (flags_parse(flags, n, argc, argv, 1, &help, &err) != STATUS_OK ||
        (o->config && flags_load_config(flags, n, o->config, &err) != STATUS_OK)) {
        error_print(&err);
        return 1;
    }
    if (help) {
        flags_print_help(stdout, USAGE, flags, n);
        return 0;
    }
    const char *bad = !o->model ? "--model is required"
                    : !o->prompt == !o->prompt_ids ? "give exactly one of --prompt and --prompt-ids"
                    : o->prompt && !o->tokenizer ? "--prompt needs --tokenizer (or use --prompt-ids)"
                    : o->steps < 0 ? "--steps must be >= 0"
                    : o->threads < 0 ? "--threads must be >= 0" : NULL;
    if (!bad && base_dtype_code(o->base_dtype, o->expert_dtype, 0, &o->dtype_code, &err)) bad = err.message;
    if (bad) {
        fprintf(stderr, "error: generate: %s\n%s\n", bad, USAGE);
        return 1;
    }
    return -1;
}

int generate_cli(int argc, char **argv) {
    GenOpts o = { NULL, NULL, NULL, NULL, NULL, NULL, 64, 42, 0, 0, 0, 0.0, 1.0, "f32", NULL, 0 };
    int rc = parse_opts(&o, argc, argv);
    if (rc >= 0) return rc;
    if (o.threads > 0) threads_init(o.threads);
    LlamaModel m;
    Tokenizer tk;
    Error err = {0};
    if (model_load_with_adapter(&m, o.model, o.adapter_dir, o.dtype_code, &err) != STATUS_OK) {
        error_print(&err);
        return 1;
    }
    int have_tk = 0, *prompt = NULL, n_prompt = 0;
    rc = 1;
    if (o.tokenizer) {
        if (tokenizer_load(&tk, o.tokenizer, m.cfg.vocab_size, &err) != STATUS_OK) {
            error_print(&err);
            goto done;
        }
        have_tk = 1;
    }
    if (o.prompt ? encode_prompt(&tk, o.prompt, &prompt, &n_prompt) : parse_ids(o.prompt_ids, &prompt, &n_prompt))
        rc = run(&o, &m, have_tk ? &tk : NULL, prompt, n_prompt);
done:
    free(prompt);
    if (have_tk) tokenizer_free(&tk);
    llama_free(&m);
    return rc;
}
