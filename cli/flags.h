/* cli/flags.h — declarative command-line flags, shared by every subcommand of ./train.
   defines: FlagType, Flag, flags_parse, flags_print_help, flags_load_config, FLAG_*
   Each subcommand lists its flags once (name, type, destination, help); the destination holds
   the default. The same table parses `--name value` / `--name=value`, prints `--help` with the
   defaults, and reads a `--config file.json` whose keys are the flag names (hyphens or
   underscores). Command-line values win over the config file. Unknown flags, missing values and
   malformed numbers are errors that name the flag and what was expected. */
#ifndef FLAGS_H
#define FLAGS_H
#include <stdio.h>
#include "tensor/status.h"

typedef enum { FLAG_INT, FLAG_DOUBLE, FLAG_STRING, FLAG_BOOL } FlagType;

typedef struct {
    const char *name;     /* without the leading "--" */
    FlagType type;
    void *ptr;            /* int*, double*, const char**, int* (bool) */
    const char *help;
    int seen;             /* set by flags_parse (command line) */
} Flag;

/* Parses argv[first..argc). Positional arguments are errors. `--help` sets *want_help. */
Status flags_parse(Flag *flags, int n, int argc, char **argv, int first, int *want_help, Error *err);
/* Applies a JSON config object; keys set on the command line (seen) are left alone. */
Status flags_load_config(Flag *flags, int n, const char *path, Error *err);
void flags_print_help(FILE *f, const char *usage, const Flag *flags, int n);

#endif
