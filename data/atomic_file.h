/* data/atomic_file.h — write a file so that readers see either the old or the complete new
   contents, never a torn one (checkpoints, safetensors, JSON written by the trainer).
   defines: AtomicFile, atomic_write_begin, atomic_write_commit, atomic_write_abort, dirs_make,
            dirs_make_parent, dir_probe_write, AtomicStage, AtomicFaultHook,
            atomic_file_set_fault_hook, atomic_file_unlink_pending
   Protocol: begin creates PATH.tmp.XXXXXX (mkstemp) in the same directory as PATH (so the
   final rename stays within one filesystem) and hands out a FILE* to write; commit checks the
   stream for errors, fflush + fsync + fclose, renames over PATH and fsyncs the directory;
   abort closes and removes the temp file. If commit fails the temp file is removed and PATH
   is untouched. New files get mode 0644.
   A process killed between begin and commit would leave PATH.tmp.XXXXXX behind (PATH itself is
   never torn): the temp names in flight are kept in a small table, and
   atomic_file_unlink_pending removes them from a signal handler (cli/signals.c). */
#ifndef ATOMIC_FILE_H
#define ATOMIC_FILE_H
#include <stdio.h>
#include "tensor/status.h"

typedef struct {
    FILE *f;          /* write here between begin and commit/abort */
    char *path;       /* final name */
    char *tmp_path;   /* PATH.tmp.XXXXXX */
} AtomicFile;

/* Fault injection for tests (disk full, a kill in the middle of a write): the hook is called at
   each stage of every atomic write; a non-zero return is the errno that stage fails with (e.g.
   ENOSPC; ignored after the rename). NULL (the default) = no faults. Process-wide. */
typedef enum { ATOMIC_BEGUN, ATOMIC_WRITTEN, ATOMIC_RENAMED } AtomicStage;
typedef int (*AtomicFaultHook)(void *ctx, const char *path, AtomicStage stage);
void atomic_file_set_fault_hook(AtomicFaultHook hook, void *ctx);

/* Unlinks every temp file between begin and commit/abort; async-signal-safe (unlink only). */
void   atomic_file_unlink_pending(void);

Status atomic_write_begin(AtomicFile *af, const char *path, Error *err);
Status atomic_write_commit(AtomicFile *af, Error *err);
void   atomic_write_abort(AtomicFile *af);

/* mkdir -p DIR: every missing component (0755); an existing non-directory is an error that names
   it, as is a component that cannot be created (with the reason). */
Status dirs_make(const char *dir, Error *err);
/* dirs_make of PATH's directory part (nothing for a bare file name) */
Status dirs_make_parent(const char *path, Error *err);
/* Before a long run: DIR is writable (a probe file written atomically and removed) and its
   filesystem has at least need_bytes free. STATUS_IO naming DIR, the reason and the sizes. */
Status dir_probe_write(const char *dir, double need_bytes, Error *err);

#endif
