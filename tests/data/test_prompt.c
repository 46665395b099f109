/* tests/data/test_prompt.c — data/prompt.c: the Alpaca / plain lettered prompts and the
   lm-eval per-choice pairs, compared with texts written out by hand from REFERENCE.md §5. */
#include "tests/support/suites.h"
#include "data/prompt.h"
#include <stdlib.h>
#include <string.h>

static McExample *add_ex(McDataset *ds, const char *ctx, const char *ctx2, const char *const *ch, int n, int label) {
    McExample *e = mc_dataset_add(ds);
    e->context = mc_strdup(ds, ctx);
    e->context2 = ctx2 ? mc_strdup(ds, ctx2) : NULL;
    mc_dataset_set_choices(ds, e, ch, n);
    e->label = label;
    return e;
}

static void expect_pair(const McDataset *ds, const McExample *e, int c, const char *ctx, const char *cont) {
    char *a, *b;
    prompt_choice_pair(ds, e, c, &a, &b);
    ck_assert_str_eq(a, ctx);
    ck_assert_str_eq(b, cont);
    free(a);
    free(b);
}

START_TEST(test_prompt_alpaca_arc)
{
    McDataset ds;
    mc_dataset_init(&ds, "arc_easy");
    const char *ch[3] = { "ice", "snow", "fire" };
    McExample *e = add_ex(&ds, "Which is hot?", NULL, ch, 3, 2);
    PromptConfig pc;
    prompt_config_default(&pc);
    ck_assert_int_eq(pc.max_len, 256);
    char *p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Below is an instruction that describes a task, paired with an input that provides further "
                        "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
                        "Choose the correct answer to the question.\n\n### Input:\nQuestion: Which is hot?\n"
                        "A. ice\nB. snow\nC. fire\n\n### Response:\nAnswer:");
    free(p);
    char a[4];
    prompt_answer_text(e->label, a);
    ck_assert_str_eq(a, " C");   /* the space belongs to the answer */
    prompt_answer_text(-1, a);
    ck_assert_str_eq(a, "");
    expect_pair(&ds, e, 2, "Question: Which is hot?\nAnswer:", " fire");
    strcpy(ds.task, "openbookqa");
    expect_pair(&ds, e, 0, "Which is hot?", " ice");
    mc_dataset_free(&ds);
}
END_TEST

START_TEST(test_prompt_rte_winogrande)
{
    McDataset ds;
    mc_dataset_init(&ds, "rte");
    const char *yn[2] = { "yes", "no" };
    McExample *e = add_ex(&ds, "P.", "H.", yn, 2, 0);
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.style = PROMPT_PLAIN;
    char *p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Does the premise entail the hypothesis?\nPremise: P.\nHypothesis: H.\nA. yes\nB. no\nAnswer:");
    free(p);
    expect_pair(&ds, e, 0, "P.\nQuestion: H. True or False?\nAnswer:", " True");   /* lm-eval verbaliser */
    expect_pair(&ds, e, 1, "P.\nQuestion: H. True or False?\nAnswer:", " False");
    mc_dataset_free(&ds);
    mc_dataset_init(&ds, "winogrande");
    const char *wo[2] = { "cup", "table" };
    e = add_ex(&ds, "The cup fell because _  was full. ", NULL, wo, 2, 1);
    expect_pair(&ds, e, 1, "The cup fell because table", " was full.");   /* partial scoring */
    pc.instruction = "Fill it.";
    p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Fill it.\nSentence: The cup fell because _  was full. \nA. cup\nB. table\nAnswer:");
    free(p);
    mc_dataset_free(&ds);
    mc_dataset_init(&ds, "cola");
    const char *ny[2] = { "no", "yes" };
    e = add_ex(&ds, "S.", NULL, ny, 2, 1);
    expect_pair(&ds, e, 1, "S.\nQuestion: Does this sentence make sense?\nAnswer:", " yes");
    mc_dataset_free(&ds);
}
END_TEST

START_TEST(test_prompt_siqa_csqa)
{
    McDataset ds;
    mc_dataset_init(&ds, "siqa");
    const char *abc[3] = { "a", "b", "c" };
    McExample *e = add_ex(&ds, "C.", "Why?", abc, 3, 0);
    expect_pair(&ds, e, 0, "Q: C. Why?\nA:", " a");
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.style = PROMPT_PLAIN;
    char *p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Choose the most appropriate answer to the question about the situation.\nContext: C.\n"
                        "Question: Why?\nA. a\nB. b\nC. c\nAnswer:");
    free(p);
    strcpy(ds.task, "commonsense_qa");   /* lm-eval CSQA scores the letters */
    expect_pair(&ds, e, 1, "Question: C.\nA. a\nB. b\nC. c\nAnswer:", " B");
    strcpy(ds.task, "scienceqa");          /* context2 = hint */
    p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Choose the correct answer to the question.\nContext: Why?\nQuestion: C.\nA. a\nB. b\nC. c\n"
                        "Answer:");
    free(p);
    mc_dataset_free(&ds);
}
END_TEST

Suite *data_prompt_suite(void) {
    Suite *s = suite_create("data_prompt");
    TCase *tc = tcase_create("prompt");
    tcase_add_test(tc, test_prompt_alpaca_arc);
    tcase_add_test(tc, test_prompt_rte_winogrande);
    tcase_add_test(tc, test_prompt_siqa_csqa);
    suite_add_tcase(s, tc);
    return s;
}
