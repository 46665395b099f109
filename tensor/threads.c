/* tensor/threads.c — persistent pthreads pool (see threads.h).
   A job is published by bumping `generation`; workers spin briefly (jobs come in quick
   succession during a training step) and then sleep on a condition variable. */
#include "tensor/threads.h"
#include "tensor/check.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS_MAX 256
/* polls before a worker sleeps, about 0.1-0.2 ms: long enough that the short serial parts between
   two parallel GEMVs of a decode step (a routed linear's router, selection and rank-R experts)
   do not put the workers to sleep and make the next GEMV pay their wake-up. With 20000 (tens of
   us), Mo-LoRA / AdaMoE decoding at 2 threads ran at 0.79 of dense speed, with 200000 at 0.91
   (medians of 3 interleaved `bench --generate` runs); training steps were unchanged. */
#define SPIN_ITERS 200000
/* A shared machine: with more runnable threads than CPUs, a pure spin can hold the CPU that
   the thread it waits for needs. The caller polls WAIT_SPINS times (~20-50 us) before yielding
   on every poll; a waiting worker yields every YIELD_EVERY polls. An idle machine never yields
   a part that is on time; sched_yield returns at once when nothing else wants the CPU. */
#define WAIT_SPINS 20000
#define YIELD_EVERY 16384

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
    const int *cum;                       /* parallel_for_weighted's running work, else NULL */
    int accounting;                       /* time every part (threads_set_accounting) */
    double part_cpu[THREADS_MAX];         /* thread CPU seconds of each part of the current job */
    double excess, imbalance;             /* caller's region time beyond the longest part; Σ max - mean */
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

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* first item t in [0, n] with cum[t] >= w (cum nondecreasing): binary search */
static long first_at(const int *cum, long n, long w) {
    long lo = 0, hi = n;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (cum[mid] >= w) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

void weighted_part_range(long n, const int *cum, int parts, int i, long *b, long *e) {
    long total = cum[n];
    if (total <= 0) {
        part_range(n, 1, parts, i, b, e);
        return;
    }
    *b = i == 0 ? 0 : first_at(cum, n, (total * i + parts - 1) / parts);
    *e = i == parts - 1 ? n : first_at(cum, n, (total * (i + 1) + parts - 1) / parts);
}

static void run_part(int i) {
    long b, e;
    if (pool.cum) weighted_part_range(pool.n_items, pool.cum, pool.n, i, &b, &e);
    else part_range(pool.n_items, pool.grain, pool.n, i, &b, &e);
    double c0 = pool.accounting ? thread_cpu() : 0;
    if (b < e) pool.fn(pool.ctx, b, e);
    if (pool.accounting) pool.part_cpu[i] = thread_cpu() - c0;
}

void threads_set_accounting(int on) {
    pool.accounting = on;
    pool.excess = pool.imbalance = 0;
}

double threads_critical_seconds(void) { return thread_cpu() - pool.excess; }
double threads_imbalance_seconds(void) { return pool.imbalance; }

/* after a region: its caller-side time beyond the longest part, and max - mean of the parts */
static void account_region(double c0) {
    double mx = 0, sum = 0;
    for (int i = 0; i < pool.n; i++) {
        mx = pool.part_cpu[i] > mx ? pool.part_cpu[i] : mx;
        sum += pool.part_cpu[i];
    }
    pool.excess += thread_cpu() - c0 - mx;
    pool.imbalance += mx - sum / pool.n;
}

static void *worker_main(void *arg) {
    int idx = (int)(long)arg;
    in_worker = 1;
    unsigned long seen = pool.start_generation;   /* not the live value: a job may already be out */
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen && !atomic_load(&pool.stop)) {
            if (++spins < SPIN_ITERS) {
                if (spins % YIELD_EVERY == 0) sched_yield();     /* let a descheduled caller run */
                continue;
            }
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

static void run_job(long n, long grain, const int *cum, ParallelFn fn, void *ctx) {
    int nt = pool.n;
    double c0 = pool.accounting ? thread_cpu() : 0;
    pool.cum = cum;
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
    /* spin: parts are short; but past WAIT_SPINS polls a worker is likely descheduled (other
       processes on the CPUs) and may be waiting for THIS CPU: yield it on every poll from then on */
    for (long spins = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; spins++)
        if (spins >= WAIT_SPINS) sched_yield();
    if (pool.accounting) account_region(c0);
}

void parallel_for_chunks(long n, long grain, ParallelFn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int nt = threads_count();
    if (nt == 1 || in_worker || n <= grain) { fn(ctx, 0, n); return; }
    run_job(n, grain, NULL, fn, ctx);
}

void parallel_for_weighted(long n, const int *cum, ParallelFn fn, void *ctx) {
    if (n <= 0) return;
    int nt = threads_count();
    if (nt == 1 || in_worker || n == 1) { fn(ctx, 0, n); return; }
    run_job(n, 1, cum, fn, ctx);
}

void parallel_for(long n, ParallelFn fn, void *ctx) { parallel_for_chunks(n, 1, fn, ctx); }

static void zero_range(void *ctx, long begin, long end) { memset((char *)ctx + begin, 0, (size_t)(end - begin)); }

void parallel_memzero(void *p, size_t bytes) {
    if (bytes >= PARALLEL_ZERO_BYTES) parallel_for_chunks((long)bytes, 1L << 16, zero_range, p);
    else memset(p, 0, bytes);
}
