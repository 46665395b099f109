/* tensor/status.h — user-facing failures: a Status code plus an Error with message and hint.
   defines: Status, Error, error_set(), status_name()   (cli/errors.h prints them)
   Library functions that can fail because of user input return Status and fill Error;
   only train.c decides to exit. Messages name the file, the offset/line and what was expected. */
#ifndef STATUS_H
#define STATUS_H

typedef enum {
    STATUS_OK = 0,
    STATUS_IO,        /* file missing, unreadable, short read, cannot write */
    STATUS_FORMAT,    /* bad magic, version, truncated or malformed content */
    STATUS_INVALID,   /* a value out of range: flag, config key, token id */
    STATUS_RUNTIME,   /* training failure, e.g. non-finite loss */
} Status;

typedef struct {
    Status status;
    char message[512];
    char hint[256];
} Error;

/* Sets err (if non-NULL) and returns status, so callers can write `return error_set(...)`. */
Status error_set(Error *err, Status status, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *status_name(Status s);

#endif
