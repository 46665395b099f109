/* tests/data/test_tokenizer_golden.c — the real tokenizer.json files of ../shared/data/tokenizers
   (Mistral, Llama 3, GPT-2, Qwen3 = Qwen2.5's BPE) against the reference implementation: the
   ids, the special tokens of add_special_tokens (the BOS convention) and the decoded text of
   every string of tests/golden/tokenizers (written by regen.mjs with @huggingface/tokenizers:
   all of RTE dev, commonsense questions, scripts, emoji, whitespace, numbers, marks, special
   tokens in text, random mixtures). Also variants: Llama 3 with the post_processor of later
   Meta revisions (TemplateProcessing inside a Sequence: BOS), GPT-2 with add_prefix_space and
   without use_regex. Skips when ../shared is absent. */
#include "tests/support/suites.h"
#include "tests/support/tok_fixtures.h"
#include "tests/support/tok_golden.h"
#include "data/tokenizer_impl.h"
#include "data/file_read.h"

static int same_ids(const int *a, int na, const int *b, int nb) {
    return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof *a));
}

static void print_ids(const char *what, const int *ids, int n) {
    printf("    %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

/* Checks string i: returns 1 on a mismatch (reported while *shown < 5). */
static int check_string(const Tokenizer *tk, const TokGolden *g, int i, int *shown) {
    size_t len = g->text_len[i];
    int cap = (int)(4 * len + 16), n0 = 0, n1 = 0;
    int *ids = xmalloc((size_t)cap * sizeof *ids), *all = xmalloc((size_t)cap * sizeof *all);
    int *want = xmalloc((size_t)(g->n_pre[i] + g->n_ids[i] + g->n_post[i] + 1) * sizeof *want);
    Error err = {0};
    Status s0 = tokenizer_encode_len(tk, g->text[i], len, 0, 0, ids, cap, &n0, &err);
    Status s1 = tokenizer_encode_len(tk, g->text[i], len, 1, 0, all, cap, &n1, &err);
    int nw = 0;
    for (int k = 0; k < g->n_pre[i]; k++) want[nw++] = g->pre[i][k];
    for (int k = 0; k < g->n_ids[i]; k++) want[nw++] = g->ids[i][k];
    for (int k = 0; k < g->n_post[i]; k++) want[nw++] = g->post[i][k];
    const char *dec_want = g->decode[i] ? g->decode[i] : g->text[i];
    size_t dlen = tokenizer_decode(tk, g->ids[i], g->n_ids[i], NULL, 0);
    char *dec = xmalloc(dlen + 1);
    tokenizer_decode(tk, g->ids[i], g->n_ids[i], dec, dlen + 1);
    int ok_ids = s0 == STATUS_OK && same_ids(ids, n0, g->ids[i], g->n_ids[i]);
    int ok_all = s1 == STATUS_OK && same_ids(all, n1, want, nw);
    int ok_dec = dlen == strlen(dec_want) && !memcmp(dec, dec_want, dlen);
    if (!(ok_ids && ok_all && ok_dec) && (*shown)++ < 5) {
        printf("  string %d \"%.100s\": ids %s, with specials %s, decode %s\n", i + 1, g->text[i],
               ok_ids ? "ok" : "DIFFER", ok_all ? "ok" : "DIFFER", ok_dec ? "ok" : "DIFFERS");
        if (!ok_ids) print_ids("got     ", ids, n0), print_ids("expected", g->ids[i], g->n_ids[i]);
        if (!ok_all) print_ids("got     ", all, n1), print_ids("expected", want, nw);
        if (!ok_dec) printf("    decoded \"%s\", expected \"%s\"\n", dec, dec_want);
    }
    free(ids), free(all), free(want), free(dec);
    return !(ok_ids && ok_all && ok_dec);
}

static void check_file(const char *tok_path, const char *name, int want_bos) {
    Tokenizer tk;
    Error err = {0};
    ck_assert_msg(tokenizer_load(&tk, tok_path, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(tk.add_bos, want_bos);
    TokGolden g;
    tok_golden_load(&g, name);
    int bad = 0, shown = 0;
    for (int i = 0; i < g.n; i++) bad += check_string(&tk, &g, i, &shown);
    printf("golden %s: %d strings, %d mismatches (ids, specials, decode vs the reference)\n",
           name, g.n, bad);
    ck_assert_int_ge(g.n, 1000);
    ck_assert_msg(bad == 0, "%s: %d of %d strings differ from the reference", name, bad, g.n);
    tok_golden_free(&g);
    tokenizer_free(&tk);
}

static void check_real(const char *name, int want_bos) {
    char path[256];
    snprintf(path, sizeof path, TOK_REAL_DIR "/%s/tokenizer.json", name);
    if (!tok_file_exists(path, name)) return;
    check_file(path, name, want_bos);
}

START_TEST(test_golden_gpt2) { check_real("gpt2", 0); }
END_TEST
START_TEST(test_golden_llama3) { check_real("llama3", 0); }
END_TEST
START_TEST(test_golden_mistral) { check_real("mistral", 1); }
END_TEST
START_TEST(test_golden_qwen3) { check_real("qwen3", 0); }
END_TEST

/* A real file with the value of one top-level key replaced by tests/golden/tokenizers/NAME.json
   (the replacement regen.mjs makes), written to a temp file and checked like the others. */
static void check_variant(const char *name, const char *base, const char *key, int want_bos) {
    char src[256], repl[256], pat[64];
    snprintf(src, sizeof src, TOK_REAL_DIR "/%s/tokenizer.json", base);
    snprintf(repl, sizeof repl, TOK_GOLDEN_DIR "/%s.json", name);
    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!tok_file_exists(src, name)) return;
    char *text, *value;
    size_t len, value_len;
    Error err = {0};
    ck_assert_int_eq(file_read_all(src, &text, &len, &err), STATUS_OK);
    ck_assert_int_eq(file_read_all(repl, &value, &value_len, &err), STATUS_OK);
    char *at = strstr(text, pat);
    ck_assert_ptr_nonnull(at);
    char *start = strchr(at, '{'), *end = start;     /* the value: an object without strings */
    for (int depth = 0; (depth += (*end == '{') - (*end == '}')) > 0; end++) {}
    char *path = tok_write_temp("", 0, ".json");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, (size_t)(start - text), f);
    fwrite(value, 1, value_len, f);
    fwrite(end + 1, 1, len - (size_t)(end + 1 - text), f);
    fclose(f);
    check_file(path, name, want_bos);
    tok_remove_temp(path);
    free(text), free(value);
}

START_TEST(test_golden_llama3_bos) { check_variant("llama3_bos", "llama3", "post_processor", 1); }
END_TEST
START_TEST(test_golden_gpt2_prefix) { check_variant("gpt2_prefix", "gpt2", "pre_tokenizer", 0); }
END_TEST
START_TEST(test_golden_gpt2_noregex) { check_variant("gpt2_noregex", "gpt2", "pre_tokenizer", 0); }
END_TEST

Suite *tokenizer_golden_suite(void) {
    Suite *s = suite_create("tokenizer_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_golden_gpt2);
    tcase_add_test(tc, test_golden_llama3);
    tcase_add_test(tc, test_golden_mistral);
    tcase_add_test(tc, test_golden_qwen3);
    tcase_add_test(tc, test_golden_llama3_bos);
    tcase_add_test(tc, test_golden_gpt2_prefix);
    tcase_add_test(tc, test_golden_gpt2_noregex);
    suite_add_tcase(s, tc);
    return s;
}
