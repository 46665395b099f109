/* bench/bench_gemm.c — fp32 FMA peak loop and GEMM throughput on the shapes of a training step.
   defines: bench_gemm
   Peak: independent FMA chains held in registers (24 zmm for avx512, 12 ymm for avx2, 8 scalar
   chains otherwise, per gemm_simd_level()), run on 1 thread and on every pool thread at once.
   GEMM: GFLOP/s = 2*M*N*K / best time over several repetitions after a warm-up, at 1 thread and
   at all threads. pct_peak = GFLOP/s / (peak loop at the same thread count) * 100.
   Shapes (tokens = 1024, d_in = 288, d_out in {288, 768, 32000}):
     forward  y = x W^T      M=tokens N=d_out K=d_in   trans_b=1 (W is [d_out, d_in]), beta 0
     dX       dx = dy W      M=tokens N=d_in  K=d_out  trans_b=0, beta 1 (accumulate)
     dW       dW = dy^T x    M=d_out  N=d_in  K=tokens trans_a=1, beta 1 (accumulate)
     LoRA     rank 8         M=tokens N=d_in  K=8      trans_b=1 (memory-bound, report only)
   plus 1024^3 and the forward shapes with bf16 W. JSON lines:
     {"bench":"peak","threads":T,"gflops":G}
     {"bench":"gemm","m":M,"n":N,"k":K,"trans_a":0,"trans_b":1,"b_dtype":"f32","threads":T,
      "gflops":G,"pct_peak":P} */
#include "bench/bench.h"
#include "tensor/gemm.h"
#include "tensor/half.h"
#include "tensor/threads.h"
#include "tensor/check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ---- peak loops: each returns a value depending on every chain so nothing is dropped ---- */

