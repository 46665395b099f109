/* cli/export.h — the `export` subcommand: a model you can take away (base + merged adapter).
   defines: export_cli */
#ifndef EXPORT_CLI_H
#define EXPORT_CLI_H
int export_cli(int argc, char **argv);
#endif
