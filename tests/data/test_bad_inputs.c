/* tests/data/test_bad_inputs.c — regressions for the inputs the fuzzing found: a dataset
   that fails half-way leaves nothing allocated; RTE train / dev files without labels and labels
   outside the choices are errors naming the file; a llama2.c header with vocab INT_MIN is an
   error (not abs(INT_MIN)); one huge id in tokenizer.json is refused instead of sizing tables
   by it; non-finite numbers are written as JSON null. */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"
#include "tests/support/tok_fixtures.h"
#include "data/json.h"
#include "nn/checkpoint.h"
#include <limits.h>
#include <math.h>
#include <stdint.h>

/* the third row is malformed: the two rows read before must not stay allocated */
START_TEST(test_failed_load_frees_what_it_read)
{
    char *d = fx_dir();
    free(fx_write(d, "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t0\n1\tc\td\t1\n2\te\tf\tmaybe\n"));
    McDataset ds;
    Error err;
    ck_assert_int_eq(task_load("rte", d, "train", &ds, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "train.tsv:4") && strstr(err.message, "maybe"), "%s", err.message);
    ck_assert_int_eq(ds.n, 0);
    ck_assert_ptr_null(ds.ex);
    ck_assert_ptr_null(ds.pool);
    mc_dataset_free(&ds);                      /* still safe for callers that free anyway */
    fx_rmtree(d);
}
END_TEST

START_TEST(test_rte_without_labels_is_an_error)
{
    char *d = fx_dir();
    const char *nolabel = "index\tsentence1\tsentence2\n0\ta\tb\n1\tc\td\n";
    free(fx_write(d, "train.tsv", nolabel));
    free(fx_write(d, "dev.tsv", nolabel));
    free(fx_write(d, "test.tsv", nolabel));
    fx_load_fails("rte", d, "train", STATUS_FORMAT, "train.tsv: none of its 2 examples has a label", "train split");
    fx_load_fails("rte", d, "dev", STATUS_FORMAT, "dev.tsv: none of its 2 examples has a label", "dev split");
    McDataset ds;
    fx_load("rte", d, "test", &ds);            /* test files ship without labels */
    ck_assert_int_eq(ds.n, 2);
    ck_assert_int_eq(ds.ex[0].label, -1);
    mc_dataset_free(&ds);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_label_outside_choices_is_an_error)
{
    char *d = fx_dir();
    free(fx_write(d, "train.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 0}\n"
                                    "{\"question\": \"r\", \"choices\": [\"x\", \"y\"], \"answer\": 2}\n"));
    fx_load_fails("mc_jsonl", d, "train", STATUS_FORMAT, "train.jsonl", "2");
    fx_rmtree(d);
}
END_TEST

/* the fuzzer's first find: a labels line of LONG_MIN overflowed strtol(...) - base */
START_TEST(test_labels_line_long_min)
{
    char *d = fx_dir();
    free(fx_write(d, "train.jsonl", "{\"context\": \"C\", \"question\": \"Q\", \"answerA\": \"a\", \"answerB\": \"b\", "
                                    "\"answerC\": \"c\"}\n{\"context\": \"D\", \"question\": \"R\", \"answerA\": \"x\", "
                                    "\"answerB\": \"y\", \"answerC\": \"z\"}\n"));
    free(fx_write(d, "train-labels.lst", "1\n-9223372036854775808\n"));
    fx_load_fails("siqa", d, "train", STATUS_FORMAT, "train-labels.lst:2", "expected a label 1..3");
    fx_rmtree(d);
}
END_TEST

/* llama2.c v0 header: dim, hidden, layers, heads, kv_heads, vocab (negative: unshared), seq */
START_TEST(test_llama2c_vocab_int_min)
{
    int32_t h[7] = { 8, 16, 1, 2, 2, INT32_MIN, 16 };
    char *path = tok_write_temp(h, sizeof h, ".bin");
    LlamaModel m;
    AdapterConfig a = { .kind = ADAPTER_NONE };
    Error err;
    ck_assert_int_eq(model_load(&m, path, &a, 0, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "vocab size -2147483648 at offset 20") && strstr(err.message, path), "%s", err.message);
    tok_remove_temp(path);
}
END_TEST

/* 3 vocab entries and one id of 100,000,000: refused, naming the id and the bound (262) */
START_TEST(test_tokenizer_json_huge_id)
{
    const char *json = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 100000000},"
                       " \"merges\": [\"a b\"]}}";
    char *path = tok_write_temp(json, strlen(json), ".json");
    Tokenizer tk;
    Error err;
    ck_assert_int_eq(tokenizer_load(&tk, path, 0, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "token id 100000000") && strstr(err.message, "below 262") && strstr(err.message, path),
                  "%s", err.message);
    tok_remove_temp(path);
}
END_TEST

START_TEST(test_json_number_never_nan)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    double v[5] = { 1.5, NAN, -NAN, INFINITY, -INFINITY };
    for (int i = 0; i < 5; i++) {
        json_write_number(f, "%.9g", v[i]);
        fputc(i < 4 ? ',' : '\n', f);
    }
    fclose(f);
    ck_assert_str_eq(buf, "1.5,null,null,null,null\n");
    free(buf);
}
END_TEST

Suite *bad_inputs_suite(void) {
    Suite *s = suite_create("bad_inputs");
    TCase *tc = tcase_create("regress");
    tcase_add_test(tc, test_failed_load_frees_what_it_read);
    tcase_add_test(tc, test_rte_without_labels_is_an_error);
    tcase_add_test(tc, test_label_outside_choices_is_an_error);
    tcase_add_test(tc, test_labels_line_long_min);
    tcase_add_test(tc, test_llama2c_vocab_int_min);
    tcase_add_test(tc, test_tokenizer_json_huge_id);
    tcase_add_test(tc, test_json_number_never_nan);
    suite_add_tcase(s, tc);
    return s;
}
