/* cli/train.h — the `train` subcommand. defines: train_cli, cli_exit_code */
#ifndef TRAIN_CLI_H
#define TRAIN_CLI_H
#include "tensor/status.h"
int train_cli(int argc, char **argv);
/* 0 for STATUS_OK, 2 for STATUS_RUNTIME, 1 for every input/format error */
int cli_exit_code(Status s);
#endif
