/* cli/train_ranks.c — the train command on R ranks (see train_ranks.h). */
#include "cli/train_ranks.h"
#include "cli/errors.h"
#include "tensor/comm.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int silent;     /* another rank prints this rank's (identical or causing) failure */
static int started;    /* the agreement passed: collectives may be under way */

void train_ranks_begin(void) {
    comm_init(NULL, NULL);
    if (comm_rank() > 0 && !freopen("/dev/null", "w", stdout)) {
        /* stdout stays open: this rank's lines repeat rank 0's, nothing worse */
    }
}

int train_ranks_threads(int threads) {
    const char *env = getenv("MOETRAIN_THREADS");
    int node = comm_node_size();
    if (threads > 0 || (env && *env) || node <= 1) return threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN) / node;   /* one rank per socket: its cores */
    return cpus >= 1 ? (int)cpus : 1;
}

Status train_ranks_agree(Status s, Error *err) {
    if (comm_size() == 1) return s;
    double v[2] = { s != STATUS_OK, comm_rank() == 0 && s != STATUS_OK };
    comm_sum_f64(v, 2);
    if (s) {
        silent = comm_rank() > 0 && v[1] > 0;   /* rank 0 failed too: it speaks for everyone */
        return s;
    }
    if (v[0] > 0) {
        silent = 1;
        return error_set(err, STATUS_INVALID, NULL, "another rank failed to set up");
    }
    started = 1;
    return STATUS_OK;
}

int train_ranks_fail(const Error *err, Status s) {
    if (!silent) {
        if (comm_rank() > 0) fprintf(stderr, "rank %d of %d: ", comm_rank(), comm_size());
        error_print(err);
    }
    fflush(stderr);
    if (started) comm_abort(cli_exit_code(s));
    return cli_exit_code(s);
}
