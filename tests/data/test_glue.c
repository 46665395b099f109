/* tests/data/test_glue.c — data/glue.c and task.c on hand-written GLUE fixtures: canonical
   TSV with literal quotes, the HF export with CSV quoting (embedded tab, newline, doubled
   quotes), BOM, CRLF, missing final newline, header-less CoLA and its split train files,
   malformed files (errors must name FILE:LINE and what was expected), split selection. */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"

START_TEST(test_glue_rte_canonical)
{
    char *d = fx_dir();
    char *p = fx_write(d, "dev.tsv",
                       "index\tsentence1\tsentence2\tlabel\r\n"
                       "0\tA man \"said\" hi.\tA man spoke.\tentailment\r\n"
                       "\r\n"
                       "7\t\"Quoted start\tH2\tnot_entailment");
    McDataset ds;
    fx_load("rte", d, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "A man \"said\" hi.");
    ck_assert_str_eq(ds.ex[0].context2, "A man spoke.");
    ck_assert_int_eq(ds.ex[0].label, 0);
    ck_assert_str_eq(ds.ex[0].id, "0");
    ck_assert_int_eq(ds.ex[0].n_choices, 2);
    ck_assert_str_eq(ds.ex[0].choices[0], "yes");
    ck_assert_str_eq(ds.ex[0].choices[1], "no");
    ck_assert_str_eq(ds.ex[1].context, "\"Quoted start");   /* canonical GLUE: no quoting */
    ck_assert_str_eq(ds.ex[1].context2, "H2");
    ck_assert_int_eq(ds.ex[1].label, 1);
    ck_assert_str_eq(ds.ex[1].id, "7");
    ck_assert_int_eq(ds.positive_choice, 1);
    ck_assert_str_eq(ds.source, p);
    ck_assert_str_eq(ds.task, "rte");
    mc_dataset_free(&ds);
    free(p);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_glue_rte_hf_quoted)
{
    char *d = fx_dir();
    char *p = fx_write(d, "train.hf.tsv",
                       "sentence1\tsentence2\tlabel\tidx\n"
                       "\"He said \"\"hi\"\"\tthere\"\tH1\t0\t0\n"
                       "\"two\nlines\"\tH2\t1\t1\n"
                       "P3\t\"\"\"q\"\"\"\t1\t2\n");
    McDataset ds;
    fx_load("rte", d, "train", &ds);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_str_eq(ds.ex[0].context, "He said \"hi\"\tthere");
    ck_assert_str_eq(ds.ex[0].context2, "H1");
    ck_assert_int_eq(ds.ex[0].label, 0);   /* HF rte: 0 = entailment = "yes" */
    ck_assert_str_eq(ds.ex[1].context, "two\nlines");
    ck_assert_int_eq(ds.ex[1].label, 1);
    ck_assert_str_eq(ds.ex[2].context2, "\"q\"");
    ck_assert_str_eq(ds.ex[2].id, "2");
    mc_dataset_free(&ds);
    free(p);
    /* an unterminated quote is reported on the line where the field starts */
    p = fx_write(d, "train.hf.tsv", "sentence1\tsentence2\tlabel\tidx\nP\tH\t0\t0\n\"open\tH\t1\t1\n");
    fx_load_fails("rte", p, "train", STATUS_FORMAT, "train.hf.tsv:3:", "expected a closing");
    free(p);
    p = fx_write(d, "train.hf.tsv", "sentence1\tsentence2\tlabel\tidx\n\"a\"b\tH\t0\t0\n");
    fx_load_fails("rte", p, "train", STATUS_FORMAT, "train.hf.tsv:2:", "expected a tab");
    free(p);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_glue_mrpc_sst2_qnli)
{
    char *d = fx_dir();
    char *p = fx_write(d, "m.tsv",
                       "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                       "1\t11\t12\t\"Quoted start\tB \"x\"\n"
                       "0\t21\t22\tC\t\"D\"\n");
    McDataset ds;
    fx_load("mrpc", p, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "\"Quoted start");
    ck_assert_str_eq(ds.ex[0].context2, "B \"x\"");
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_str_eq(ds.ex[0].choices[1], "yes");
    ck_assert_str_eq(ds.ex[1].context2, "\"D\"");   /* literal quotes kept in canonical files */
    ck_assert_int_eq(ds.ex[1].label, 0);
    mc_dataset_free(&ds);
    free(p);
    p = fx_write(d, "s.tsv", "sentence\tlabel\nit 's good . \t1\nbad \t0\n");
    fx_load("sst2", p, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "it 's good . ");
    ck_assert_ptr_null(ds.ex[0].context2);
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_str_eq(ds.ex[0].choices[0], "negative");
    ck_assert_str_eq(ds.ex[0].choices[1], "positive");
    ck_assert_int_eq(ds.ex[1].label, 0);
    mc_dataset_free(&ds);
    free(p);
    p = fx_write(d, "q.tsv", "index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\tnot_entailment\n");
    fx_load("qnli", p, "dev", &ds);
    ck_assert_str_eq(ds.ex[0].context, "Who?");
    ck_assert_str_eq(ds.ex[0].context2, "Him.");
    ck_assert_int_eq(ds.ex[0].label, 1);
    mc_dataset_free(&ds);
    free(p);
    p = fx_write(d, "t.tsv", "index\tsentence\n0\tno label here\n");   /* test split: no labels */
    fx_load("sst2", p, "test", &ds);
    ck_assert_int_eq(ds.ex[0].label, -1);
    mc_dataset_free(&ds);
    free(p);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_glue_cola)
{
    char *d = fx_dir();
    char *p = fx_write(d, "dev.tsv", "gj04\t1\t\tGood sentence.\ngj04\t0\t*\tBad sentence bad.");
    McDataset ds;
    fx_load("cola", d, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "Good sentence.");
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_str_eq(ds.ex[0].choices[0], "no");
    ck_assert_str_eq(ds.ex[0].choices[1], "yes");   /* label 1 = acceptable = "yes" */
    ck_assert_str_eq(ds.ex[1].context, "Bad sentence bad.");
    ck_assert_int_eq(ds.ex[1].label, 0);
    ck_assert_str_eq(ds.ex[1].id, "dev.tsv:2");
    ck_assert_int_eq(ds.positive_choice, 1);
    mc_dataset_free(&ds);
    free(p);
    /* split train files are concatenated in part order (written in reverse order here) */
    free(fx_write(d, "train_part2_of_2.tsv", "s\t0\t*\tThird.\n"));
    free(fx_write(d, "train_part1_of_2.tsv", "s\t1\t\tFirst.\ns\t1\t\tSecond.\n"));
    fx_load("cola", d, "train", &ds);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_int_eq(ds.n_files, 2);
    ck_assert_str_eq(ds.ex[0].context, "First.");
    ck_assert_str_eq(ds.ex[1].context, "Second.");
    ck_assert_str_eq(ds.ex[2].context, "Third.");
    ck_assert_int_eq(ds.ex[2].label, 0);
    mc_dataset_free(&ds);
    p = fx_write(d, "test.tsv", "index\tsentence\n0\tA test sentence.\n");
    fx_load("cola", d, "test", &ds);
    ck_assert_int_eq(ds.n, 1);
    ck_assert_str_eq(ds.ex[0].context, "A test sentence.");
    ck_assert_int_eq(ds.ex[0].label, -1);
    mc_dataset_free(&ds);
    free(p);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_glue_malformed)
{
    char *d = fx_dir();
    char *p = fx_write(d, "a.tsv", "index\tsentence1\tlabel\n0\tP\tentailment\n");
    fx_load_fails("rte", p, "dev", STATUS_FORMAT, "a.tsv:1:", "expected a 'sentence2' column");
    free(p);
    p = fx_write(d, "b.tsv", "index\tsentence1\tsentence2\tlabel\n0\tP\tH\tentailment\n1\tP\tH\tmaybe\n");
    fx_load_fails("rte", p, "dev", STATUS_FORMAT, "b.tsv:3:", "expected label");
    free(p);
    p = fx_write(d, "c.tsv", "index\tsentence1\tsentence2\tlabel\n0\tP\tentailment\n");
    fx_load_fails("rte", p, "dev", STATUS_FORMAT, "c.tsv:2:", "expected 4 tab-separated fields, got 3");
    free(p);
    p = fx_write(d, "d.tsv", "s\t1\t\tOk.\ns\t2\t\tBad label.\n");
    fx_load_fails("cola", p, "dev", STATUS_FORMAT, "d.tsv:2:", "expected label 0 or 1, got '2'");
    free(p);
    p = fx_write(d, "e.tsv", "s\t1\t\tOk.\ns\t1\tThree fields.\n");
    fx_load_fails("cola", p, "dev", STATUS_FORMAT, "e.tsv:2:", "expected 4 tab-separated fields");
    free(p);
    p = fx_write(d, "f.tsv", "");
    fx_load_fails("sst2", p, "dev", STATUS_FORMAT, "f.tsv", "empty");
    free(p);
    p = fx_write(d, "g.tsv", "sentence\tlabel\n");   /* header only: no examples */
    fx_load_fails("sst2", p, "dev", STATUS_FORMAT, "g.tsv", "expected at least one example");
    free(p);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_glue_split_selection)
{
    char *d = fx_dir();
    fx_mkdir(d, "glue");
    fx_mkdir(d, "glue/RTE");
    free(fx_write(d, "glue/RTE/train.hf.tsv", "sentence1\tsentence2\tlabel\tidx\nP\tH\t1\t0\n"));
    McDataset ds;
    fx_load("rte", d, "train", &ds);   /* data root: glue/RTE found */
    ck_assert_int_eq(ds.n, 1);
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_msg(strstr(ds.source, "glue/RTE/train.hf.tsv") != NULL, "%s", ds.source);
    mc_dataset_free(&ds);
    fx_load_fails("rte", d, "dev", STATUS_IO, "looked for dev.tsv, dev.hf.tsv", "glue/RTE");
    fx_load_fails("cola", d, "train", STATUS_IO, "train_part1_of_N.tsv", NULL);
    fx_load_fails("nope", d, "train", STATUS_INVALID, "unknown task 'nope'", NULL);
    fx_load_fails("rte", d, "training", STATUS_INVALID, "unknown split 'training'", NULL);
    fx_load_fails("rte", "/nonexistent/x", "dev", STATUS_IO, "/nonexistent/x", NULL);
    /* canonical train.tsv is preferred over the HF export when both exist */
    free(fx_write(d, "glue/RTE/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tC\tH\tentailment\n"));
    fx_load("rte", d, "train", &ds);
    ck_assert_str_eq(ds.ex[0].context, "C");
    mc_dataset_free(&ds);
    ck_assert(task_is_known("hellaswag") && !task_is_known("glue"));
    fx_rmtree(d);
}
END_TEST

Suite *data_glue_suite(void) {
    Suite *s = suite_create("data_glue");
    TCase *tc = tcase_create("glue");
    tcase_add_test(tc, test_glue_rte_canonical);
    tcase_add_test(tc, test_glue_rte_hf_quoted);
    tcase_add_test(tc, test_glue_mrpc_sst2_qnli);
    tcase_add_test(tc, test_glue_cola);
    tcase_add_test(tc, test_glue_malformed);
    tcase_add_test(tc, test_glue_split_selection);
    suite_add_tcase(s, tc);
    return s;
}
