/* cli/tokenize.h — `./train tokenize ...` (see tokenize.c for the usage).
   defines: tokenize_cli() */
#ifndef TOKENIZE_CLI_H
#define TOKENIZE_CLI_H
/* argv[0] is "tokenize"; returns the process exit status (0 ok, 1 error). */
int tokenize_cli(int argc, char **argv);
#endif
