/* tensor/comm.h — the process group of a data-parallel run: R processes ("ranks") that each
   hold a full copy of the model and together sum what they computed.
   defines: comm_init, comm_finalize, comm_abort, comm_rank, comm_size, comm_node_size,
            comm_sum_real, comm_sum_f64, comm_broadcast, comm_barrier, comm_backend
   Two implementations behind this one header; the Makefile links exactly one:
     tensor/comm_single.c  (default)      one process: rank 0 of 1, every collective a no-op;
     tensor/comm_mpi.c     (make MPI=1)   MPI_COMM_WORLD (Open MPI, MPICH), the only file that
                                          includes <mpi.h>.
   So the trainer never knows which one it runs on. Every function except comm_rank /
   comm_size / comm_node_size / comm_backend is COLLECTIVE: every rank must call it, in the same
   order, with the same sizes.
   Determinism: comm_sum_* never use MPI_Allreduce, whose summation order is implementation
   defined (it may depend on message timing or the chosen algorithm). Instead the block is cut
   into R chunks; rank j receives chunk j from every rank and adds the R copies in rank order
   0, 1, ..., R-1 (x_0 + x_1, then + x_2, ...); the summed chunks are then gathered. Every rank
   ends with the same bits, and the same inputs always give the same sum. Large blocks go in
   buckets (comm_mpi.c) so the scratch memory stays bounded. */
#ifndef COMM_H
#define COMM_H
#include <stddef.h>
#include "tensor/real.h"

/* Starts the group (MPI_Init under mpirun; one process otherwise). Idempotent: later calls do
   nothing. The group is finalised at exit (atexit) unless comm_abort ended it. */
void comm_init(int *argc, char ***argv);
/* Ends the group now (every rank must call it); later collectives are invalid. Idempotent. */
void comm_finalize(void);
/* For a failure on one rank while the others may sit in a collective: ends EVERY rank of the
   job with exit status `code` (MPI_Abort). With one process it does nothing and returns: the
   caller then exits as usual. Only cli/ calls it. */
void comm_abort(int code);

int comm_rank(void);        /* 0 .. R-1 (0 before comm_init) */
int comm_size(void);        /* R (1 before comm_init) */
int comm_node_size(void);   /* ranks on this machine (for the default thread count) */
const char *comm_backend(void);   /* "single" or "mpi" */

/* x[0..n) = Σ over ranks of every rank's x, in rank order (see the header), on every rank. */
void comm_sum_real(real *x, size_t n);
void comm_sum_f64(double *x, size_t n);
/* Copies root's bytes to every rank. */
void comm_broadcast(void *buf, size_t bytes, int root);
void comm_barrier(void);

#endif
