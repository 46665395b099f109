/* nn/safetensors.c — strict safetensors reader and float conversion (see safetensors.h).
   Byte layout (REFERENCE.md §4.3):
     [0, 8)            N, u64 little-endian
     [8, 8 + N)        header: a JSON object, UTF-8
     [8 + N, size)     the data buffer; every data_offsets [begin, end) is relative to byte 8 + N
   Checks, in order, each a STATUS_FORMAT naming the file (and tensor):
   file >= 8 bytes; header length N <= file size - 8 and <= 100 MB; header is valid strict JSON
   (data/json.h: UTF-8, no duplicate names) and an object; "__metadata__" maps strings to
   strings; every tensor has a known dtype, a shape of <= 8 non-negative integers and
   data_offsets [begin, end] with begin <= end <= buffer size and end - begin = numel * dtype
   size; sorted by begin, the tensors tile the data buffer exactly (first at 0, each starts
   where the previous ended, last ends at file size - 8 - N): no holes, overlaps, trailing bytes.
   Why so strict: every later access is `data + offset` into the mapping with no further check,
   so each rule closes a way to read outside a tensor or the file. N bounds keep the header
   inside the file (and turn a non-safetensors file, whose first 8 bytes make a huge N, into a
   clear error); byte count = numel · dtype size keeps readers inside their tensor; the tiling
   rule (the format's own, REFERENCE.md §4.3) rejects aliasing tensors and truncated or padded
   files. Duplicate names would make a lookup ambiguous. */
#include "nn/safetensors.h"
#include "tensor/check.h"
#include "tensor/half.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

/* every dtype of the format: its spelling in the header and its element size in bytes */
static const struct { const char *name; size_t size; } DTYPES[SAFE_N_DTYPES] = {
    [SAFE_BOOL] = { "BOOL", 1 }, [SAFE_U8] = { "U8", 1 }, [SAFE_I8] = { "I8", 1 },
    [SAFE_F8_E4M3] = { "F8_E4M3", 1 }, [SAFE_F8_E5M2] = { "F8_E5M2", 1 },
    [SAFE_I16] = { "I16", 2 }, [SAFE_U16] = { "U16", 2 }, [SAFE_F16] = { "F16", 2 },
    [SAFE_BF16] = { "BF16", 2 }, [SAFE_I32] = { "I32", 4 }, [SAFE_U32] = { "U32", 4 },
    [SAFE_F32] = { "F32", 4 }, [SAFE_I64] = { "I64", 8 }, [SAFE_U64] = { "U64", 8 },
    [SAFE_F64] = { "F64", 8 },
};

const char *safetensors_dtype_name(SafeDtype d) {
    return (unsigned)d < SAFE_N_DTYPES ? DTYPES[d].name : "?";
}

size_t safetensors_dtype_size(SafeDtype d) {
    CHECK((unsigned)d < SAFE_N_DTYPES, "bad SafeDtype %d", (int)d);
    return DTYPES[d].size;
}

int safetensors_dtype_parse(const char *name, SafeDtype *out) {
    for (int d = 0; d < SAFE_N_DTYPES; d++)
        if (strcmp(name, DTYPES[d].name) == 0) {
            *out = (SafeDtype)d;
            return 1;
        }
    return 0;
}

/* v is an integral JSON number in [0, 2^53]. JSON numbers are parsed as doubles, which hold
   every integer only up to 2^53: a larger "integer" may already have been rounded. */
static int json_u64(const JsonValue *v, uint64_t *out) {
    if (!v || v->type != JSON_NUMBER || v->number < 0 || v->number > 9007199254740992.0
        || v->number != (double)(uint64_t)v->number)
        return 0;
    *out = (uint64_t)v->number;
    return 1;
}

/* "shape": [d0, ...] -> t->shape, t->numel. The product is checked against SIZE_MAX / dtype
   size before each multiply, so numel · size cannot wrap around (a hostile header could
   otherwise make a huge tensor look tiny). [] is a scalar (numel 1); a 0 dim gives numel 0. */
static Status parse_shape(const SafeTensors *st, const char *name, const JsonValue *shape,
                          SafeTensor *t, Error *err) {
    if (!shape || shape->type != JSON_ARRAY)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: expected \"shape\" to be an array, "
                         "found %s", st->path, name, shape ? json_type_name(shape->type) : "nothing");
    if (shape->count > SAFE_MAX_DIMS)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: shape has %zu dims, expected at most %d",
                         st->path, name, shape->count, SAFE_MAX_DIMS);
    t->ndim = (int)shape->count;
    t->numel = 1;
    size_t limit = SIZE_MAX / DTYPES[t->dtype].size;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t n;
        if (!json_u64(&shape->items[d], &n))
            return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: shape[%d] is not a non-negative "
                             "integer, expected a dimension size", st->path, name, d);
        if (n && t->numel > limit / n)
            return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: shape too large, expected a size "
                             "that fits in memory", st->path, name);
        t->shape[d] = (int64_t)n;
        t->numel *= (size_t)n;
    }
    return STATUS_OK;
}

