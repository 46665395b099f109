/* data/prompt.h — prompt texts for training and evaluation (REFERENCE.md §5.3, §5.4).
   defines: PromptStyle, PromptConfig, PROMPT_FORMAT_VERSION, prompt_config_default,
            prompt_instruction, prompt_build, prompt_answer_text, prompt_letter,
            prompt_choice_pair
   Default (PROMPT_ALPACA): the Alpaca "with input" template of MoLA's templates/alpaca.json,
   the task instruction, the example with lettered options, and the response prefix "Answer:":

     Below is an instruction that describes a task, paired with an input that provides further
     context. Write a response that appropriately completes the request.\n\n### Instruction:\n
     {instruction}\n\n### Input:\n{body}A. {choice 0}\nB. {choice 1}...\n\n### Response:\nAnswer:

   (the header is one line; shown wrapped). {body} is task-specific, e.g. "Question: {q}\n"
   (ARC/OBQA/CSQA/mc_jsonl), "Premise: {s1}\nHypothesis: {s2}\n" (RTE), "Sentence: {s}\n"
   (CoLA, SST-2, WinoGrande), "Context: {c}\nQuestion: {q}\n" (SIQA, ScienceQA with a hint).
   PROMPT_PLAIN drops the Alpaca header: "{instruction}\n{body}A. ..\nB. ..\nAnswer:".
   The answer text is " X" (prompt_answer_text): the SPACE BELONGS TO THE ANSWER, so the
   prompt ends in ':' and the letter is the SentencePiece piece "▁X" / ByteLevel "ĠX", one token
   in Llama / GPT-2 vocabularies, predicted at the last prompt token (batch.h).
   lm-eval-style per-choice pairs (prompt_choice_pair) follow REFERENCE.md §5.1 per task. */
#ifndef PROMPT_H
#define PROMPT_H
#include "data/example.h"

/* bump when any template text changes: it is part of the token cache key */
#define PROMPT_FORMAT_VERSION 1

typedef enum { PROMPT_ALPACA = 0, PROMPT_PLAIN = 1 } PromptStyle;

typedef struct {
    PromptStyle style;         /* PROMPT_ALPACA */
    const char *instruction;   /* NULL = the task's default (prompt_instruction) */
    int max_len;               /* max tokens per example incl. BOS (+EOS); 0 = unlimited; 256 */
    int add_eos;               /* append EOS after the answer letter; 0 */
} PromptConfig;

void prompt_config_default(PromptConfig *pc);
/* The task's default instruction, e.g. "Does the premise entail the hypothesis?" (rte). */
const char *prompt_instruction(const char *task);
/* The prompt text for ex (malloc'ed), ending in "Answer:". */
char *prompt_build(const McDataset *ds, const McExample *ex, const PromptConfig *pc);
/* " A" for choice 0 ... into out (>= 3 bytes); "" for label < 0. */
void prompt_answer_text(int choice, char out[4]);
char prompt_letter(int choice);   /* 'A' + choice */

/* lm-eval pair for choice c: the model scores *continuation given *context (both malloc'ed);
   the continuation starts with the " " delimiter. Per task: arc "Question: {q}\nAnswer:" +
   " {choice}"; openbookqa "{q}"; commonsense_qa lettered options + "Answer:" + " A";
   piqa "Question: {goal}\nAnswer:"; siqa "Q: {context} {question}\nA:"; hellaswag "{ctx}";
   winogrande partial scoring: context = sentence[:blank] + option_c, continuation =
   " " + sentence[blank+1:].strip(); rte "{s1}\nQuestion: {s2} True or False?\nAnswer:" +
   " True" / " False"; cola "{s}\nQuestion: Does this sentence make sense?\nAnswer:";
   sst2 "{s}\nQuestion: Is this sentence positive or negative?\nAnswer:"; mrpc
   "Sentence 1: {s1}\nSentence 2: {s2}\nQuestion: Do both sentences mean the same thing?\n
   Answer:"; qnli "{q}\n{s}\nQuestion: Does this response answer the question?\nAnswer:";
   others "Question: {q}\nAnswer:". */
void prompt_choice_pair(const McDataset *ds, const McExample *ex, int c, char **context, char **continuation);

#endif
