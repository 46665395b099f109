/* tests/data/test_token_cache.c — data/token_cache.c: round trip of a TokenizedSet, keys that follow
   the tokenizer bytes, the data bytes and the prompt settings, and rejection of stale,
   corrupt (flipped byte: checksum) and truncated cache files; FNV-1a 64 test vector. */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"
#include "tests/support/data_tiny_tok.h"
#include "data/token_cache.h"

typedef struct {
    char *dir, *tok_path, *data_path, cache[512];
    Tokenizer tk;
    McDataset ds;
    PromptConfig pc;
    TokenizedSet ts;
    uint64_t th, dh;
} CacheFx;

static void fx_setup(CacheFx *f) {
    f->dir = fx_dir();
    f->tok_path = tiny_tokenizer(f->dir, &f->tk);
    f->data_path = fx_write(f->dir, "dev.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 1}\n"
                                                 "{\"question\": \"qq\", \"choices\": [\"x\", \"y\", \"z\"]}\n");
    fx_load("mc_jsonl", f->dir, "dev", &f->ds);
    plain_config(&f->pc);
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&f->ds, &f->tk, &f->pc, &f->ts, &err), STATUS_OK);
    ck_assert_int_eq(token_cache_keys(f->tok_path, &f->ds, &f->pc, &f->th, &f->dh, &err), STATUS_OK);
    snprintf(f->cache, sizeof f->cache, "%s/cache.bin", f->dir);
}

static void fx_teardown(CacheFx *f) {
    tokenized_set_free(&f->ts);
    mc_dataset_free(&f->ds);
    tokenizer_free(&f->tk);
    free(f->tok_path);
    free(f->data_path);
    fx_rmtree(f->dir);
}