/* "data_offsets": [begin, end) inside the buffer, holding exactly numel · dtype size bytes */
static Status parse_offsets(const SafeTensors *st, const char *name, const JsonValue *off,
                            SafeTensor *t, Error *err) {
    uint64_t b, e;
    if (!off || off->type != JSON_ARRAY || off->count != 2 || !json_u64(&off->items[0], &b)
        || !json_u64(&off->items[1], &e) || b > e)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: expected \"data_offsets\" to be "
                         "[begin, end] with integers 0 <= begin <= end", st->path, name);
    if (e > st->buffer_size)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: data_offsets end %llu is beyond the "
                         "data buffer, expected at most %zu (file size - 8 - header length)",
                         st->path, name, (unsigned long long)e, st->buffer_size);
    size_t want = t->numel * DTYPES[t->dtype].size;
    if (e - b != want)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: data_offsets [%llu, %llu] hold %llu "
                         "bytes, expected %zu (%zu elements of %s)", st->path, name,
                         (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b),
                         want, t->numel, DTYPES[t->dtype].name);
    t->begin = (size_t)b;
    t->nbytes = want;
    t->data = st->buffer + b;
    return STATUS_OK;
}

/* One header member NAME: {"dtype", "shape", "data_offsets"}; the dtype first, since the
   other two checks need its size. Extra members are ignored. */
static Status parse_entry(const SafeTensors *st, const char *name, const JsonValue *v,
                          SafeTensor *t, Error *err) {
    memset(t, 0, sizeof *t);
    t->name = name;
    if (v->type != JSON_OBJECT)
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: expected an object with dtype, shape "
                         "and data_offsets, found %s", st->path, name, json_type_name(v->type));
    const char *dt;
    if (!json_get_string(v, "dtype", &dt))
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: expected a \"dtype\" string",
                         st->path, name);
    if (!safetensors_dtype_parse(dt, &t->dtype))
        return error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s: unknown dtype \"%s\", expected one of "
                         "F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2",
                         st->path, name, dt);
    Status s = parse_shape(st, name, json_get(v, "shape"), t, err);
    if (s) return s;
    return parse_offsets(st, name, json_get(v, "data_offsets"), t, err);
}

/* "__metadata__" is the one non-tensor member: a flat object of string values (the format) */
static Status check_metadata(const SafeTensors *st, const JsonValue *m, Error *err) {
    if (m->type != JSON_OBJECT)
        return error_set(err, STATUS_FORMAT, NULL, "%s: __metadata__ is a %s, expected an object of "
                         "strings", st->path, json_type_name(m->type));
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i].type != JSON_STRING)
            return error_set(err, STATUS_FORMAT, NULL, "%s: __metadata__ key \"%s\" is a %s, expected a "
                             "string", st->path, m->keys[i], json_type_name(m->items[i].type));
    return STATUS_OK;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const SafeTensor *)a)->name, ((const SafeTensor *)b)->name);
}

/* begin, then size, then name: a total order, so zero-byte tensors sharing an offset (allowed)
   sort the same way every time and the error messages are deterministic */
