/* tensor/comm_single.c — the one-process group (the default build; comm.h): rank 0 of 1, and a
   sum over one rank is the block itself, so every collective returns at once. */
#include "tensor/comm.h"

void comm_init(int *argc, char ***argv) { (void)argc; (void)argv; }
void comm_finalize(void) {}
void comm_abort(int code) { (void)code; }
int comm_rank(void) { return 0; }
int comm_size(void) { return 1; }
int comm_node_size(void) { return 1; }
const char *comm_backend(void) { return "single"; }
void comm_sum_real(real *x, size_t n) { (void)x; (void)n; }
void comm_sum_f64(double *x, size_t n) { (void)x; (void)n; }
void comm_broadcast(void *buf, size_t bytes, int root) { (void)buf; (void)bytes; (void)root; }
void comm_barrier(void) {}
