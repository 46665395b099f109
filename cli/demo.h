/* cli/demo.h — `./train` with no arguments: the embedded demo.
   defines: demo_run */
#ifndef DEMO_H
#define DEMO_H
/* Builds a tiny model and a synthetic task in memory, fine-tunes it (see demo.c), prints a
   comparison table and writes runs/demo/. Returns an exit code. */
int demo_run(int argc, char **argv);
#endif
