/* tensor/threads.h — a small persistent pthreads pool with a deterministic parallel_for.
   defines: ParallelFn, threads_init, threads_count, threads_shutdown, parallel_for,
            parallel_for_chunks
   Work [0, n) is cut into fixed contiguous ranges, one per thread, that depend only on n and
   the thread count; callers give each range disjoint outputs and never reduce floats across
   ranges, so results are bitwise identical for any thread count. The calling thread takes part.
   A parallel_for issued from inside a worker runs serially (no nested parallelism).
   Thread count: threads_init(n) with n > 0, else $MOETRAIN_THREADS, else the number of CPUs. */
#ifndef THREADS_H
#define THREADS_H

typedef void (*ParallelFn)(void *ctx, long begin, long end);

void threads_init(int n);         /* (re)starts the pool; n <= 0 means "from env / CPUs" */
int  threads_count(void);         /* starts the pool with defaults on first use */
void threads_shutdown(void);
/* Runs fn(ctx, b, e) over [0, n) split into threads_count() near-equal ranges. */
void parallel_for(long n, ParallelFn fn, void *ctx);
/* Same, but ranges are whole multiples of `grain` items (the last may be shorter). */
void parallel_for_chunks(long n, long grain, ParallelFn fn, void *ctx);

#endif
