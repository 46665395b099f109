/* cli/errors.h — how a command reports a failed Status: the message on stderr and the exit code.
   defines: error_print, cli_exit_code
   The library fills an Error (tensor/status.h) and returns; only commands print and exit. */
#ifndef CLI_ERRORS_H
#define CLI_ERRORS_H
#include "tensor/status.h"

/* "error: <message>\n  hint: <hint>" on stderr */
void error_print(const Error *err);
/* 0 for STATUS_OK, 2 for STATUS_RUNTIME, 1 for every input/format error */
int cli_exit_code(Status s);

#endif
