/* cli/tokenize.c — the `./train tokenize` subcommand (a thin wrapper over tokenizer.h).
     tokenize --tokenizer T --text "..." [--bos] [--eos] [--vocab-size N]  -> [1,2,3]
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
    fprintf(f, "usage: ./train tokenize --tokenizer T (--text TEXT [--bos] [--eos] | --decode IDS) [--vocab-size N]\n"
               "  --tokenizer   tokenizer.bin (llama2.c) or tokenizer.json (Hugging Face)\n"
               "  --text        text to encode: prints the token ids as JSON\n"
               "  --bos, --eos  prepend BOS / append EOS\n"
               "  --decode      comma-separated ids to decode into text\n"
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

static int do_encode(const Tokenizer *tk, const char *text, int bos, int eos) {
    Error err = {0};
    int n = 0;
    if (tokenizer_encode(tk, text, bos, eos, NULL, 0, &n, &err) != STATUS_OK) {
        error_print(&err);
        return 1;
    }
    int *ids = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    if (tokenizer_encode(tk, text, bos, eos, ids, n, &n, &err) != STATUS_OK) {
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

int tokenize_cli(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *decode = NULL;
    int bos = 0, eos = 0;
    long vocab = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout, 0);
        if (!strcmp(a, "--bos")) bos = 1;
        else if (!strcmp(a, "--eos")) eos = 1;
        else if (!strcmp(a, "--tokenizer") && has_val) path = argv[++i];
        else if (!strcmp(a, "--text") && has_val) text = argv[++i];
        else if (!strcmp(a, "--decode") && has_val) decode = argv[++i];
        else if (!strcmp(a, "--vocab-size") && has_val) {
            if (!parse_int(argv[++i], &vocab)) {
                fprintf(stderr, "error: --vocab-size: expected a non-negative integer, got "
                        "\"%s\"\n", argv[i]);
                return 1;
            }
        } else {
            fprintf(stderr, "error: tokenize: unknown or incomplete option \"%s\"\n", a);
            return usage(stderr, 1);
        }
    }
    if (!path || (!text == !decode)) return usage(stderr, 1);
    Tokenizer tk;
    Error err = {0};
    if (tokenizer_load(&tk, path, (int)vocab, &err) != STATUS_OK) {
        error_print(&err);
        return 1;
    }
    int rc = text ? do_encode(&tk, text, bos, eos) : do_decode(&tk, decode);
    tokenizer_free(&tk);
    return rc;
}
