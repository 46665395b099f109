/* tests/test_helpers.h — small helpers several test files share.
   defines: CliFn, run_cli_captured, synthetic_parity_set, SYNTHETIC_N */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H
#include <stdint.h>
#include "../data/batch.h"

typedef int (*CliFn)(int argc, char **argv);

/* Runs fn(argc, argv) (argv NULL-terminated) with stdout captured into a malloc'd string *out;
   returns fn's exit status. */
int run_cli_captured(CliFn fn, char **argv, char **out);

#define SYNTHETIC_N 24
/* SYNTHETIC_N examples: BOS + 3..7 random prompt tokens (20..49) + the letter token (" A" = 10,
   " B" = 11); the label is the parity of the last prompt token, so it is learnable. Every letter
   is one token (the single-pass scorer). Free with tokenized_set_free. */
void synthetic_parity_set(TokenizedSet *ts, uint64_t seed);

#endif
