/* data/file_read.c — whole-file input (see file_read.h). */
#include "data/file_read.h"
#include "tensor/check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Status file_read_all(const char *path, char **data, size_t *len, Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, STATUS_IO, "check the path", "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {                      /* keep one byte free for the NUL */
        if (cap - n < 4096) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f), saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return error_set(err, STATUS_IO, NULL, "cannot read %s after %zu bytes: %s", path, n,
                         strerror(saved));
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return STATUS_OK;
}