START_TEST(test_cache_round_trip_and_stale)
{
    CacheFx f;
    fx_setup(&f);
    TokenizedSet back;
    Error err = { 0 };
    ck_assert_int_eq(token_cache_load(f.cache, f.th, f.dh, &back, &err), STATUS_IO);   /* no cache yet */
    ck_assert_int_eq(token_cache_save(f.cache, f.th, f.dh, &f.ts, &err), STATUS_OK);
    ck_assert_msg(token_cache_load(f.cache, f.th, f.dh, &back, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(back.n, 2);
    ck_assert_uint_eq(back.n_ids, f.ts.n_ids);
    ck_assert(memcmp(back.ids, f.ts.ids, f.ts.n_ids * sizeof(int)) == 0);
    for (int i = 0; i <= 2; i++) ck_assert_uint_eq(back.offset[i], f.ts.offset[i]);
    ck_assert_int_eq(back.prompt_len[1], f.ts.prompt_len[1]);
    ck_assert_int_eq(back.label[1], -1);
    ck_assert_int_eq(back.n_choices[1], 3);
    ck_assert_int_eq(back.letter_ids[2], SLET + 2);
    ck_assert_int_eq(back.letters_ok, 1);
    ck_assert_int_eq(back.bos_id, 1);
    tokenized_set_free(&back);
    ck_assert_int_eq(token_cache_load(f.cache, f.th + 1, f.dh, &back, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "stale") != NULL, "%s", err.message);
    ck_assert_int_eq(token_cache_load(f.cache, f.th, f.dh ^ 1, &back, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "stale") != NULL, "%s", err.message);
    ck_assert_ptr_null(back.ids);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_cache_keys_and_corruption)
{
    CacheFx f;
    fx_setup(&f);
    Error err = { 0 };
    uint64_t th2, dh2;
    ck_assert_int_eq(token_cache_keys(f.tok_path, &f.ds, &f.pc, &th2, &dh2, &err), STATUS_OK);
    ck_assert(th2 == f.th && dh2 == f.dh);   /* same inputs, same keys */
    f.pc.max_len = 128;
    ck_assert_int_eq(token_cache_keys(f.tok_path, &f.ds, &f.pc, &th2, &dh2, &err), STATUS_OK);
    ck_assert(th2 == f.th && dh2 != f.dh);
    f.pc.max_len = 0;
    free(fx_write(f.dir, "dev.jsonl", "{\"question\": \"Q\", \"choices\": [\"x\", \"y\"], \"answer\": 1}\n"
                                      "{\"question\": \"qq\", \"choices\": [\"x\", \"y\", \"z\"]}\n"));
    ck_assert_int_eq(token_cache_keys(f.tok_path, &f.ds, &f.pc, &th2, &dh2, &err), STATUS_OK);
    ck_assert(th2 == f.th && dh2 != f.dh);   /* one byte of data changed */
    ck_assert_int_eq(token_cache_save(f.cache, f.th, f.dh, &f.ts, &err), STATUS_OK);
    FILE *fp = fopen(f.cache, "r+b");   /* flip a bit inside the stored ids */
    fseek(fp, -12, SEEK_END);
    int ch = fgetc(fp);
    fseek(fp, -12, SEEK_END);
    fputc(ch ^ 0x40, fp);
    fclose(fp);
    TokenizedSet back;
    ck_assert_int_eq(token_cache_load(f.cache, f.th, f.dh, &back, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "corrupt") != NULL, "%s", err.message);
    ck_assert_ptr_null(back.ids);
    ck_assert_int_eq(truncate(f.cache, 40), 0);
    ck_assert_int_eq(token_cache_load(f.cache, f.th, f.dh, &back, &err), STATUS_FORMAT);
    ck_assert(fnv1a64("a", 1, FNV64_INIT) == 0xaf63dc4c8601ec8cull);   /* published FNV-1a 64 vector */
    fx_teardown(&f);
}
END_TEST

START_TEST(test_cache_get_or_build)
{
    CacheFx f;
    fx_setup(&f);
    Error err = { 0 };
    TokenizedSet a;
    int hit = -1;
    ck_assert_int_eq(dataset_tokenize_cached(&f.ds, &f.tk, f.tok_path, &f.pc, f.cache, &a, &hit, &err), STATUS_OK);
    ck_assert_int_eq(hit, 0);   /* built and saved */
    tokenized_set_free(&a);
    ck_assert_int_eq(dataset_tokenize_cached(&f.ds, &f.tk, f.tok_path, &f.pc, f.cache, &a, &hit, &err), STATUS_OK);
    ck_assert_int_eq(hit, 1);   /* loaded */
    ck_assert_uint_eq(a.n_ids, f.ts.n_ids);
    ck_assert(memcmp(a.ids, f.ts.ids, f.ts.n_ids * sizeof(int)) == 0);
    tokenized_set_free(&a);
    f.pc.add_eos = 1;           /* other prompt settings: the cache is stale, rebuilt */
    ck_assert_int_eq(dataset_tokenize_cached(&f.ds, &f.tk, f.tok_path, &f.pc, f.cache, &a, &hit, &err), STATUS_OK);
    ck_assert_int_eq(hit, TOKEN_CACHE_REBUILT);
    ck_assert_msg(strstr(err.message, "stale"), "%s", err.message);
    ck_assert_int_eq(a.answer_len[0], 2);
    tokenized_set_free(&a);
    ck_assert_int_eq(truncate(f.cache, 100), 0);   /* corrupt: rebuilt, never trusted, with the reason */
    ck_assert_int_eq(dataset_tokenize_cached(&f.ds, &f.tk, f.tok_path, &f.pc, f.cache, &a, &hit, &err), STATUS_OK);
    ck_assert_int_eq(hit, TOKEN_CACHE_REBUILT);
    ck_assert_msg(strstr(err.message, f.cache), "%s", err.message);
    ck_assert_int_eq(a.answer_len[0], 2);
    tokenized_set_free(&a);
    FILE *fp = fopen(f.cache, "r+b");             /* one flipped bit in the ids: the checksum sees it */
    fseek(fp, -20, SEEK_END);
    int c = fgetc(fp);
    fseek(fp, -20, SEEK_END);
    fputc(c ^ 4, fp);
    fclose(fp);
    ck_assert_int_eq(dataset_tokenize_cached(&f.ds, &f.tk, f.tok_path, &f.pc, f.cache, &a, &hit, &err), STATUS_OK);
    ck_assert_int_eq(hit, TOKEN_CACHE_REBUILT);
    ck_assert_msg(strstr(err.message, "corrupt") || strstr(err.message, "checksum"), "%s", err.message);
    ck_assert_int_eq(a.answer_len[0], 2);
    tokenized_set_free(&a);
    ck_assert_int_eq(dataset_tokenize_cached(&f.ds, &f.tk, f.tok_path, &f.pc, f.cache, &a, &hit, &err), STATUS_OK);
    ck_assert_int_eq(hit, 1);
    tokenized_set_free(&a);
    fx_teardown(&f);
}
END_TEST

Suite *data_cache_suite(void) {
    Suite *s = suite_create("data_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, test_cache_round_trip_and_stale);
    tcase_add_test(tc, test_cache_keys_and_corruption);
    tcase_add_test(tc, test_cache_get_or_build);
    suite_add_tcase(s, tc);
    return s;
}
