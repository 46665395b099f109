/* cli/bench.h — the `./train bench` command (option parsing and dispatch to bench/).
   defines: bench_main */
#ifndef CLI_BENCH_H
#define CLI_BENCH_H

/* argv[0] is "bench". Returns the process exit status. */
int bench_main(int argc, char **argv);

#endif
