/* tests/fuzz/fuzz_main.c — the fuzz driver's loop (see fuzz.h).
     fuzz [--iters N] [--target NAME]     N mutated inputs per target (default 1000)
     fuzz --replay DIR                    every input in DIR/<target>/ once (the regression inputs)
     fuzz --minimise TARGET FILE OUT      shrinks a crashing input (each try in a child process)
     fuzz --list                          the targets
   Deterministic: input i of target t is the same on every run. Exit 0 when nothing crashed;
   a crash ends the process (ASan / UBSan report, or SIGALRM for a hang) with the input left in
   build/fuzz/work/<target>/<file>. */
#include "tests/fuzz/fuzz.h"
#include "tensor/threads.h"
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORK_ROOT "build/fuzz/work"
#define MAX_SEEDS 16
#define POOL 64
#define HANG_SECONDS 20

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

int fuzz_n_targets(void) { return FUZZ_N_DATA_TARGETS + FUZZ_N_MODEL_TARGETS; }
const FuzzTarget *fuzz_target(int i) {
    return i < FUZZ_N_DATA_TARGETS ? &FUZZ_DATA_TARGETS[i] : &FUZZ_MODEL_TARGETS[i - FUZZ_N_DATA_TARGETS];
}

static char *work_dir(const FuzzTarget *t) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", WORK_ROOT, t->name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    if (system(cmd) != 0) { fprintf(stderr, "fuzz: cannot create %s\n", buf); exit(2); }
    return buf;
}

static int load_seeds(const FuzzTarget *t, const char *work, Buf *seeds) {
    t->setup(work);
    memset(seeds, 0, sizeof(Buf) * MAX_SEEDS);
    if (!buf_read(&seeds[0], fx_path(work, t->file))) { fprintf(stderr, "fuzz: %s: no seed file %s\n", t->name, t->file); exit(2); }
    int n = 1;
    if (t->extra_seeds) t->extra_seeds(work, seeds, &n, MAX_SEEDS);
    for (int i = 0; i < n; i++)   /* every seed must be valid, or the target is broken */
        if (buf_write(&seeds[i], fx_path(work, t->file)), !t->run(work)) {
            fprintf(stderr, "fuzz: %s: seed %d is rejected by its own parser\n", t->name, i);
            exit(2);
        }
    return n;
}

static int run_one(const FuzzTarget *t, const char *work, const Buf *in) {
    buf_write(in, fx_path(work, t->file));
    alarm(HANG_SECONDS);
    int ok = t->run(work);
    alarm(0);
    return ok;
}

static int leaks(void) { return __lsan_do_recoverable_leak_check ? __lsan_do_recoverable_leak_check() : 0; }

static int fuzz_one_target(int ti, long iters) {
    const FuzzTarget *t = fuzz_target(ti);
    const char *work = work_dir(t);
    Buf seeds[MAX_SEEDS], pool[POOL], in = { 0 };
    int ns = load_seeds(t, work, seeds), np = 0;
    memset(pool, 0, sizeof pool);
    long accepted = 0;
    for (long i = 0; i < iters; i++) {
        uint64_t r = 0x5eed0000ull * (uint64_t)(ti + 1) + (uint64_t)i;
        fuzz_rng(&r);
        const Buf *base = np > 0 && fuzz_rng(&r) % 3 == 0 ? &pool[fuzz_rng(&r) % (uint64_t)np] : &seeds[fuzz_rng(&r) % (uint64_t)ns];
        buf_set(&in, base->p, base->n);
        mutate(&in, &seeds[fuzz_rng(&r) % (uint64_t)ns], &r);
        if (run_one(t, work, &in)) {
            accepted++;
            Buf *slot = np < POOL ? &pool[np++] : &pool[fuzz_rng(&r) % POOL];
            buf_set(slot, in.p, in.n);
        }
    }
    int leaked = leaks();
    printf("fuzz: %-16s %ld inputs (%ld accepted, %ld rejected with a Status), 0 crashes%s\n", t->name, iters, accepted,
           iters - accepted, leaked ? ", LEAKS (see above)" : "");
    fflush(stdout);
    for (int i = 0; i < ns; i++) buf_free(&seeds[i]);
    for (int i = 0; i < np; i++) buf_free(&pool[i]);
    buf_free(&in);
    return leaked;
}

