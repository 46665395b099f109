/* cli/generate.h — `./train generate ...` (see generate.c for the usage).
   defines: generate_cli() */
#ifndef GENERATE_CLI_H
#define GENERATE_CLI_H
/* argv[0] is "generate"; returns the process exit status (0 ok, 1 bad input). */
int generate_cli(int argc, char **argv);
#endif
