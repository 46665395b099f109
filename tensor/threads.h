/* tensor/threads.h — a small persistent pthreads pool with a deterministic parallel_for.
   defines: ParallelFn, threads_init, threads_count, threads_shutdown, parallel_for,
            parallel_for_chunks, parallel_for_weighted, weighted_part_range, parallel_memzero,
            threads_set_accounting, threads_critical_seconds, threads_imbalance_seconds
   Work [0, n) is cut into fixed contiguous ranges, one per thread, that depend only on n and
   the thread count; callers give each range disjoint outputs and never reduce floats across
   ranges, so results are bitwise identical for any thread count. The calling thread takes part.
   A parallel_for issued from inside a worker runs serially (no nested parallelism).
   Thread count: threads_init(n) with n > 0, else $MOETRAIN_THREADS, else the number of CPUs. */
#ifndef THREADS_H
#define THREADS_H
#include <stddef.h>

typedef void (*ParallelFn)(void *ctx, long begin, long end);

void threads_init(int n);         /* (re)starts the pool; n <= 0 means "from env / CPUs" */
int  threads_count(void);         /* starts the pool with defaults on first use */
void threads_shutdown(void);
/* Runs fn(ctx, b, e) over [0, n) split into threads_count() near-equal ranges. */
void parallel_for(long n, ParallelFn fn, void *ctx);
/* Same, but ranges are whole multiples of `grain` items (the last may be shorter). */
void parallel_for_chunks(long n, long grain, ParallelFn fn, void *ctx);

/* Same, but the ranges balance WORK instead of items: cum [n + 1] is the running total of the
   items' work (cum[0] = 0, nondecreasing, cum[n] = total), and part i of p takes the items whose
   work starts in [total·i/p, total·(i+1)/p) (weighted_part_range). For rows with unequal numbers
   of routed experts (cum = a routing's row_start). The ranges still depend only on cum and the
   thread count, are contiguous and disjoint, and cover [0, n). With total 0, as parallel_for. */
void parallel_for_weighted(long n, const int *cum, ParallelFn fn, void *ctx);

/* memset(p, 0, bytes), on the pool from PARALLEL_ZERO_BYTES on (disjoint 64 KB-aligned ranges;
   serial inside a worker): the per-step gradient buffers, whose zeroing is otherwise serial. */
#define PARALLEL_ZERO_BYTES ((size_t)1 << 20)
void parallel_memzero(void *p, size_t bytes);
void weighted_part_range(long n, const int *cum, int parts, int i, long *b, long *e);

/* Measurement (bench --expert-time at several threads). With accounting on, every part of a
   parallel region is timed in the CPU time of the thread that runs it, and
   threads_critical_seconds() is the calling thread's CPU time with each region's share replaced
   by its LONGEST part: the region's cost on dedicated cores (its wall time less the wake-up
   latency). On a shared machine that leaves out the time a part waited for a descheduled thread,
   so A/B comparisons at N threads stay stable under load; serial code counts as itself.
   threads_imbalance_seconds() sums, over regions, the longest part minus the mean part (the time
   an even split would save). Call from the thread that issues the parallel_for calls. */
void threads_set_accounting(int on);
double threads_critical_seconds(void);
double threads_imbalance_seconds(void);

#endif