static int find_target(const char *name) {
    for (int i = 0; i < fuzz_n_targets(); i++)
        if (!strcmp(fuzz_target(i)->name, name)) return i;
    fprintf(stderr, "fuzz: no target '%s' (--list)\n", name);
    exit(2);
}

static int replay(const char *root) {
    int files = 0, leaked = 0;
    for (int ti = 0; ti < fuzz_n_targets(); ti++) {
        const FuzzTarget *t = fuzz_target(ti);
        char dir[600];
        snprintf(dir, sizeof dir, "%s/%s", root, t->name);
        DIR *d = opendir(dir);
        if (!d) continue;
        const char *work = work_dir(t);
        t->setup(work);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            Buf in = { 0 };
            if (!buf_read(&in, path)) continue;
            printf("fuzz: replay %s\n", path);
            fflush(stdout);
            run_one(t, work, &in);
            buf_free(&in);
            files++;
        }
        closedir(d);
        leaked |= leaks();
    }
    printf("fuzz: replayed %d regression inputs from %s, 0 crashes%s\n", files, root, leaked ? ", LEAKS" : "");
    return leaked;
}

/* 1 when `in` still crashes target t (run in a child) */
static int crashes(const FuzzTarget *t, const char *work, const Buf *in) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        run_one(t, work, in);
        _exit(leaks() ? 1 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int minimise(const char *name, const char *file, const char *out) {
    const FuzzTarget *t = fuzz_target(find_target(name));
    Buf in = { 0 }, cand = { 0 };
    if (!buf_read(&in, file)) { fprintf(stderr, "fuzz: cannot read %s\n", file); return 2; }   /* before the work dir is reset */
    const char *work = work_dir(t);
    t->setup(work);
    if (!crashes(t, work, &in)) {
        fprintf(stderr, "fuzz: %s does not crash %s\n", file, name);
        buf_free(&in);
        return 2;
    }
    for (size_t chunk = in.n / 2; chunk >= 1; chunk /= 2)   /* drop chunks while it still crashes */
        for (size_t at = 0; at + chunk <= in.n;) {
            buf_set(&cand, in.p, in.n);
            memmove(cand.p + at, cand.p + at + chunk, in.n - at - chunk);
            cand.n = in.n - chunk;
            if (crashes(t, work, &cand)) buf_set(&in, cand.p, cand.n);
            else at += chunk;
        }
    buf_write(&in, out);
    printf("fuzz: minimised to %zu bytes: %s\n", in.n, out);
    buf_free(&in);
    buf_free(&cand);
    return 0;
}

int main(int argc, char **argv) {
    long iters = 1000;
    const char *only = NULL;
    threads_init(1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atol(argv[++i]);
        else if (!strcmp(argv[i], "--target") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--replay") && i + 1 < argc) return replay(argv[++i]);
        else if (!strcmp(argv[i], "--minimise") && i + 3 < argc) return minimise(argv[i + 1], argv[i + 2], argv[i + 3]);
        else if (!strcmp(argv[i], "--list")) {
            for (int t = 0; t < fuzz_n_targets(); t++) printf("%s\n", fuzz_target(t)->name);
            return 0;
        } else {
            fprintf(stderr, "usage: fuzz [--iters N] [--target NAME] | --replay DIR | --minimise TARGET FILE OUT | --list\n");
            return 2;
        }
    }
    int leaked = 0;
    for (int t = 0; t < fuzz_n_targets(); t++)
        if (!only || !strcmp(only, fuzz_target(t)->name)) leaked |= fuzz_one_target(t, iters);
    return leaked ? 1 : 0;
}
