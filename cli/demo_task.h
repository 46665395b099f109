/* cli/demo_task.h — synthetic task + byte tokenizer of the demo (see demo_task.c).
   defines: demo_write_tokenizer, demo_write_split, DEMO_INSTRUCTION */
#ifndef DEMO_TASK_H
#define DEMO_TASK_H
#include <stdint.h>
#include "tensor/status.h"

#define DEMO_INSTRUCTION "Solve."

Status demo_write_tokenizer(const char *path, Error *err);
/* n examples of "a + b mod modulus" (modulus 3 or 4) as mc_jsonl ({"question", "choices", "answer"}), from seed */
Status demo_write_split(const char *path, int n, int modulus, uint64_t seed, Error *err);

#endif
