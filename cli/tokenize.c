/* cli/tokenize.c — the `./train tokenize` subcommand (a thin wrapper over tokenizer.h).
     tokenize --tokenizer T --text "..." [--bos] [--eos] [--vocab-size N]  -> [1,2,3]
     tokenize --tokenizer T --file PATH|- [--lines] [--bos] [--eos]      -> [..] (per line)
     tokenize --tokenizer T --decode 1,2,3 [--vocab-size N]                -> the text
   Errors go to stderr with exit status 1. */
#include "cli/tokenize.h"
#include "cli/errors.h"
#include "data/tokenizer.h"
#include "tensor/check.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *f, int rc) {
    fprintf(f, "usage: ./train tokenize --tokenizer T (--text TEXT | --file PATH [--lines] | --decode IDS)\n"
               "                        [--bos] [--eos] [--vocab-size N]\n"
               "  --tokenizer   tokenizer.bin (llama2.c) or tokenizer.json (Hugging Face)\n"
               "  --text        text to encode: prints the token ids as a JSON array\n"
               "  --file        encode the whole file (\"-\" = standard input; any size)\n"
               "  --lines       with --file: encode each line on its own (without its \\n),\n"
               "                printing one JSON array per input line\n"
               "  --bos         add the special tokens the model expects: llama2.c BOS; for a\n"
               "                tokenizer.json those of its post_processor template (Llama-2 /\n"
               "                Mistral: <s>; GPT-2 and Qwen: none)\n"
               "  --eos         append EOS\n"
               "  --decode      comma-separated ids to decode into text (special tokens skipped)\n"
               "  --vocab-size  the model's vocabulary size (tokenizer.bin does not store it; 0 = read to the end)\n");
    return rc;
}

static int parse_int(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX) return 0;
    *out = v;
    return 1;
}

typedef struct {
    const Tokenizer *tk;
    int bos, eos;
} EncodeOpts;

static int do_encode(const EncodeOpts *o, const char *text, size_t len) {
    Error err = {0};
    int n = 0;
    if (tokenizer_encode_len(o->tk, text, len, o->bos, o->eos, NULL, 0, &n, &err) != STATUS_OK) {
        error_print(&err);
        return 1;
    }
    int *ids = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    if (tokenizer_encode_len(o->tk, text, len, o->bos, o->eos, ids, n, &n, &err) != STATUS_OK) {
        error_print(&err);
        free(ids);
        return 1;
    }
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    printf("]\n");
    free(ids);
    return 0;
}

static FILE *open_input(const char *path) {
    if (!strcmp(path, "-")) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) fprintf(stderr, "error: --file %s: cannot open: %s\n", path, strerror(errno));
    return f;
}

/* --file: the whole input as one text, or (lines) each line as one. */
static int encode_file(const EncodeOpts *o, const char *path, int lines) {
    FILE *f = open_input(path);
    if (!f) return 1;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int rc = 0;
    if (lines) {
        ssize_t got;
        while (rc == 0 && (got = getline(&buf, &cap, f)) >= 0)
            rc = do_encode(o, buf, (size_t)got - (got > 0 && buf[got - 1] == '\n'));
    } else {
        cap = 1 << 16;
        buf = xmalloc(cap);
        for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;)
            if ((n += got) == cap) buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(f)) {
        fprintf(stderr, "error: --file %s: read error: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (!lines && rc == 0) rc = do_encode(o, buf, n);
    if (f != stdin) fclose(f);
    free(buf);
    return rc;
}

static int do_decode(const Tokenizer *tk, const char *list) {
    size_t cap = strlen(list) / 2 + 1;
    int *ids = xmalloc(cap * sizeof *ids), n = 0, rc = 1;
    const char *p = list;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || v < 0 || v >= tk->vocab_size) {
            fprintf(stderr, "error: --decode: bad token id at \"%s\" (expected 0..%d, "
                    "comma-separated)\n", p, tk->vocab_size - 1);
            goto done;
        }
        ids[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    size_t len = tokenizer_decode(tk, ids, n, NULL, 0);
    char *out = xmalloc(len + 1);
    tokenizer_decode(tk, ids, n, out, len + 1);
    fwrite(out, 1, len, stdout);
    putchar('\n');
    free(out);
    rc = 0;
done:
    free(ids);
    return rc;
}

typedef struct {
    const char *path, *text, *file, *decode;
    int bos, eos, lines;
    long vocab;
} TokenizeArgs;

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, TokenizeArgs *a) {
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) return usage(stdout, 0);
        if (!strcmp(s, "--bos")) a->bos = 1;
        else if (!strcmp(s, "--eos")) a->eos = 1;
        else if (!strcmp(s, "--lines")) a->lines = 1;
        else if (!strcmp(s, "--tokenizer") && has_val) a->path = argv[++i];
        else if (!strcmp(s, "--text") && has_val) a->text = argv[++i];
        else if (!strcmp(s, "--file") && has_val) a->file = argv[++i];
        else if (!strcmp(s, "--decode") && has_val) a->decode = argv[++i];
        else if (!strcmp(s, "--vocab-size") && has_val) {
            if (!parse_int(argv[++i], &a->vocab)) {
                fprintf(stderr, "error: --vocab-size: expected a non-negative integer, got "
                        "\"%s\"\n", argv[i]);
                return 1;
            }
        } else {
            fprintf(stderr, "error: tokenize: unknown or incomplete option \"%s\"\n", s);
            return usage(stderr, 1);
        }
    }
    if (!a->path || (!!a->text + !!a->file + !!a->decode) != 1) return usage(stderr, 1);
    if (a->lines && !a->file) {
        fprintf(stderr, "error: tokenize: --lines needs --file\n");
        return 1;
    }
    return -1;
}

int tokenize_cli(int argc, char **argv) {
    TokenizeArgs a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    Tokenizer tk;
    Error err = {0};
    if (tokenizer_load(&tk, a.path, (int)a.vocab, &err) != STATUS_OK) {
        error_print(&err);
        return 1;
    }
    EncodeOpts o = {&tk, a.bos, a.eos};
    if (a.text) rc = do_encode(&o, a.text, strlen(a.text));
    else if (a.file) rc = encode_file(&o, a.file, a.lines);
    else rc = do_decode(&tk, a.decode);
    tokenizer_free(&tk);
    return rc;
}
