/* tensor/threads.c — persistent pthreads pool (see threads.h).
   A job is published by bumping `generation`; workers spin briefly (jobs come in quick
   succession during a training step) and then sleep on a condition variable. */
#include "tensor/threads.h"
#include "tensor/check.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define THREADS_MAX 256
#define SPIN_ITERS 20000

typedef struct {
    pthread_t tid[THREADS_MAX];
    int n;                                /* threads incl. the caller */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_ulong generation;
    atomic_int pending;                   /* workers still running the current job */
    atomic_int stop;
    unsigned long start_generation;       /* generation when the workers were created */
    ParallelFn fn;
    void *ctx;
    long n_items, grain;
} Pool;

static Pool pool = { .n = 0, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
static _Thread_local int in_worker = 0;

/* Range of part `i` of `parts` over n items in units of grain. */
static void part_range(long n, long grain, int parts, int i, long *b, long *e) {
    long units = (n + grain - 1) / grain;
    long ub = units * i / parts, ue = units * (i + 1) / parts;
    *b = ub * grain;
    *e = ue * grain < n ? ue * grain : n;
    if (*b > n) *b = n;
}

static void run_part(int i) {
    long b, e;
    part_range(pool.n_items, pool.grain, pool.n, i, &b, &e);
    if (b < e) pool.fn(pool.ctx, b, e);
}

static void *worker_main(void *arg) {
    int idx = (int)(long)arg;
    in_worker = 1;
    unsigned long seen = pool.start_generation;   /* not the live value: a job may already be out */
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen && !atomic_load(&pool.stop)) {
            if (++spins < SPIN_ITERS) continue;
            pthread_mutex_lock(&pool.mu);
            while (atomic_load(&pool.generation) == seen && !atomic_load(&pool.stop))
                pthread_cond_wait(&pool.cv, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load(&pool.stop)) return NULL;
        seen = atomic_load(&pool.generation);
        run_part(idx);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
}

void threads_shutdown(void) {
    if (pool.n <= 1) { pool.n = 0; return; }
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.stop, 1);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i < pool.n; i++) pthread_join(pool.tid[i], NULL);
    atomic_store(&pool.stop, 0);
    pool.n = 0;
}

static int default_threads(void) {
    const char *env = getenv("MOETRAIN_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
}

void threads_init(int n) {
    threads_shutdown();
    if (n <= 0) n = default_threads();
    if (n > THREADS_MAX) n = THREADS_MAX;
    pool.n = n;
    pool.start_generation = atomic_load(&pool.generation);
    for (int i = 1; i < n; i++) {
        int rc = pthread_create(&pool.tid[i], NULL, worker_main, (void *)(long)i);
        CHECK(rc == 0, "pthread_create failed for worker %d of %d", i, n);
    }
}

int threads_count(void) {
    if (pool.n == 0) threads_init(0);
    return pool.n;
}

void parallel_for_chunks(long n, long grain, ParallelFn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int nt = threads_count();
    if (nt == 1 || in_worker || n <= grain) { fn(ctx, 0, n); return; }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_items = n;
    pool.grain = grain;
    atomic_store(&pool.pending, nt - 1);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    in_worker = 1;
    run_part(0);
    in_worker = 0;
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) { /* spin: parts are short */ }
}

void parallel_for(long n, ParallelFn fn, void *ctx) { parallel_for_chunks(n, 1, fn, ctx); }
