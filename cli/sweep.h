/* cli/sweep.h — the `sweep` subcommand (paper-style ablation grid). defines: sweep_cli */
#ifndef SWEEP_CLI_H
#define SWEEP_CLI_H
int sweep_cli(int argc, char **argv);
#endif
