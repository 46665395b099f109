/* tensor/arena.c — chained-block bump allocator (see arena.h). */
#include "tensor/arena.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

static ArenaBlock *block_new(Arena *a, size_t size) {
    ArenaBlock *b = xmalloc(sizeof *b);
    b->data = aligned_alloc(ARENA_ALIGN, (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN);
    CHECK(b->data != NULL, "out of memory allocating an arena block of %zu bytes", size);
    b->size = size;
    b->used = 0;
    b->next = NULL;
    a->n_block_allocs++;
    return b;
}

void arena_init(Arena *a, size_t block_size) {
    memset(a, 0, sizeof *a);
    a->block_size = block_size < 4096 ? 4096 : block_size;
}

size_t arena_used(const Arena *a) {
    return a->current ? a->used_before + a->current->used : 0;
}

/* Moves to the next block that can hold `bytes`, reusing kept blocks and chaining a new
   one at the end when none fits. Kept blocks that are too small are skipped (their bytes
   count as used until the next reset/rewind). */
static void arena_advance(Arena *a, size_t bytes) {
    for (;;) {
        ArenaBlock *next = a->current ? a->current->next : a->first;
        if (!next) break;
        if (a->current) a->used_before += a->current->size;
        a->current = next;
        a->current->used = 0;
        if (next->size >= bytes) return;
    }
    size_t size = bytes > a->block_size ? bytes : a->block_size;
    ArenaBlock *b = block_new(a, size);
    if (a->current) {
        a->used_before += a->current->size;
        b->next = a->current->next;   /* NULL: we only get here at the end of the chain */
        a->current->next = b;
    } else {
        a->first = b;
    }
    a->current = b;
}

void *arena_alloc(Arena *a, size_t bytes) {
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need == 0) need = ARENA_ALIGN;
    if (!a->current || a->current->size - a->current->used < need) arena_advance(a, need);
    void *p = a->current->data + a->current->used;
    a->current->used += need;
    size_t u = arena_used(a);
    if (u > a->high_water) a->high_water = u;
    return p;
}

/* A step zeroes every recorded activation's gradient buffer here ([N, C] and [N, F] blocks of
   1-3 MB): parallel_memzero runs the large ones on the thread pool (at 2 threads they were the
   largest serial part of a lora step). */
void *arena_alloc_zero(Arena *a, size_t bytes) {
    void *p = arena_alloc(a, bytes);
    parallel_memzero(p, bytes);
    return p;
}

ArenaMark arena_mark(const Arena *a) {
    ArenaMark m = { a->current, a->current ? a->current->used : 0, a->used_before };
    return m;
}

void arena_rewind(Arena *a, ArenaMark m) {
    a->current = m.block;
    a->used_before = m.used_before;
    if (a->current) a->current->used = m.used;
}

void arena_reset(Arena *a) {
    a->current = NULL;
    a->used_before = 0;
}

void arena_free(Arena *a) {
    ArenaBlock *b = a->first;
    while (b) {
        ArenaBlock *n = b->next;
        free(b->data);
        free(b);
        b = n;
    }
    size_t bs = a->block_size;
    arena_init(a, bs);
}
