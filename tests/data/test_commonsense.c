/* tests/data/test_commonsense.c — multiple-choice readers (data/commonsense.c,
   winogrande_hellaswag_scienceqa.c, mc_jsonl.c) on hand-written fixtures: AllenAI JSONL,
   LLM-Adapters instruction JSON, SIQA / PIQA with labels files, WinoGrande, HellaSwag
   (preprocessing checked against values worked out by hand and with Python's re/str semantics),
   ScienceQA text-only filter, mc_jsonl; malformed inputs name FILE:LINE; directory layouts incl.
   ARC's dev -> test fallback. */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"
#include "data/commonsense.h"

static const char *ARC_JSONL =
    "{\"id\": \"q1\", \"question\": {\"stem\": \"Which is hot?\", \"choices\": [{\"text\": \"ice\", \"label\": \"1\"}, "
    "{\"text\": \"snow\", \"label\": \"2\"}, {\"text\": \"fire\", \"label\": \"3\"}]}, \"answerKey\": \"3\"}\n"
    "\n"
    "{\"answerKey\": \"B\", \"id\": \"q2\", \"question\": {\"stem\": \"Pick B\", \"choices\": [{\"label\": \"A\", "
    "\"text\": \"a\"}, {\"label\": \"B\", \"text\": \"b\"}, {\"label\": \"C\", \"text\": \"c\"}, {\"label\": \"D\", "
    "\"text\": \"d\"}]}}\n";

START_TEST(test_mc_allenai)
{
    char *d = fx_dir();
    free(fx_write(d, "ARC-Easy-Dev.jsonl", ARC_JSONL));
    McDataset ds;
    fx_load("arc_easy", d, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "Which is hot?");
    ck_assert_int_eq(ds.ex[0].n_choices, 3);
    ck_assert_str_eq(ds.ex[0].choices[2], "fire");
    ck_assert_int_eq(ds.ex[0].label, 2);
    ck_assert_str_eq(ds.ex[0].id, "q1");
    ck_assert_int_eq(ds.ex[1].n_choices, 4);
    ck_assert_int_eq(ds.ex[1].label, 1);
    ck_assert_str_eq(ds.note, "");
    ck_assert_int_eq(ds.positive_choice, -1);
    mc_dataset_free(&ds);
    /* CSQA test: no answerKey -> -1 */
    char *p = fx_write(d, "t.jsonl", "{\"id\": \"x\", \"question\": {\"stem\": \"S\", \"choices\": [{\"label\": \"A\", "
                                     "\"text\": \"a\"}, {\"label\": \"B\", \"text\": \"b\"}]}}\n");
    fx_load("commonsense_qa", p, "test", &ds);
    ck_assert_int_eq(ds.ex[0].label, -1);
    mc_dataset_free(&ds);
    free(p);
    p = fx_write(d, "bad.jsonl", "{\"id\": \"x\", \"question\": {\"stem\": \"S\", \"choices\": [{\"label\": \"A\", "
                                 "\"text\": \"a\"}, {\"label\": \"B\", \"text\": \"b\"}]}, \"answerKey\": \"A\"}\n"
                                 "{\"id\": \"y\", \"question\": {\"stem\": \"S\", \"choices\": [{\"label\": \"A\", "
                                 "\"text\": \"a\"}, {\"label\": \"B\", \"text\": \"b\"}]}, \"answerKey\": \"F\"}\n");
    fx_load_fails("openbookqa", p, "dev", STATUS_FORMAT, "bad.jsonl:2:", "expected answerKey 'F'");
    free(p);
    p = fx_write(d, "bad2.jsonl", "{\"id\": \"x\", \"question\": \"flat\"}\n");
    fx_load_fails("openbookqa", p, "dev", STATUS_FORMAT, "bad2.jsonl:1:", "expected \"question\"");
    free(p);
    p = fx_write(d, "bad3.jsonl", "{\"id\": \"x\", \"question\": {\"stem\": \"S\", \"choices\": [{\"label\": \"A\", "
                                  "\"text\": \"a\"}, {\"label\": \"B\", \"text\": \"b\"}]}}\n\n{\"id\": \"y\",}\n");
    /* JSON syntax error on line 3 (line 2 is blank) */
    fx_load_fails("commonsense_qa", p, "dev", STATUS_FORMAT, "bad3.jsonl:3:", NULL);
    free(p);
    fx_rmtree(d);
}
END_TEST

