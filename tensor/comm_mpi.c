/* tensor/comm_mpi.c — the process group on MPI (make MPI=1; comm.h): MPI_COMM_WORLD. The only
   file of the project that includes <mpi.h>. MPI is called from the main thread alone (the
   pthreads pool never calls it): MPI_THREAD_FUNNELED. A transport failure ends the job through
   MPI's default handler (MPI_ERRORS_ARE_FATAL), which prints its own message.

   The deterministic sum (comm.h), per bucket of at most BUCKET elements:
     1. reduce-scatter by hand: the bucket is cut into R near-equal chunks (chunk j = elements
        [n·j/R, n·(j+1)/R)); MPI_Alltoallv sends chunk j of every rank to rank j, which then
        holds R copies of its chunk, one per rank, in rank order;
     2. rank j adds them in rank order (copy 0, + copy 1, + copy 2, ...) into its chunk;
     3. MPI_Allgatherv gives every rank every summed chunk.
   Each rank sends and receives 2·(R-1)/R of the bucket, like a ring allreduce, and the result
   does not depend on timing, on the MPI library or on its algorithm choice: with the same
   inputs, the same bits on every rank and in every run. */
#include "tensor/comm.h"
#include "tensor/check.h"
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKET ((size_t)1 << 20)   /* elements per bucket: 4 MB of floats; scratch <= BUCKET */

static int g_init, g_rank, g_size = 1, g_node = 1;
static void *g_scratch;            /* R received chunks of one bucket */
static size_t g_scratch_bytes;
static int *g_counts;              /* [4R]: chunk counts, chunk offsets, receive counts, offsets */

static void finalize_at_exit(void) { comm_finalize(); }

void comm_init(int *argc, char ***argv) {
    int done = 0;
    MPI_Initialized(&done);
    if (g_init || done) return;
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;   /* the ranks that share this machine's memory */
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g_node);
    MPI_Comm_free(&node);
    g_counts = xmalloc(4 * (size_t)g_size * sizeof(int));
    g_init = 1;
    atexit(finalize_at_exit);
}

void comm_finalize(void) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!g_init || fin) return;
    MPI_Finalize();
    free(g_scratch);
    free(g_counts);
    g_scratch = NULL;
    g_counts = NULL;
    g_scratch_bytes = 0;
}

void comm_abort(int code) {
    if (g_init && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int comm_rank(void) { return g_rank; }
int comm_size(void) { return g_size; }
int comm_node_size(void) { return g_node; }
const char *comm_backend(void) { return "mpi"; }

/* one element type of the sum: its MPI type, its size and acc[i] += x[i] */
typedef struct {
    MPI_Datatype type;
    size_t elem;
    void (*add)(void *acc, const void *x, size_t n);
} SumKind;

static void add_real(void *acc, const void *x, size_t n) {
    real *a = acc;
    const real *b = x;
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

static void add_f64(void *acc, const void *x, size_t n) {
    double *a = acc;
    const double *b = x;
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

/* steps 1-3 of the file header on x[0..n), n <= BUCKET */
static void sum_bucket(char *x, size_t n, const SumKind *k) {
    int R = g_size, *cnt = g_counts, *off = cnt + R, *rcnt = off + R, *roff = rcnt + R;
    for (int j = 0; j < R; j++) {
        size_t lo = n * (size_t)j / (size_t)R, hi = n * (size_t)(j + 1) / (size_t)R;
        cnt[j] = (int)(hi - lo);
        off[j] = (int)lo;
    }
    int mine = cnt[g_rank];
    for (int i = 0; i < R; i++) {
        rcnt[i] = mine;
        roff[i] = i * mine;
    }
    size_t need = (size_t)R * (size_t)mine * k->elem;
    if (need > g_scratch_bytes) {
        free(g_scratch);
        g_scratch = xmalloc(need);
        g_scratch_bytes = need;
    }
    MPI_Alltoallv(x, cnt, off, k->type, g_scratch, rcnt, roff, k->type, MPI_COMM_WORLD);
    char *acc = x + (size_t)off[g_rank] * k->elem, *copies = g_scratch;
    memcpy(acc, copies, (size_t)mine * k->elem);                 /* rank 0's copy */
    for (int i = 1; i < R; i++) k->add(acc, copies + (size_t)i * mine * k->elem, (size_t)mine);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, cnt, off, k->type, MPI_COMM_WORLD);
}

static void sum_block(void *x, size_t n, const SumKind *k) {
    if (g_size <= 1) return;
    CHECK(g_init, "comm_sum before comm_init");
    for (size_t b = 0; b < n; b += BUCKET)
        sum_bucket((char *)x + b * k->elem, n - b < BUCKET ? n - b : BUCKET, k);
}

void comm_sum_real(real *x, size_t n) {
    SumKind k = { sizeof(real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT, sizeof(real), add_real };
    sum_block(x, n, &k);
}

void comm_sum_f64(double *x, size_t n) {
    SumKind k = { MPI_DOUBLE, sizeof(double), add_f64 };
    sum_block(x, n, &k);
}

void comm_broadcast(void *buf, size_t bytes, int root) {
    if (g_size <= 1) return;
    for (size_t o = 0; o < bytes; o += (size_t)INT32_MAX) {   /* MPI counts are int */
        size_t n = bytes - o < (size_t)INT32_MAX ? bytes - o : (size_t)INT32_MAX;
        MPI_Bcast((char *)buf + o, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void comm_barrier(void) {
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
}
