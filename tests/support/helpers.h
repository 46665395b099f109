/* tests/support/helpers.h — small helpers several test files share.
   defines: CliFn, run_cli_captured, run_cli_concat, run_cli_expect_error, synthetic_parity_set,
            SYNTHETIC_N, xorshift_unit */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H
#include <stdint.h>
#include "data/batch.h"
#include "tensor/real.h"

typedef int (*CliFn)(int argc, char **argv);

/* Runs fn(argc, argv) (argv NULL-terminated) with stdout captured into a malloc'd string *out;
   returns fn's exit status. */
int run_cli_captured(CliFn fn, char **argv, char **out);
/* run_cli_captured of argv = head + extra (NULL-terminated lists; extra may be NULL); out may be
   NULL (output discarded). */
int run_cli_concat(CliFn fn, char *const *head, char *const *extra, char **out);
/* fn(head + extra) must exit 1 with an error on stderr that contains want (Check assertions). */
void run_cli_expect_error(CliFn fn, char *const *head, char *const *extra, const char *want);

/* the next value in [-1, 1) of a xorshift64 stream (*state != 0): cheap test data for kernels */
real xorshift_unit(uint64_t *state);

#define SYNTHETIC_N 24
/* SYNTHETIC_N examples: BOS + 3..7 random prompt tokens (20..49) + the letter token (" A" = 10,
   " B" = 11); the label is the parity of the last prompt token, so it is learnable. Every letter
   is one token (the single-pass scorer). Free with tokenized_set_free. */
void synthetic_parity_set(TokenizedSet *ts, uint64_t seed);

#endif
