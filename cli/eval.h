/* cli/eval.h — the `eval` subcommand. defines: eval_cli */
#ifndef EVAL_CLI_H
#define EVAL_CLI_H
int eval_cli(int argc, char **argv);
#endif
