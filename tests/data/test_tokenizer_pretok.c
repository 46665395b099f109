/* tests/data/test_tokenizer_pretok.c — the pre-tokenizer regexes (data/pretok.c) on strings
   whose splits were derived by hand from the regex semantics (leftmost alternative, greedy,
   backtracking); the tokenizer.json features that are refused name the key; `./train tokenize`
   with --file, standard input and --lines. */
#include "tests/support/suites.h"
#include "tests/support/tok_fixtures.h"
#include "tests/support/helpers.h"
#include "data/pretok.h"
#include "cli/tokenize.h"

/* Splits text with p and checks the pieces equal want[] (NULL-terminated). */
static void expect_split(PretokPattern p, const char *text, const char *const *want) {
    size_t len = strlen(text), i = 0;
    int k = 0;
    while (i < len) {
        size_t j = pretok_next(p, text, len, i);
        ck_assert_msg(j > i && j <= len, "%s: no progress at %zu", text, i);
        ck_assert_msg(want[k] != NULL, "%s: extra piece \"%.*s\"", text, (int)(j - i), text + i);
        ck_assert_msg(strlen(want[k]) == j - i && !memcmp(want[k], text + i, j - i),
                      "%s (%s): piece %d is \"%.*s\", expected \"%s\"", text,
                      pretok_pattern_name(p), k, (int)(j - i), text + i, want[k]);
        k++;
        i = j;
    }
    ck_assert_msg(want[k] == NULL, "%s: missing piece \"%s\"", text, want[k]);
}

#define SPLIT(p, text, ...)                                        \
    do {                                                           \
        const char *const want_[] = {__VA_ARGS__, NULL};           \
        expect_split(p, text, want_);                              \
    } while (0)

START_TEST(test_pretok_gpt2)
{
    SPLIT(PRETOK_GPT2, "Hello world's  end\n\n", "Hello", " world", "'s", " ", " end", "\n\n");
    SPLIT(PRETOK_GPT2, "I'M 1234 x!!", "I", "'", "M", " 1234", " x", "!!");   /* case-sensitive */
    SPLIT(PRETOK_GPT2, "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87", "caf\xc3\xa9", " \xe4\xb8\xad\xe6\x96\x87");
    /* U+0085 is not a JS space: other; with the Split flavour (White_Space) it is a space */
    SPLIT(PRETOK_GPT2, "a \xc2\x85" "b", "a", " \xc2\x85", "b");
    SPLIT(PRETOK_GPT2_SPLIT, "a \xc2\x85" "b", "a", " ", "\xc2\x85", "b");
    /* U+FEFF is a JS space */
    SPLIT(PRETOK_GPT2, "a\xef\xbb\xbf\xef\xbb\xbf" "b", "a", "\xef\xbb\xbf", "\xef\xbb\xbf", "b");
    SPLIT(PRETOK_GPT2, "x   ", "x", "   ");
}
END_TEST

START_TEST(test_pretok_llama3_qwen2)
{
    const char *text = "I'M don\xe2\x80\x99t 1234567 (hello) \xe2\x80\xa6" "and\n\n  x";
    SPLIT(PRETOK_LLAMA3, text, "I", "'M", " don", "\xe2\x80\x99t", " ", "123", "456", "7", " (",
          "hello", ")", " \xe2\x80\xa6", "and", "\n\n", " ", " x");
    SPLIT(PRETOK_QWEN2, "a 123.", "a", " ", "1", "2", "3", ".");
    SPLIT(PRETOK_LLAMA3, "\xe2\x80\xa6" "and", "\xe2\x80\xa6" "and");     /* one mark + letters */
    SPLIT(PRETOK_LLAMA3, "x.\n\ny", "x", ".\n\n", "y");                 /* others + newlines */
    SPLIT(PRETOK_LLAMA3, "a \n b", "a", " \n", " b");                    /* \s*[\r\n]+ */
    SPLIT(PRETOK_LLAMA3, "\tword\xe3\x80\x80" "x", "\tword", "\xe3\x80\x80" "x");
    SPLIT(PRETOK_LLAMA3, "'sam 'LL", "'s", "am", " '", "LL");           /* (?i:...) first */
    ck_assert_int_eq(pretok_pattern_find("\\s+", 3), PRETOK_NONE);
}
END_TEST

static void expect_load_error(const char *json, const char *what) {
    char *path = tok_write_temp(json, strlen(json), ".json");
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&tk, path, 0, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, what) && strstr(err.message, path),
                  "message \"%s\" should name the file and \"%s\"", err.message, what);
    tok_remove_temp(path);
}

