/* cli/forward_backward.h — `./train forward-backward` (cli/forward_backward.c) and `./train make-tiny`
   (cli/make_tiny.c): the C side of the PyTorch parity check and its fixture generator.
   defines: forward_backward_cli, make_tiny_cli (argv[0] = the command name; 0 ok, 1 error) */
#ifndef PARITY_CLI_H
#define PARITY_CLI_H

int forward_backward_cli(int argc, char **argv);
int make_tiny_cli(int argc, char **argv);

#endif