static const char *LLMA_JSON =
    "[\n"
    "  {\"instruction\": \"Please choose the correct answer to the question: Why: is it?\\n\\nAnswer1: Because. "
    "Answer2: It is: so. Answer3: No Answer4: idea.\\n\\nAnswer format: answer1/answer2/answer3\", \"input\": \"\", "
    "\"output\": \"the correct answer is answer2\", \"answer\": \"answer2\"},\n"
    "  {\"instruction\": \"Please choose the correct answer to the question: Q2\\n\\nAnswer1: a Answer2: b "
    "Answer3: c Answer4: d Answer5: e\\n\\nAnswer format: answer1/answer2/answer3/answer4/answer5\", "
    "\"input\": \"\", \"output\": \"x\", \"answer\": \"answer5\"}\n"
    "]\n";

START_TEST(test_mc_llm_adapters)
{
    char *d = fx_dir();
    free(fx_write(d, "test.llm_adapters.json", LLMA_JSON));
    McDataset ds;
    fx_load("arc_challenge", d, "dev", &ds);   /* no dev file: falls back to test */
    ck_assert_msg(strstr(ds.note, "no dev split") != NULL, "note '%s'", ds.note);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "Why: is it?");
    ck_assert_int_eq(ds.ex[0].n_choices, 3);   /* "Answer4: idea." is text of choice 3 */
    ck_assert_str_eq(ds.ex[0].choices[0], "Because.");
    ck_assert_str_eq(ds.ex[0].choices[1], "It is: so.");
    ck_assert_str_eq(ds.ex[0].choices[2], "No Answer4: idea.");
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_int_eq(ds.ex[1].n_choices, 5);
    ck_assert_str_eq(ds.ex[1].choices[4], "e");
    ck_assert_int_eq(ds.ex[1].label, 4);
    mc_dataset_free(&ds);
    fx_load("arc_challenge", d, "test", &ds);
    ck_assert_str_eq(ds.note, "");
    mc_dataset_free(&ds);
    fx_load_fails("arc_challenge", d, "train", STATUS_IO, "ARC-Challenge-Train.jsonl", "train.llm_adapters.json");
    char *p = fx_write(d, "b.json", "[{\"instruction\": \"Q\\n\\nAnswer1: a Answer2: b\\n\\nAnswer format: "
                                    "answer1/answer2\", \"answer\": \"answer3\"}]");
    fx_load_fails("arc_easy", p, "test", STATUS_FORMAT, "b.json:1:", "expected answer answer1..answer2");
    free(p);
    p = fx_write(d, "c.json", "[\n{\"instruction\": \"Q\\n\\nAnswer format: answer1/answer2\", \"answer\": \"answer1\"}]");
    fx_load_fails("arc_easy", p, "test", STATUS_FORMAT, "c.json:2:", "expected the choice markers");
    free(p);
    fx_rmtree(d);
}
END_TEST

static const char *SIQA_JSONL =
    "{\"context\": \"Tracy stayed.\", \"question\": \"Why?\", \"answerA\": \"a\", \"answerB\": \"b\", \"answerC\": \"c\"}\n"
    "{\"context\": \"C2\", \"question\": \"Q2\", \"answerA\": \"x\", \"answerB\": \"y\", \"answerC\": \"z\"}\n";

