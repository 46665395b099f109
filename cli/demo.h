/* cli/demo.h — `./train` with no arguments: the embedded demo.
   defines: demo_run, demo_banner */
#ifndef DEMO_H
#define DEMO_H
/* Builds a tiny model and a synthetic task in memory, fine-tunes it (see demo.c), prints a
   comparison table and writes runs/demo/. Returns an exit code. */
int demo_run(int argc, char **argv);
/* "moetrain VERSION  (real=float, simd=avx512, threads=2)": what `./train` alone prints first */
void demo_banner(const char *version);
#endif
