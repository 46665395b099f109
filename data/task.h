/* data/task.h — load a named task's split from a directory (or an explicit file).
   defines: TASK_NAMES, task_is_known, task_load
   Tasks: rte cola sst2 mrpc qnli arc_easy arc_challenge openbookqa commonsense_qa siqa piqa
          winogrande hellaswag scienceqa mc_jsonl
   Splits: "train", "dev" (aliases "val", "valid", "validation"), "test".
   data_path:
     a regular file  read with the task's reader (ARC/OBQA/CSQA: a file whose first non-space
                     byte is '[' is the LLM-Adapters JSON array, otherwise AllenAI JSONL; SIQA /
                     PIQA: labels from "X-labels.lst" next to "X.jsonl", optional only for test);
     a directory     if it has a subdirectory named like the dataset (RTE, CoLA, SST-2, MRPC,
                     QNLI, ARC-Easy, ARC-Challenge, openbookqa, commonsense_qa, social_iqa, piqa,
                     winogrande, hellaswag, scienceqa), optionally under glue/ or commonsense/,
                     that one is used (so the root of ../shared/data works); then the first
                     existing file of the split's candidate list is read:
       GLUE      train: train.tsv, train.hf.tsv (CoLA also train_part1_of_N.tsv .. partN,
                 concatenated in part order); dev: dev.tsv, dev.hf.tsv; test: test.tsv
       ARC       ARC-Easy-Train.jsonl / ARC-Challenge-Dev.jsonl ..., train.jsonl,
                 train.llm_adapters.json (same for dev / test); no dev file -> "dev" reads
                 the test split and ds->note says so (LLM-Adapters ARC has no dev split)
       OBQA      train.jsonl, dev.jsonl, test.jsonl
       CSQA      train.jsonl, train_rand_split.jsonl; dev: valid.jsonl, dev.jsonl,
                 dev_rand_split.jsonl; test: test.jsonl, test_rand_split_no_answers.jsonl
       SIQA      train.jsonl + train-labels.lst; dev.jsonl + dev-labels.lst; test.jsonl
       PIQA      train.jsonl + train-labels.lst; valid.jsonl / dev.jsonl + labels; tests.jsonl
       WinoGrande train_xl.jsonl, train.jsonl; dev.jsonl; test.jsonl
       HellaSwag hellaswag_{train,val,test}.jsonl, {train,val,dev,valid,test}.jsonl
       ScienceQA {train,val,test}.jsonl / .json, else problems.json filtered by "split"
       mc_jsonl  train.jsonl; dev.jsonl, valid.jsonl, val.jsonl; test.jsonl
   A missing split is STATUS_IO naming the directory and every file looked for. */
#ifndef TASK_H
#define TASK_H
#include "data/example.h"
#include "tensor/status.h"

#define TASK_NAMES "rte cola sst2 mrpc qnli arc_easy arc_challenge openbookqa commonsense_qa " \
                   "siqa piqa winogrande hellaswag scienceqa mc_jsonl"

int task_is_known(const char *task);
/* Fills *out (initialised here; free with mc_dataset_free, also after an error). */
Status task_load(const char *task, const char *data_path, const char *split, McDataset *out, Error *err);

#endif
