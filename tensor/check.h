/* tensor/check.h — always-on invariant checks (never compiled out, unlike assert).
   defines: CHECK(cond, fmt, ...), check_failed()
   Use CHECK for programming errors (shape mismatches, broken invariants): it prints
   file:line, the function, the condition and a message, then aborts. User mistakes
   (bad files, bad flags) are reported with Status + Error (status.h) instead. */
#ifndef MT_CHECK_H
#define MT_CHECK_H

_Noreturn void check_failed(const char *file, int line, const char *func, const char *cond,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) check_failed(__FILE__, __LINE__, __func__, #cond, __VA_ARGS__); \
    } while (0)

/* malloc/calloc/realloc that abort with a message instead of returning NULL */
#include <stddef.h>
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);

#endif
