/* cli/signals.h — what a signal that ends the process cleans up first.
   defines: signals_install */
#ifndef SIGNALS_H
#define SIGNALS_H

/* SIGTERM, SIGHUP and SIGINT (until a command installs its own SIGINT handler, as training does
   for a clean stop) remove the temp files of atomic writes in flight (data/atomic_file.h), then
   end the process with the same signal, as if nothing had been installed. */
void signals_install(void);

#endif
