/* cli/train_ranks.h — the train command on R ranks (mpirun -np R ./train train ..., built with
   make MPI=1; one process otherwise, where all of this changes nothing).
   defines: train_ranks_begin, train_ranks_threads, train_ranks_agree, train_ranks_fail
   Rank 0 alone prints and writes (config.json, metrics.jsonl, checkpoints, the adapter, the
   report): the other ranks' stdout goes to /dev/null and they get no --out. Failures: during
   setup (flags, loading, trainer_init, resume) no collective has run yet, so every rank passes
   through train_ranks_agree with its status and all stop together with a clean exit, the
   failure printed once; after training started, a failed rank may leave others waiting in a
   sum, so train_ranks_fail ends the whole job (MPI_Abort). */
#ifndef CLI_TRAIN_RANKS_H
#define CLI_TRAIN_RANKS_H
#include "tensor/status.h"

/* comm_init; silences stdout on ranks > 0 */
void train_ranks_begin(void);
/* --threads for this rank: the flag or $MOETRAIN_THREADS when given, else the CPUs divided
   among the ranks on this machine (0 = the pool's default when one rank runs here) */
int train_ranks_threads(int threads);
/* Collective: every rank's setup status; returns this rank's failure, or, when another rank
   failed, a failure that is not printed (the failing rank prints it; rank 0 first). */
Status train_ranks_agree(Status s, Error *err);
/* Prints err (rank 0 plainly, rank r as "rank r of R: error: ...", nothing when another rank
   prints the same setup failure) and returns the exit code; after a successful agreement with
   R > 1, ends every rank instead. */
int train_ranks_fail(const Error *err, Status s);

#endif
