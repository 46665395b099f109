/* tensor/arena.h — chained-block bump allocator for per-step memory.
   defines: Arena, ArenaMark, arena_init, arena_alloc, arena_alloc_zero, arena_mark,
            arena_rewind, arena_reset, arena_free, arena_used
   Allocation never fails (a new block is chained when the current one is full, and an
   out-of-memory aborts via CHECK). Blocks are kept on reset and reused, so after the first
   training step the arena performs no further malloc: `n_block_allocs` counts the mallocs and
   tests assert it stops growing. Every allocation is 64-byte aligned (one cache line / one
   AVX-512 vector). `high_water` is the largest number of bytes in use at any time. */
#ifndef ARENA_H
#define ARENA_H
#include <stddef.h>

typedef struct ArenaBlock {
    struct ArenaBlock *next;
    size_t size;      /* usable bytes in data[] */
    size_t used;
    unsigned char *data;
} ArenaBlock;

typedef struct {
    ArenaBlock *first, *current;
    size_t block_size;      /* default size of a new block */
    size_t used_before;     /* bytes used in blocks before `current` (incl. skipped tails) */
    size_t high_water;
    size_t n_block_allocs;  /* number of mallocs done so far */
} Arena;

typedef struct {
    ArenaBlock *block;
    size_t used, used_before;
} ArenaMark;

void   arena_init(Arena *a, size_t block_size);
void  *arena_alloc(Arena *a, size_t bytes);       /* uninitialised, 64-byte aligned */
void  *arena_alloc_zero(Arena *a, size_t bytes);  /* zero-filled */
ArenaMark arena_mark(const Arena *a);
void   arena_rewind(Arena *a, ArenaMark m);       /* frees everything allocated after the mark */
void   arena_reset(Arena *a);                     /* frees everything; keeps the blocks */
void   arena_free(Arena *a);                      /* returns the blocks to the system */
size_t arena_used(const Arena *a);

#endif
