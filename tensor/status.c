/* tensor/status.c — Error formatting. */
#include "tensor/status.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

Status error_set(Error *err, Status status, const char *hint, const char *fmt, ...) {
    if (!err) return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    snprintf(err->hint, sizeof err->hint, "%s", hint ? hint : "");
    return status;
}

const char *status_name(Status s) {
    switch (s) {
    case STATUS_OK: return "ok";
    case STATUS_IO: return "io";
    case STATUS_FORMAT: return "format";
    case STATUS_INVALID: return "invalid";
    case STATUS_RUNTIME: return "runtime";
    }
    return "unknown";
}
