/* data/prompt.c — Alpaca-style lettered prompts and lm-eval per-choice pairs (see prompt.h). */
#include "data/prompt.h"
#include "tensor/check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ALPACA_HEADER[] =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n";

void prompt_config_default(PromptConfig *pc) {
    memset(pc, 0, sizeof *pc);
    pc->style = PROMPT_ALPACA;
    pc->max_len = 256;
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

const char *prompt_instruction(const char *task) {
    if (is(task, "rte")) return "Does the premise entail the hypothesis?";
    if (is(task, "qnli")) return "Does the sentence answer the question?";
    if (is(task, "cola")) return "Is the following sentence grammatically acceptable?";
    if (is(task, "sst2")) return "What is the sentiment of the following sentence?";
    if (is(task, "mrpc")) return "Do the two sentences have the same meaning?";
    if (is(task, "siqa")) return "Choose the most appropriate answer to the question about the situation.";
    if (is(task, "piqa")) return "Choose the better solution to achieve the goal.";
    if (is(task, "winogrande")) return "Choose the option that correctly fills the blank (_) in the sentence.";
    if (is(task, "hellaswag")) return "Choose the most plausible continuation of the text.";
    return "Choose the correct answer to the question.";
}

char prompt_letter(int choice) { return (char)('A' + choice); }

void prompt_answer_text(int choice, char out[4]) {
    if (choice < 0) {
        out[0] = '\0';
        return;
    }
    out[0] = ' ';
    out[1] = prompt_letter(choice);
    out[2] = '\0';
}

/* the task-specific lines before the options */
static void write_body(FILE *f, const char *task, const McExample *ex) {
    const char *c2 = ex->context2 ? ex->context2 : "";
    if (is(task, "rte")) fprintf(f, "Premise: %s\nHypothesis: %s\n", ex->context, c2);
    else if (is(task, "qnli")) fprintf(f, "Question: %s\nSentence: %s\n", ex->context, c2);
    else if (is(task, "mrpc")) fprintf(f, "Sentence 1: %s\nSentence 2: %s\n", ex->context, c2);
    else if (is(task, "cola") || is(task, "sst2") || is(task, "winogrande")) fprintf(f, "Sentence: %s\n", ex->context);
    else if (is(task, "piqa")) fprintf(f, "Goal: %s\n", ex->context);
    else if (is(task, "hellaswag")) fprintf(f, "Text: %s\n", ex->context);
    else if (is(task, "siqa")) fprintf(f, "Context: %s\nQuestion: %s\n", ex->context, c2);
    else if (ex->context2) fprintf(f, "Context: %s\nQuestion: %s\n", ex->context2, ex->context);
    else fprintf(f, "Question: %s\n", ex->context);
}

static void write_options(FILE *f, const McExample *ex) {
    for (int i = 0; i < ex->n_choices; i++)
        fprintf(f, "%s%c. %s", i ? "\n" : "", prompt_letter(i), ex->choices[i]);
}

char *prompt_build(const McDataset *ds, const McExample *ex, const PromptConfig *pc) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL, "open_memstream failed");
    const char *ins = pc && pc->instruction ? pc->instruction : prompt_instruction(ds->task);
    if (!pc || pc->style == PROMPT_ALPACA) {
        fprintf(f, "%s%s\n\n### Input:\n", ALPACA_HEADER, ins);
        write_body(f, ds->task, ex);
        write_options(f, ex);
        fputs("\n\n### Response:\nAnswer:", f);
    } else {
        fprintf(f, "%s\n", ins);
        write_body(f, ds->task, ex);
        write_options(f, ex);
        fputs("\nAnswer:", f);
    }
    CHECK(fclose(f) == 0, "prompt stream failed");
    return buf;
}

static char *xstrdup_fmt(const char *fmt, const char *a, const char *b) {
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, fmt, a, b ? b : "");
    return s;
}

/* WinoGrande partial scoring (lm-eval): context = sentence[:blank] + option */
static void winogrande_pair(const McExample *ex, int c, char **context, char **continuation) {
    const char *s = ex->context, *u = strchr(s, '_');
    CHECK(u != NULL, "winogrande sentence without '_'");
    size_t pre = (size_t)(u - s), lo = strlen(ex->choices[c]);
    *context = xmalloc(pre + lo + 1);
    memcpy(*context, s, pre);
    memcpy(*context + pre, ex->choices[c], lo + 1);
    const char *b = u + 1, *e = u + strlen(u);
    while (*b == ' ' || *b == '\t' || *b == '\n') b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
    *continuation = xmalloc((size_t)(e - b) + 2);
    (*continuation)[0] = ' ';
    memcpy(*continuation + 1, b, (size_t)(e - b));
    (*continuation)[1 + (e - b)] = '\0';
}

void prompt_choice_pair(const McDataset *ds, const McExample *ex, int c, char **context, char **continuation) {
    CHECK(c >= 0 && c < ex->n_choices, "choice %d of %d", c, ex->n_choices);
    const char *t = ds->task, *c2 = ex->context2 ? ex->context2 : "";
    const char *choice = ex->choices[c];
    char letter[4];
    if (is(t, "winogrande")) {
        winogrande_pair(ex, c, context, continuation);
        return;
    }
    if (is(t, "commonsense_qa")) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f != NULL, "open_memstream failed");
        fprintf(f, "Question: %s\n", ex->context);
        write_options(f, ex);
        fputs("\nAnswer:", f);
        CHECK(fclose(f) == 0, "prompt stream failed");
        *context = buf;
        prompt_answer_text(c, letter);
        *continuation = xstrdup_fmt("%s%s", letter, NULL);
        return;
    }
    if (is(t, "rte")) choice = c == 0 ? "True" : "False";   /* lm-eval: label 0 = entailment = True */
    if (is(t, "openbookqa") || is(t, "hellaswag")) *context = xstrdup_fmt("%s%s", ex->context, NULL);
    else if (is(t, "siqa")) *context = xstrdup_fmt("Q: %s %s\nA:", ex->context, c2);
    else if (is(t, "rte")) *context = xstrdup_fmt("%s\nQuestion: %s True or False?\nAnswer:", ex->context, c2);
    else if (is(t, "cola"))
        *context = xstrdup_fmt("%s\nQuestion: Does this sentence make sense?\nAnswer:%s", ex->context, NULL);
    else if (is(t, "sst2"))
        *context = xstrdup_fmt("%s\nQuestion: Is this sentence positive or negative?\nAnswer:%s", ex->context, NULL);
    else if (is(t, "mrpc"))
        *context = xstrdup_fmt("Sentence 1: %s\nSentence 2: %s\nQuestion: Do both sentences mean the same thing?\n"
                               "Answer:", ex->context, c2);
    else if (is(t, "qnli"))
        *context = xstrdup_fmt("%s\n%s\nQuestion: Does this response answer the question?\nAnswer:", ex->context, c2);
    else *context = xstrdup_fmt("Question: %s\nAnswer:%s", ex->context, NULL);
    *continuation = xstrdup_fmt(" %s%s", choice, NULL);
}