/* X(i) for i = 0..11 / 0..23, written out so the chains stay in registers. */
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REP24(X) REP12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double peak_avx512(long iters, double *flops) {
    __m512 acc[24];
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#define FMA512(i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
        REP24(FMA512)
    }
    for (int i = 1; i < 24; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    *flops = (double)iters * 24 * 16 * 2;
    return (double)_mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static double peak_avx2(long iters, double *flops) {
    __m256 acc[12];
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#define FMA256(i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
        REP12(FMA256)
    }
    for (int i = 1; i < 12; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
    float out[8];
    _mm256_storeu_ps(out, acc[0]);
    *flops = (double)iters * 12 * 8 * 2;
    return (double)out[0];
}
#endif

static double peak_scalar(long iters, double *flops) {
    float acc[8];
    for (int i = 0; i < 8; i++) acc[i] = (float)i;
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 8; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
    *flops = (double)iters * 8 * 2;
    return (double)(acc[0] + acc[7]);
}

static double peak_run(long iters, double *flops) {
#if defined(__x86_64__)
    const char *level = gemm_simd_level();
    if (!strcmp(level, "avx512")) return peak_avx512(iters, flops);
    if (!strcmp(level, "avx2")) return peak_avx2(iters, flops);
#endif
    return peak_scalar(iters, flops);
}

typedef struct {
    long iters;
    double flops[256];
    volatile double sink[256];
} PeakCtx;

static void peak_part(void *ctx, long b, long e) {
    PeakCtx *p = ctx;
    for (long i = b; i < e; i++) p->sink[i] = peak_run(p->iters, &p->flops[i]);
}

/* GFLOP/s of the peak loop on every pool thread at once (best of 5). */
double bench_peak_gflops(const BenchOpts *o) {
    static PeakCtx pc;
    double f, t = bench_now();
    pc.sink[0] = peak_run(1000000, &f);                  /* calibrate */
    t = bench_now() - t;
    double target = o->quick ? 0.05 : 0.2;
    pc.iters = (long)(1000000 * target / (t > 1e-6 ? t : 1e-6));
    int nt = threads_count();
    double best = 0;
    for (int r = 0; r < 5; r++) {
        t = bench_now();
        parallel_for(nt, peak_part, &pc);
        t = bench_now() - t;
        double total = 0;
        for (int i = 0; i < nt; i++) total += pc.flops[i];
        if (total / t > best) best = total / t;
    }
    return best * 1e-9;
}

/* GFLOP/s of the peak loop on the calling thread, timed in that thread's CPU time: what an idle
   core would give, even when other processes share the machine (best of 3). */
double bench_peak_gflops_cpu(void) {
    double best = 0;
    for (int r = 0; r < 3; r++) {
        struct timespec a, b;
        double f;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        volatile double sink = peak_run(20000000, &f);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        (void)sink;
        double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        if (t > 0 && f / t > best) best = f / t;
    }
    return best * 1e-9;
}

/* ---- GEMM shapes ---- */

typedef struct {
    const char *name;
    int m, n, k, ta, tb, bf16;
    float beta;
} Shape;

static const Shape SHAPES[] = {
    { "square 1024^3", 1024, 1024, 1024, 0, 0, 0, 0 },
    { "fwd d_out=288", 1024, 288, 288, 0, 1, 0, 0 },
    { "fwd d_out=768", 1024, 768, 288, 0, 1, 0, 0 },
    { "fwd d_out=32000", 1024, 32000, 288, 0, 1, 0, 0 },
    { "dX d_out=288", 1024, 288, 288, 0, 0, 0, 1 },
    { "dX d_out=768", 1024, 288, 768, 0, 0, 0, 1 },
    { "dX d_out=32000", 1024, 288, 32000, 0, 0, 0, 1 },
    { "dW d_out=288", 288, 288, 1024, 1, 0, 0, 1 },
    { "dW d_out=768", 768, 288, 1024, 1, 0, 0, 1 },
    { "dW d_out=32000", 32000, 288, 1024, 1, 0, 0, 1 },
    { "LoRA rank 8", 1024, 288, 8, 0, 1, 0, 0 },
    { "fwd bf16 288", 1024, 288, 288, 0, 1, 1, 0 },
    { "fwd bf16 768", 1024, 768, 288, 0, 1, 1, 0 },
    { "fwd bf16 32000", 1024, 32000, 288, 0, 1, 1, 0 },
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static real *rand_floats(size_t n, uint32_t seed) {
    real *p = xmalloc(n * sizeof(real));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (real)(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

/* Best-of-reps GFLOP/s of one shape on the current pool. */
static double time_shape(const Shape *s, const BenchOpts *o) {
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
    real *A = rand_floats(na, 1), *B = rand_floats(nb, 2), *C = rand_floats(nc, 3);
    uint16_t *B16 = NULL;
    if (s->bf16) {
        B16 = xmalloc(nb * sizeof(uint16_t));
        for (size_t i = 0; i < nb; i++) B16[i] = f32_to_bf16(B[i]);
    }
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double best = 1e30, spent = 0, budget = o->quick ? 0.08 : 0.5;
    int min_reps = o->quick ? 2 : 5;
    for (int r = -1; r < 100 && (r < min_reps || spent < budget); r++) {   /* r = -1: warm-up */
        double t = bench_now();
        if (B16) gemm_bf16(s->ta, s->tb, s->m, s->n, s->k, 1, A, lda, B16, ldb, s->beta, C, s->n);
        else gemm(s->ta, s->tb, s->m, s->n, s->k, 1, A, lda, B, ldb, s->beta, C, s->n);
        t = bench_now() - t;
        if (r >= 0) {
            spent += t;
            if (t < best) best = t;
        }
    }
    free(A); free(B); free(C); free(B16);
    return 2.0 * s->m * s->n * s->k / best * 1e-9;
}

static void print_row(const BenchOpts *o, const Shape *s, int nt, double g, double peak_t, double peak_1) {
    if (o->json)
        printf("{\"bench\":\"gemm\",\"m\":%d,\"n\":%d,\"k\":%d,\"trans_a\":%d,\"trans_b\":%d,"
               "\"b_dtype\":\"%s\",\"threads\":%d,\"gflops\":%.2f,\"pct_peak\":%.1f}\n",
               s->m, s->n, s->k, s->ta, s->tb, s->bf16 ? "bf16" : "f32", nt, g, 100 * g / peak_t);
    else
        printf("%-16s %6d %6d %6d  %d  %d  %-4s %3d %9.1f %7.1f %7.1f\n", s->name, s->m, s->n, s->k,
               s->ta, s->tb, s->bf16 ? "bf16" : "f32", nt, g, 100 * g / peak_1, 100 * g / peak_t);
    fflush(stdout);
}

/* On a shared machine the peak loop can be starved for a moment: it is measured before and after
   each thread count's shapes and the better figure is the reference for pct_peak. */
int bench_gemm(const BenchOpts *o) {
    threads_init(o->threads);
    int all = threads_count();
    int counts[2] = { 1, all };
    int n_counts = all > 1 ? 2 : 1;
    double peak[2] = { 0, 0 }, g[2][N_SHAPES];
    for (int c = 0; c < n_counts; c++) {
        threads_init(counts[c]);
        double before = bench_peak_gflops(o);
        for (int i = 0; i < N_SHAPES; i++) g[c][i] = time_shape(&SHAPES[i], o);
        double after = bench_peak_gflops(o);
        peak[c] = before > after ? before : after;
    }
    if (!o->json) {
        printf("GEMM benchmark (simd=%s)\n", gemm_simd_level());
        for (int c = 0; c < n_counts; c++)
            printf("fp32 FMA peak loop, %d thread%s: %.1f GFLOP/s\n", counts[c], counts[c] > 1 ? "s" : "", peak[c]);
        printf("%-16s %6s %6s %6s %2s %2s  %-4s %3s %9s %7s %7s\n", "shape", "M", "N", "K", "ta", "tb",
               "B", "thr", "GFLOP/s", "%peak1", "%peakT");
    } else {
        for (int c = 0; c < n_counts; c++)
            printf("{\"bench\":\"peak\",\"threads\":%d,\"gflops\":%.2f}\n", counts[c], peak[c]);
    }
    for (int c = 0; c < n_counts; c++)
        for (int i = 0; i < N_SHAPES; i++) print_row(o, &SHAPES[i], counts[c], g[c][i], peak[c], peak[0]);
    threads_init(o->threads);
    return 0;
}

/* `./train bench --peak`: the peak loop alone, per thread count (1 and all), wall clock on every
   thread at once and, per core, in the calling thread's CPU time (what an idle core gives) */
int bench_peak(const BenchOpts *o) {
    threads_init(o->threads);
    int all = threads_count(), counts[2] = { 1, all };
    double core = bench_peak_gflops_cpu();
    for (int c = 0; c < (all > 1 ? 2 : 1); c++) {
        threads_init(counts[c]);
        double g = bench_peak_gflops(o);
        if (o->json)
            printf("{\"bench\":\"peak\",\"threads\":%d,\"gflops\":%.2f,\"cpu_gflops_per_core\":%.2f}\n", counts[c], g, core);
        else
            printf("fp32 FMA peak loop, %d thread%s: %.1f GFLOP/s (one core in CPU time: %.1f)\n", counts[c],
                   counts[c] > 1 ? "s" : "", g, core);
    }
    threads_init(o->threads);
    return 0;
}