static int cmp_by_begin(const void *a, const void *b) {
    const SafeTensor *x = *(const SafeTensor *const *)a, *y = *(const SafeTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sorted by begin, the tensors must cover [0, buffer_size) exactly once. */
static Status check_tiling(const SafeTensors *st, Error *err) {
    const SafeTensor **by = xmalloc((st->count ? st->count : 1) * sizeof *by);
    for (size_t i = 0; i < st->count; i++) by[i] = &st->tensors[i];
    qsort(by, st->count, sizeof *by, cmp_by_begin);
    size_t expect = 0;
    Status s = STATUS_OK;
    for (size_t i = 0; i < st->count && !s; i++) {
        const SafeTensor *t = by[i];
        if (t->begin > expect)
            s = error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s begins at byte %zu of the data buffer, "
                          "expected %zu: bytes [%zu, %zu) belong to no tensor (a hole)", st->path,
                          t->name, t->begin, expect, expect, t->begin);
        else if (t->begin < expect)
            s = error_set(err, STATUS_FORMAT, NULL, "%s: tensor %s begins at byte %zu of the data buffer, "
                          "expected %zu: it overlaps tensor %s", st->path, t->name, t->begin, expect,
                          by[i - 1]->name);
        expect = t->begin + t->nbytes;
    }
    free(by);
    if (!s && expect != st->buffer_size)
        s = error_set(err, STATUS_FORMAT, NULL, "%s: tensors end at byte %zu of the data buffer, expected "
                      "%zu (file size - 8 - header length): trailing bytes belong to no tensor",
                      st->path, expect, st->buffer_size);
    return s;
}

/* Parses the N header bytes, validates every entry, checks the tiling, then sorts the table by
   name for safetensors_find's binary search. The table and the names live in the JSON
   document's arena (freed by safetensors_close). */
static Status parse_header(SafeTensors *st, Error *err) {
    Status s = json_parse(&st->header, (const char *)st->map + 8, st->header_len, st->path, err);
    if (s) return s;
    const JsonValue *root = st->header.root;
    if (root->type != JSON_OBJECT)
        return error_set(err, STATUS_FORMAT, NULL, "%s: header is a JSON %s, expected an object",
                         st->path, json_type_name(root->type));
    st->tensors = arena_alloc(&st->header.arena, (root->count ? root->count : 1) * sizeof *st->tensors);
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i], "__metadata__") == 0) {
            st->metadata = &root->items[i];
            if ((s = check_metadata(st, st->metadata, err))) return s;
            continue;
        }
        if ((s = parse_entry(st, root->keys[i], &root->items[i], &st->tensors[st->count], err))) return s;
        st->count++;
    }
    if ((s = check_tiling(st, err))) return s;
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_by_name);
    return STATUS_OK;
}

/* Maps the whole regular file read-only. At least 8 bytes are required first: the length
   prefix must exist, and mmap of an empty file would fail with a less clear error. */
static Status map_file(SafeTensors *st, const char *path, Error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return error_set(err, STATUS_IO, "check the path", "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return error_set(err, STATUS_IO, NULL, "cannot read %s: not a regular file", path);
    }
    st->file_size = (size_t)sb.st_size;
    if (st->file_size < 8) {
        close(fd);
        return error_set(err, STATUS_FORMAT, NULL, "%s: file is %zu bytes, expected at least 8 (the "
                         "header length)", path, st->file_size);
    }
    void *m = mmap(NULL, st->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return error_set(err, STATUS_IO, NULL, "cannot mmap %s: %s", path, strerror(e));
    st->map = m;
    return STATUS_OK;
}

/* On success st owns the mapping and the parsed header until safetensors_close; on failure it
   holds nothing (already closed) and err names the file and the first rule broken. */
Status safetensors_open(SafeTensors *st, const char *path, Error *err) {
    memset(st, 0, sizeof *st);
    arena_init(&st->header.arena, 4096);
    snprintf(st->path, sizeof st->path, "%s", path);
    Status s = map_file(st, path, err);
    if (s) return s;
    uint64_t n = 0;   /* u64 little-endian, byte by byte: no alignment or host-order assumption */
    for (int i = 7; i >= 0; i--) n = (n << 8) | st->map[i];
    if (n > st->file_size - 8 || n > SAFE_MAX_HEADER) {
        s = error_set(err, STATUS_FORMAT, "the file is truncated or not a safetensors file",
                      "%s: header length %llu, expected at most %zu (file size - 8) and at most %llu",
                      path, (unsigned long long)n, st->file_size - 8, (unsigned long long)SAFE_MAX_HEADER);
    } else {
        st->header_len = (size_t)n;
        st->buffer = st->map + 8 + n;
        st->buffer_size = st->file_size - 8 - (size_t)n;
        s = parse_header(st, err);
    }
    if (s) safetensors_close(st);
    return s;
}

/* idempotent: a failed open has already closed, and a second close does nothing harmful */
void safetensors_close(SafeTensors *st) {
    if (st->map) munmap(st->map, st->file_size);
    json_doc_free(&st->header);
    st->map = NULL;
    st->buffer = NULL;
    st->tensors = NULL;
    st->metadata = NULL;
    st->count = 0;
}

void safetensors_detach_map(SafeTensors *st, void **addr, size_t *len) {
    *addr = st->map;
    *len = st->file_size;
    if (st->map) mprotect(st->map, st->file_size, PROT_READ | PROT_WRITE);
    st->map = NULL;
}

/* binary search: the table is sorted by name (strcmp order) */
const SafeTensor *safetensors_find(const SafeTensors *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[mid].name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const SafeTensor *safetensors_at(const SafeTensors *st, size_t i) {
    CHECK(i < st->count, "safetensors_at(%zu) of %zu tensors", i, st->count);
    return &st->tensors[i];
}

const char *safetensors_metadata(const SafeTensors *st, const char *key) {
    const JsonValue *v = json_get(st->metadata, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}
