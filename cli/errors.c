/* cli/errors.c — see errors.h. */
#include "cli/errors.h"
#include <stdio.h>

void error_print(const Error *err) {
    fprintf(stderr, "error: %s\n", err->message);
    if (err->hint[0]) fprintf(stderr, "  hint: %s\n", err->hint);
}

int cli_exit_code(Status s) { return s == STATUS_OK ? 0 : s == STATUS_RUNTIME ? 2 : 1; }