#define MODEL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<s>\": 1}, \"merges\": []}"
#define BL "{\"type\": \"ByteLevel\", \"use_regex\": false}"

START_TEST(test_refused_features)
{
    expect_load_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
                      "[{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": "
                      "\"Isolated\"}, " BL "]}}", "Split regex \"\\w+\"");
    expect_load_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
                      "[{\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": "
                      "\"Isolated\"}, " BL "]}}", "Split \"pattern\"");
    expect_load_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
                      "\"\\\\p{N}\"}, \"behavior\": \"MergedWithPrevious\"}}", "Split");
    expect_load_error("{" MODEL ", \"pre_tokenizer\": " BL ", \"decoder\": {\"type\": \"WordPiece\"}}",
                      "decoder \"WordPiece\"");
    expect_load_error("{" MODEL ", \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": "
                      "\"CTC\"}]}}", "unsupported decoder \"CTC\"");
    expect_load_error("{" MODEL ", \"post_processor\": {\"type\": \"BertProcessing\"}}",
                      "post_processor \"BertProcessing\"");
    expect_load_error("{" MODEL ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
                      "[{\"SpecialToken\": {\"id\": \"<x>\"}}]}}", "\"<x>\" has no id");
    expect_load_error("{\"added_tokens\": [{\"id\": 1, \"content\": \"<s>\", \"single_word\": true}], "
                      MODEL "}", "single_word");
    expect_load_error("{" MODEL ", \"normalizer\": {\"type\": \"NFKC\"}}", "normalizer \"NFKC\"");
    expect_load_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
                      "[" BL ", {\"type\": \"Digits\"}]}}", "\"Digits\" after ByteLevel");
}
END_TEST

/* a byte-level file: "a" "b" "ab" "Ġ" "Ġab" "Ċ"; no template; the GPT-2 regex */
static const char TINY[] = "{\"added_tokens\": [{\"id\": 6, \"content\": \"<|x|>\", \"special\": true}],"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
    " \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2,"
    " \"\xc4\xa0\": 3, \"\xc4\xa0" "ab\": 4, \"\xc4\x8a\": 5, \"<|x|>\": 6}, \"merges\": [\"a b\","
    " \"\xc4\xa0 ab\"]}}";

START_TEST(test_tokenize_cli_file)
{
    char *tok = tok_write_temp(TINY, strlen(TINY), ".json");
    const char text[] = "ab ab\n\nba<|x|>";
    char *in = tok_write_temp(text, strlen(text), ".txt"), *out = NULL;
    char *whole[] = {"tokenize", "--tokenizer", tok, "--file", in, "--bos", NULL};
    ck_assert_int_eq(run_cli_captured(tokenize_cli, whole, &out), 0);
    ck_assert_str_eq(out, "[2,4,5,5,1,0,6]\n");     /* no template: --bos adds nothing */
    free(out);
    char *lines[] = {"tokenize", "--tokenizer", tok, "--file", in, "--lines", NULL};
    ck_assert_int_eq(run_cli_captured(tokenize_cli, lines, &out), 0);
    ck_assert_str_eq(out, "[2,4]\n[]\n[1,0,6]\n");
    free(out);
    char *decode[] = {"tokenize", "--tokenizer", tok, "--decode", "6,2,4,5,1", NULL};
    ck_assert_int_eq(run_cli_captured(tokenize_cli, decode, &out), 0);
    ck_assert_str_eq(out, "ab ab\nb\n");
    free(out);
    char *const missing[] = {"tokenize", "--tokenizer", tok, "--file", "/nonexistent/x", NULL};
    run_cli_expect_error(tokenize_cli, missing, NULL, "/nonexistent/x");
    char *const no_file[] = {"tokenize", "--tokenizer", tok, "--text", "a", "--lines", NULL};
    run_cli_expect_error(tokenize_cli, no_file, NULL, "--lines needs --file");
    tok_remove_temp(in);
    tok_remove_temp(tok);
}
END_TEST

Suite *tokenizer_pretok_suite(void) {
    Suite *s = suite_create("tokenizer_pretok");
    TCase *tc = tcase_create("pretok");
    tcase_add_test(tc, test_pretok_gpt2);
    tcase_add_test(tc, test_pretok_llama3_qwen2);
    tcase_add_test(tc, test_refused_features);
    tcase_add_test(tc, test_tokenize_cli_file);
    suite_add_tcase(s, tc);
    return s;
}
