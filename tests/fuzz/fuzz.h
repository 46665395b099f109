/* tests/fuzz/fuzz.h — the fuzz driver (make fuzz): our own deterministic mutation loop, built with
   ASan + UBSan, one target per parser.
   defines: Buf, FuzzTarget, fuzz_target, fuzz_n_targets, mutate, fuzz_rng, buf_*, fx_*
   A target sets up a complete valid fixture in its work directory (written by the same writers
   the tests use), names the one file that is mutated, and runs the parser on the fixture. Seeds
   are the bytes of that file as written (plus extra valid variants); every input is a stack of
   1-4 mutations of a seed, of another input that parsed, or a splice of two seeds. Any crash,
   sanitizer report, leak or hang (alarm) ends the process with the input left on disk. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stddef.h>
#include <stdint.h>

typedef struct { unsigned char *p; size_t n, cap; } Buf;

void buf_set(Buf *b, const void *p, size_t n);
void buf_free(Buf *b);
int  buf_read(Buf *b, const char *path);                 /* 1 if read */
void buf_write(const Buf *b, const char *path);          /* aborts when it cannot */

typedef struct {
    const char *name;
    const char *file;                                     /* mutated file, relative to the work dir */
    void (*setup)(const char *work);                      /* valid fixture (all files) */
    void (*extra_seeds)(const char *work, Buf *seeds, int *n, int max);   /* may be NULL */
    int  (*run)(const char *work);                        /* 1 when the parser accepted the input */
} FuzzTarget;

extern const FuzzTarget FUZZ_DATA_TARGETS[], FUZZ_MODEL_TARGETS[];
extern const int FUZZ_N_DATA_TARGETS, FUZZ_N_MODEL_TARGETS;
const FuzzTarget *fuzz_target(int i);
int fuzz_n_targets(void);

uint64_t fuzz_rng(uint64_t *state);
/* in-place stack of mutations of b; other = a second seed for splices (may be NULL) */
void mutate(Buf *b, const Buf *other, uint64_t *rng);

/* fixtures shared by the targets */
char *fx_path(const char *work, const char *rel);         /* static buffer: work/rel */
void  fx_text(const char *work, const char *rel, const char *text);
void  fx_seed_text(Buf *seeds, int *n, int max, const char *text);

#endif
