/* cli/train.h — the `train` subcommand. defines: train_cli */
#ifndef TRAIN_CLI_H
#define TRAIN_CLI_H
#include "cli/errors.h"
int train_cli(int argc, char **argv);
#endif
