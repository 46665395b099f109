/* cli/route.h — `./train route ...`: true experts per token and layer (see route.c).
   defines: route_cli() */
#ifndef ROUTE_CLI_H
#define ROUTE_CLI_H
/* argv[0] is "route"; returns the process exit status (0 ok, 1 bad input). */
int route_cli(int argc, char **argv);
#endif