START_TEST(test_mc_siqa_piqa)
{
    char *d = fx_dir();
    free(fx_write(d, "dev.jsonl", SIQA_JSONL));
    free(fx_write(d, "dev-labels.lst", "1\r\n3\r\n"));
    McDataset ds;
    fx_load("siqa", d, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "Tracy stayed.");
    ck_assert_str_eq(ds.ex[0].context2, "Why?");
    ck_assert_str_eq(ds.ex[0].choices[1], "b");
    ck_assert_int_eq(ds.ex[0].label, 0);
    ck_assert_int_eq(ds.ex[1].label, 2);
    ck_assert_int_eq(ds.n_files, 2);
    mc_dataset_free(&ds);
    free(fx_write(d, "dev-labels.lst", "2\n"));
    fx_load_fails("siqa", d, "dev", STATUS_FORMAT, "expected 2 labels", "got 1");
    free(fx_write(d, "dev-labels.lst", "2\n1\n3\n"));
    fx_load_fails("siqa", d, "dev", STATUS_FORMAT, "expected 2 labels", "got 3");
    free(fx_write(d, "dev-labels.lst", "2\n4\n"));
    fx_load_fails("siqa", d, "dev", STATUS_FORMAT, "dev-labels.lst:2:", "expected a label 1..3");
    free(fx_write(d, "train.jsonl", SIQA_JSONL));   /* no train-labels.lst */
    fx_load_fails("siqa", d, "train", STATUS_IO, "train-labels.lst", NULL);
    char *p = fx_write(d, "s.jsonl", "{\"context\": \"C\", \"question\": \"Q\", \"answerA\": \"a\", \"answerB\": \"b\"}\n");
    fx_load_fails("siqa", p, "test", STATUS_FORMAT, "s.jsonl:1:", "answerC");
    free(p);
    /* PIQA: 0-based labels */
    free(fx_write(d, "valid.jsonl", "{\"goal\": \"Open a jar\", \"sol1\": \"twist\", \"sol2\": \"lick\"}\n"
                                    "{\"goal\": \"G\", \"sol1\": \"s1\", \"sol2\": \"s2\"}\n"));
    free(fx_write(d, "valid-labels.lst", "0\n1\n"));
    fx_load("piqa", d, "dev", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "Open a jar");
    ck_assert_str_eq(ds.ex[0].choices[1], "lick");
    ck_assert_int_eq(ds.ex[0].label, 0);
    ck_assert_int_eq(ds.ex[1].label, 1);
    mc_dataset_free(&ds);
    free(fx_write(d, "valid-labels.lst", "0\n2\n"));
    fx_load_fails("piqa", d, "dev", STATUS_FORMAT, "valid-labels.lst:2:", "expected a label 0..1");
    fx_rmtree(d);
}
END_TEST

