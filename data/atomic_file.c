/* data/atomic_file.c — temp file + fsync + rename (see atomic_file.h). */
#include "data/atomic_file.h"
#include "tensor/check.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static AtomicFaultHook fault_hook;
static void *fault_ctx;

void atomic_file_set_fault_hook(AtomicFaultHook hook, void *ctx) {
    fault_hook = hook;
    fault_ctx = ctx;
}

static int fault(const char *path, AtomicStage stage) { return fault_hook ? fault_hook(fault_ctx, path, stage) : 0; }

/* Temp files in flight, for atomic_file_unlink_pending. A slot is filled before it is marked
   used and unmarked before it is reused, so a handler never reads a half-written name. Writes
   beyond PENDING_SLOTS at once (none here: at most two) are simply not tracked. */
#define PENDING_SLOTS 8
static char pending_path[PENDING_SLOTS][1024];
static volatile sig_atomic_t pending_used[PENDING_SLOTS];

static void pending_add(const char *tmp) {
    if (strlen(tmp) >= sizeof pending_path[0]) return;
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (!pending_used[i]) {
            memcpy(pending_path[i], tmp, strlen(tmp) + 1);
            pending_used[i] = 1;
            return;
        }
}

static void pending_remove(const char *tmp) {
    for (int i = 0; tmp && i < PENDING_SLOTS; i++)
        if (pending_used[i] && !strcmp(pending_path[i], tmp)) pending_used[i] = 0;
}

void atomic_file_unlink_pending(void) {
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (pending_used[i]) unlink(pending_path[i]);
}

static void af_release(AtomicFile *af) {
    pending_remove(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->f = NULL;
}

Status atomic_write_begin(AtomicFile *af, const char *path, Error *err) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = xmalloc(n + 1);
    memcpy(af->path, path, n + 1);
    af->tmp_path = xmalloc(n + 12);
    snprintf(af->tmp_path, n + 12, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        error_set(err, STATUS_IO, "check that the directory exists and is writable",
                  "cannot create %s (temp file for %s): %s", af->tmp_path, path, strerror(e));
        af_release(af);
        return STATUS_IO;
    }
    fchmod(fd, 0644);
    pending_add(af->tmp_path);
    int injected = fault(path, ATOMIC_BEGUN);
    if (injected) {
        close(fd);
        unlink(af->tmp_path);
        error_set(err, STATUS_IO, "check free disk space and permissions", "cannot write %s: %s", path, strerror(injected));
        af_release(af);
        return STATUS_IO;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        error_set(err, STATUS_IO, NULL, "cannot open a stream on %s: %s", af->tmp_path, strerror(e));
        af_release(af);
        return STATUS_IO;
    }
    return STATUS_OK;
}

/* fsync of the directory holding `path`, so the rename itself is durable (best effort). */
static void fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

Status atomic_write_commit(AtomicFile *af, Error *err) {
    CHECK(af->f != NULL, "atomic_write_commit without a successful atomic_write_begin");
    const char *what = "write";
    int ok = !ferror(af->f), e = 0;
    if (ok && (e = fault(af->path, ATOMIC_WRITTEN)) != 0) ok = 0;
    if (ok && fflush(af->f) != 0) ok = 0, what = "flush";
    if (ok && fsync(fileno(af->f)) != 0) ok = 0, what = "fsync";
    if (!e) e = errno;
    if (fclose(af->f) != 0 && ok) ok = 0, what = "close", e = errno;
    af->f = NULL;
    if (ok && rename(af->tmp_path, af->path) != 0) ok = 0, what = "rename", e = errno;
    if (!ok) {
        unlink(af->tmp_path);
        error_set(err, STATUS_IO, "check free disk space and permissions",
                  "cannot %s %s (writing %s): %s", what, af->tmp_path, af->path,
                  e ? strerror(e) : "stream error");
        af_release(af);
        return STATUS_IO;
    }
    fsync_parent_dir(af->path);
    fault(af->path, ATOMIC_RENAMED);
    af_release(af);
    return STATUS_OK;
}

void atomic_write_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    if (af->tmp_path) unlink(af->tmp_path);
    af_release(af);
}

Status dirs_make(const char *dir, Error *err) {
    char path[1024];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return error_set(err, STATUS_INVALID, NULL, "directory path too long: %s", dir);
    for (char *p = path + 1; ; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return error_set(err, STATUS_IO, "check the output path and its permissions",
                             "cannot create directory %s: %s", path, strerror(errno));
        *p = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return error_set(err, STATUS_IO, "the output path must be a directory", "%s exists and is not a directory", dir);
    return STATUS_OK;
}

Status dirs_make_parent(const char *path, Error *err) {
    char dir[1024];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return error_set(err, STATUS_INVALID, NULL, "path too long: %s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return STATUS_OK;
    *slash = 0;
    return dirs_make(dir, err);
}

Status dir_probe_write(const char *dir, double need_bytes, Error *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/.moetrain_probe", dir);
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    static const char block[4096];
    fwrite(block, 1, sizeof block, af.f);
    if ((s = atomic_write_commit(&af, err))) return s;
    unlink(path);
    struct statvfs vf;
    double free_bytes = statvfs(dir, &vf) == 0 ? (double)vf.f_bavail * (double)vf.f_frsize : -1;
    if (free_bytes >= 0 && free_bytes < need_bytes)
        return error_set(err, STATUS_IO, "free disk space or choose another --out",
                         "%s has %.1f MB free, a checkpoint needs about %.1f MB", dir, free_bytes / 1e6, need_bytes / 1e6);
    return STATUS_OK;
}
