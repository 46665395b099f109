/* tests/nn/test_generate_ref.c — generation against PyTorch on stories260K, and `./train generate`.
   The reference ids come from shared/tools/torch_ref.py (an independent PyTorch implementation
   that recomputes the full forward at every step, cross-checked against llama2.c's run.c). The
   stories260K tests are skipped, with a note, when ../shared/data/models is absent. The CLI
   tests run generate_cli() in-process with stdout redirected to a file and parse its JSON. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "data/json.h"
#include "data/tokenizer.h"
#include "nn/checkpoint.h"
#include "nn/generate.h"
#include "cli/generate.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL_260K "../shared/data/models/stories260K.bin"
#define TOK_512 "../shared/data/models/tok512.bin"

/* python3 /work/shared/tools/torch_ref.py generate --model ../shared/data/models/stories260K.bin \
     --prompt-ids 1 --steps 64 --tokenizer ../shared/data/models/tok512.bin */
static const int REF_BOS_64[64] = {
    403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
    410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
    266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415,
    426, 13, 438, 310,
};
static const char REF_BOS_64_TEXT[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";

/* python3 /work/shared/tools/torch_ref.py tokenize --tokenizer ../shared/data/models/tok512.bin \
     --text "Tom had a big dog"  ->  ids; then
   python3 /work/shared/tools/torch_ref.py generate --model ../shared/data/models/stories260K.bin \
     --prompt-ids 1,274,287,381,261,370,400,428 --steps 40 */
static const int REF_TOM_PROMPT[8] = { 1, 274, 287, 381, 261, 370, 400, 428 };
static const int REF_TOM_40[40] = {
    395, 392, 412, 444, 426, 392, 412, 444, 401, 396, 267, 337, 335, 345, 267, 422, 419, 426, 385, 328,
    432, 392, 412, 444, 394, 261, 370, 268, 414, 444, 426, 346, 391, 266, 267, 337, 335, 312, 426, 346,
};
/* torch_ref.py tokenize --text "Once upon a time" */
static const int REF_ONCE_PROMPT[5] = { 1, 403, 407, 261, 378 };

static int have_260k(void) {
    if (access(MODEL_260K, R_OK) == 0 && access(TOK_512, R_OK) == 0) return 1;
    printf("note: %s or %s absent: skipping the stories260K reference test\n", MODEL_260K, TOK_512);
    return 0;
}

static void expect_ids(const int *got, int n_got, const int *want, int n_want, const char *what) {
    ck_assert_msg(n_got == n_want, "%s: %d ids, want %d", what, n_got, n_want);
    for (int i = 0; i < n_want; i++)
        ck_assert_msg(got[i] == want[i], "%s: id %d is %d, PyTorch says %d", what, i, got[i], want[i]);
}

static void encode_with_bos(const Tokenizer *tk, const char *text, int *ids, int *n) {
    Error err;
    ck_assert_msg(tokenizer_encode(tk, text, 1, 0, ids, 64, n, &err) == STATUS_OK, "%s", err.message);
}

START_TEST(test_stories260k_reference)
{
    if (!have_260k()) return;
    static const AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel m;
    Tokenizer tk;
    Error err;
    ck_assert_msg(model_load(&m, MODEL_260K, &none, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(tokenizer_load(&tk, TOK_512, m.cfg.vocab_size, &err) == STATUS_OK, "%s", err.message);
    GenerateConfig gc = generate_config_default();
    int out[64], n = 0, prompt[64], np = 0;
    const int bos = 1;
    ck_assert_int_eq(llama_generate(&m, &bos, 1, &gc, NULL, NULL, out, &n, &err), STATUS_OK);
    expect_ids(out, n, REF_BOS_64, 64, "BOS prompt");

    encode_with_bos(&tk, "Once upon a time", prompt, &np);
    expect_ids(prompt, np, REF_ONCE_PROMPT, 5, "tokenize \"Once upon a time\"");
    gc.steps = 40;   /* the BOS run already continues this prompt: its ids 4.. are the reference */
    ck_assert_int_eq(llama_generate(&m, prompt, np, &gc, NULL, NULL, out, &n, &err), STATUS_OK);
    expect_ids(out, n, REF_BOS_64 + 4, 40, "\"Once upon a time\"");

    encode_with_bos(&tk, "Tom had a big dog", prompt, &np);
    expect_ids(prompt, np, REF_TOM_PROMPT, 8, "tokenize \"Tom had a big dog\"");
    ck_assert_int_eq(llama_generate(&m, prompt, np, &gc, NULL, NULL, out, &n, &err), STATUS_OK);
    expect_ids(out, n, REF_TOM_40, 40, "\"Tom had a big dog\"");
    tokenizer_free(&tk);
    llama_free(&m);
}
END_TEST


/* parses the one JSON line; returns the generated ids' count and checks the prompt ids */
static int parse_json_line(const char *line, JsonDoc *doc, const int *prompt, int n_prompt, int *ids) {
    Error err;
    size_t len = strlen(line);
    ck_assert_msg(len > 0 && line[len - 1] == '\n' && strchr(line, '\n') == line + len - 1,
                  "want exactly one line, got \"%s\"", line);
    ck_assert_msg(json_parse(doc, line, len, "generate --json", &err) == STATUS_OK, "%s", err.message);
    const JsonValue *p = json_get(doc->root, "prompt_ids"), *g = json_get(doc->root, "ids");
    ck_assert(p && g && p->type == JSON_ARRAY && g->type == JSON_ARRAY && json_get(doc->root, "text"));
    ck_assert_int_eq((int)p->count, n_prompt);
    for (int i = 0; i < n_prompt; i++) ck_assert_int_eq((int)p->items[i].number, prompt[i]);
    for (size_t i = 0; i < g->count; i++) ids[i] = (int)g->items[i].number;
    return (int)g->count;
}

START_TEST(test_cli_json_tiny)
{
    static const AdapterConfig none = { .kind = ADAPTER_NONE };
    ModelConfig c = tiny_config(0);
    LlamaModel m;
    tiny_model(&m, &c, &none, 9, 0);
    char *dir = tmp_dir_new(), path[128], *out;
    snprintf(path, sizeof path, "%s/tiny.bin", dir);
    Error err;
    ck_assert_int_eq(llama2c_write(&m, path, 1, &err), STATUS_OK);
    const int prompt[3] = { 1, 5, 9 };
    int want[6], n = 0, got[16];
    GenerateConfig gc = generate_config_default();
    gc.steps = 6;
    ck_assert_int_eq(llama_generate(&m, prompt, 3, &gc, NULL, NULL, want, &n, &err), STATUS_OK);
    char *ok[] = { "generate", "--model", path, "--prompt-ids", "1,5,9", "--steps", "6", "--json", NULL };
    ck_assert_int_eq(run_cli_captured(generate_cli, ok, &out), 0);
    JsonDoc doc;
    ck_assert_int_eq(parse_json_line(out, &doc, prompt, 3, got), 6);
    ck_assert_int_eq(memcmp(got, want, sizeof want), 0);
    ck_assert_int_eq(json_get(doc.root, "text")->type, JSON_NULL);   /* no tokenizer */
    json_doc_free(&doc);
    free(out);
    char *bad[][10] = {
        { "generate", "--prompt-ids", "1", NULL },                                       /* no model */
        { "generate", "--model", path, "--prompt", "hi", NULL },                       /* no tokenizer */
        { "generate", "--model", path, "--prompt-ids", "1,50", NULL },                 /* id >= vocab */
        { "generate", "--model", path, "--prompt-ids", "1,x", NULL },                  /* not an id */
        { "generate", "--model", path, "--prompt-ids", "1", "--steps", "16", NULL },   /* context */
        { "generate", "--model", path, "--prompt-ids", "1", "--steps", "3", "--top-p", "0", NULL },
        { "generate", "--model", "/nonexistent.bin", "--prompt-ids", "1", NULL },
        { "generate", "--model", path, "--prompt-ids", "1", "--bogus", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(run_cli_captured(generate_cli, bad[i], &out) == 1, "bad input %zu accepted", i);
        ck_assert_msg(out[0] == 0, "bad input %zu printed to stdout: %s", i, out);
        free(out);
    }
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    free(dir);
    llama_free(&m);
}
END_TEST

START_TEST(test_cli_json_stories260k)
{
    if (!have_260k()) return;
    char *argv[] = { "generate", "--model", MODEL_260K, "--tokenizer", TOK_512, "--prompt-ids", "1",
                     "--steps", "64", "--json", NULL };
    char *out;
    ck_assert_int_eq(run_cli_captured(generate_cli, argv, &out), 0);
    JsonDoc doc;
    int got[64], one = 1;
    int n = parse_json_line(out, &doc, &one, 1, got);
    expect_ids(got, n, REF_BOS_64, 64, "generate --json");
    const char *text = NULL;
    ck_assert(json_get_string(doc.root, "text", &text));
    ck_assert_str_eq(text, REF_BOS_64_TEXT);
    json_doc_free(&doc);
    free(out);
}
END_TEST

Suite *generate_ref_suite(void) {
    Suite *s = suite_create("generate_ref");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stories260k_reference);
    tcase_add_test(tc, test_cli_json_tiny);
    tcase_add_test(tc, test_cli_json_stories260k);
    suite_add_tcase(s, tc);
    return s;
}