START_TEST(test_mc_winogrande_hellaswag)
{
    char *d = fx_dir();
    char *p = fx_write(d, "w.jsonl", "{\"qID\": \"w1\", \"sentence\": \"The cup fell because _ was full.\", "
                                     "\"option1\": \"cup\", \"option2\": \"table\", \"answer\": \"2\"}\n"
                                     "{\"qID\": \"w2\", \"sentence\": \"A _ b.\", \"option1\": \"x\", \"option2\": \"y\", "
                                     "\"answer\": \"\"}\n");
    McDataset ds;
    fx_load("winogrande", p, "dev", &ds);
    ck_assert_str_eq(ds.ex[0].context, "The cup fell because _ was full.");
    ck_assert_str_eq(ds.ex[0].choices[1], "table");
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_str_eq(ds.ex[0].id, "w1");
    ck_assert_int_eq(ds.ex[1].label, -1);
    mc_dataset_free(&ds);
    free(p);
    p = fx_write(d, "w2.jsonl", "{\"sentence\": \"no blank\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"1\"}\n");
    fx_load_fails("winogrande", p, "dev", STATUS_FORMAT, "w2.jsonl:1:", "'_'");
    free(p);
    p = fx_write(d, "h.jsonl",
                 "{\"ind\": \"h1\", \"activity_label\": \"Roof shingle removal\", \"ctx_a\": \"A man is on a roof.\", "
                 "\"ctx_b\": \"he IS\", \"endings\": [\"pulling [step] up  tiles.\", \" e2 \", \"e3 [title] x\", \"e4\"], "
                 "\"label\": 3}\n"
                 "{\"ctx\": \"Plain ctx\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": \"1\"}\n"
                 "{\"ctx\": \"T\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": \"\"}\n");
    fx_load("hellaswag", p, "dev", &ds);
    ck_assert_int_eq(ds.n, 3);
    /* "{act}: {ctx_a} {ctx_b.capitalize()}": capitalize lowercases the rest */
    ck_assert_str_eq(ds.ex[0].context, "Roof shingle removal: A man is on a roof. He is");
    ck_assert_str_eq(ds.ex[0].choices[0], "pulling up tiles.");   /* "[step]" dropped, "  " -> " " x2 */
    ck_assert_str_eq(ds.ex[0].choices[1], "e2");
    ck_assert_str_eq(ds.ex[0].choices[2], "e3. x");
    ck_assert_int_eq(ds.ex[0].label, 3);
    ck_assert_str_eq(ds.ex[1].context, "Plain ctx");
    ck_assert_int_eq(ds.ex[1].label, 1);
    ck_assert_int_eq(ds.ex[2].label, -1);
    mc_dataset_free(&ds);
    free(p);
    /* worked out with Python's str.strip / replace / re.sub(r"\[.*?\]", "") */
    char *s = hellaswag_preprocess(" [header] How to x [title] Foo  bar [step] baz ");
    ck_assert_str_eq(s, " How to x. Foo bar baz");
    free(s);
    s = hellaswag_preprocess("a   b [x\ny] c");   /* '.' does not cross a newline; one pass of "  " */
    ck_assert_str_eq(s, "a  b [x\ny] c");
    free(s);
    p = fx_write(d, "h2.jsonl", "{\"ctx\": \"T\", \"endings\": [\"a\", \"b\"], \"label\": 5}\n");
    fx_load_fails("hellaswag", p, "dev", STATUS_FORMAT, "h2.jsonl:1:", "endings");
    free(p);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_mc_scienceqa_mc_jsonl)
{
    char *d = fx_dir();
    fx_mkdir(d, "scienceqa");
    free(fx_write(d, "scienceqa/problems.json",
                  "{\"10\": {\"question\": \"Which is a metal?\", \"choices\": [\"wood\", \"iron\"], \"answer\": 1, "
                  "\"hint\": \"\", \"image\": null, \"split\": \"train\"},\n"
                  " \"11\": {\"question\": \"Look\", \"choices\": [\"a\", \"b\"], \"answer\": 0, \"hint\": \"\", "
                  "\"image\": \"image.png\", \"split\": \"train\"},\n"
                  " \"12\": {\"question\": \"Q\", \"choices\": [\"a\", \"b\", \"c\"], \"answer\": 2, \"hint\": \"H\", "
                  "\"image\": null, \"split\": \"val\"}}"));
    McDataset ds;
    fx_load("scienceqa", d, "train", &ds);   /* the image problem 11 is skipped */
    ck_assert_int_eq(ds.n, 1);
    ck_assert_str_eq(ds.ex[0].id, "10");
    ck_assert_str_eq(ds.ex[0].choices[1], "iron");
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_ptr_null(ds.ex[0].context2);
    mc_dataset_free(&ds);
    fx_load("scienceqa", d, "dev", &ds);
    ck_assert_int_eq(ds.n, 1);
    ck_assert_str_eq(ds.ex[0].id, "12");
    ck_assert_str_eq(ds.ex[0].context2, "H");
    ck_assert_int_eq(ds.ex[0].label, 2);
    mc_dataset_free(&ds);
    fx_load_fails("scienceqa", d, "test", STATUS_FORMAT, "expected at least one example", NULL);
    char *p = fx_write(d, "m.jsonl", "{\"question\": \"2+2?\", \"choices\": [\"3\", \"4\", \"5\"], \"answer\": 1}\n"
                                     "{\"question\": \"Q\", \"choices\": [\"x\", \"y\"]}\n");
    fx_load("mc_jsonl", p, "test", &ds);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.ex[0].context, "2+2?");
    ck_assert_int_eq(ds.ex[0].label, 1);
    ck_assert_int_eq(ds.ex[1].label, -1);
    mc_dataset_free(&ds);
    free(p);
    p = fx_write(d, "m2.jsonl", "{\"question\": \"Q\", \"choices\": [\"x\", \"y\"], \"answer\": 2}\n");
    fx_load_fails("mc_jsonl", p, "dev", STATUS_FORMAT, "m2.jsonl:1:", "expected \"answer\"");
    free(p);
    fx_rmtree(d);
}
END_TEST

Suite *data_mc_suite(void) {
    Suite *s = suite_create("data_mc");
    TCase *tc = tcase_create("mc");
    tcase_add_test(tc, test_mc_allenai);
    tcase_add_test(tc, test_mc_llm_adapters);
    tcase_add_test(tc, test_mc_siqa_piqa);
    tcase_add_test(tc, test_mc_winogrande_hellaswag);
    tcase_add_test(tc, test_mc_scienceqa_mc_jsonl);
    suite_add_tcase(s, tc);
    return s;
}
