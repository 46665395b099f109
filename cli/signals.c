/* cli/signals.c — cleanup before a killing signal (see signals.h). Without it, a `make-tiny`
   of a 7B model killed half-way leaves a multi-GB model.safetensors.tmp.XXXXXX next to the
   (untouched) target. The handler only calls async-signal-safe functions: unlink, signal, raise. */
#include "cli/signals.h"
#include "data/atomic_file.h"
#include <signal.h>

static void on_fatal(int sig) {
    atomic_file_unlink_pending();
    signal(sig, SIG_DFL);
    raise(sig);   /* the default action: the exit status says which signal ended the process */
}

void signals_install(void) {
    signal(SIGTERM, on_fatal);
    signal(SIGHUP, on_fatal);
    signal(SIGINT, on_fatal);
}
