/* nn/safetensors.h — Hugging Face safetensors files: strict reader, float conversion, writer.
   defines: SafeDtype, SafeTensor, SafeTensors, safetensors_open, safetensors_close, safetensors_detach_map,
            safetensors_find, safetensors_at, safetensors_metadata, safetensors_read_f32,
            safetensors_read_real, safetensors_read_bf16, safetensors_read_quant, safetensors_dtype_name, safetensors_dtype_size,
            safetensors_dtype_parse, SafeTensorsWriter, safetensors_writer_init,
            safetensors_writer_add, safetensors_writer_add_f32, safetensors_writer_add_real,
            safetensors_writer_add_gen,
            safetensors_writer_set_metadata, safetensors_write, safetensors_writer_free
   Format (REFERENCE.md §4.3): u64 little-endian header length N; N bytes of JSON
   {"__metadata__": {str: str}, NAME: {"dtype", "shape", "data_offsets": [begin, end)}};
   then the data buffer, offsets relative to its start. C order, little-endian.
   Reader: the file is mmap'ed read-only (no copy, pages load lazily, so a 300 MB model opens
   instantly); SafeTensor.data points into the mapping and stays valid until
   safetensors_close. `data` is only as aligned as the file makes it (writers that pad the
   header to 8 bytes give 8-byte alignment): read elements with memcpy or use
   safetensors_read_f32/real. Validation is strict (see safetensors.c); every failure is
   STATUS_FORMAT (STATUS_IO for open/stat/mmap) with a message naming the file and tensor.
   Writer: collects entries, sorts them by name (byte order = code point order; the reference
   writer sorts by descending dtype first, then by name: the same order for single-dtype files),
   lays the data out in that order, pads the header with spaces to a multiple of 8 and writes
   atomically (data/atomic_file.h). Assumes a little-endian host. */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "tensor/real.h"
#include "tensor/status.h"
#include "data/json.h"

#define SAFE_MAX_DIMS 8
#define SAFE_MAX_HEADER ((uint64_t)100 * 1000 * 1000)   /* 100 MB, as the reference reader */

typedef enum {
    SAFE_BOOL, SAFE_U8, SAFE_I8, SAFE_F8_E4M3, SAFE_F8_E5M2, SAFE_I16, SAFE_U16, SAFE_F16,
    SAFE_BF16, SAFE_I32, SAFE_U32, SAFE_F32, SAFE_I64, SAFE_U64, SAFE_F64, SAFE_N_DTYPES
} SafeDtype;

typedef struct {
    const char *name;
    SafeDtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[SAFE_MAX_DIMS];
    size_t numel;                    /* product of shape (1 for a scalar) */
    const unsigned char *data;       /* into the mapping; may be unaligned */
    size_t nbytes;
    size_t begin;                    /* data_offsets[0], relative to the data buffer */
} SafeTensor;

typedef struct {
    char path[256];
    unsigned char *map;              /* the whole file, read-only */
    size_t file_size;
    size_t header_len;               /* N */
    const unsigned char *buffer;     /* map + 8 + N */
    size_t buffer_size;              /* file_size - 8 - N */
    JsonDoc header;                  /* the parsed header; owns names and the tensor table */
    const JsonValue *metadata;       /* "__metadata__" object or NULL */
    SafeTensor *tensors;             /* sorted by name */
    size_t count;
} SafeTensors;

Status safetensors_open(SafeTensors *st, const char *path, Error *err);
void   safetensors_close(SafeTensors *st);
/* Hands the file's mapping to the caller (who munmaps *addr, *len): tensor data pointers stay
   valid after safetensors_close. The mapping becomes copy-on-write writable (MAP_PRIVATE: a write
   changes this process's copy of the page, never the file). */
void   safetensors_detach_map(SafeTensors *st, void **addr, size_t *len);
const SafeTensor *safetensors_find(const SafeTensors *st, const char *name);   /* NULL if absent */
const SafeTensor *safetensors_at(const SafeTensors *st, size_t i);            /* i < count */
const char *safetensors_metadata(const SafeTensors *st, const char *key);     /* NULL if absent */

/* Converts tensor `name` (F32, F16, BF16 or F64) into out[numel], after checking that it exists
   and has exactly the shape expect_shape[0..expect_ndim). Errors (STATUS_FORMAT):
   "FILE: tensor NAME has shape [a,b], expected [c,d]", "FILE: no tensor named NAME", wrong dtype. */
Status safetensors_read_f32(const SafeTensors *st, const char *name, const int *expect_shape,
                            int expect_ndim, float *out, Error *err);
Status safetensors_read_real(const SafeTensors *st, const char *name, const int *expect_shape,
                             int expect_ndim, real *out, Error *err);
/* The same into bf16 storage: BF16 tensors are copied as they are, other float dtypes rounded
   (round to nearest even, through f32) chunk by chunk, with no full-size temporary.
   read_real and read_bf16 drop each chunk's file pages from the mapping once read (madvise
   MADV_DONTNEED; reading again pages them back in), so loading a model holds it about once. */
Status safetensors_read_bf16(const SafeTensors *st, const char *name, const int *expect_shape,
                             int expect_ndim, uint16_t *out, Error *err);

/* The same into NF4 / int8 storage (tensor/quant.h), encoded chunk by chunk from f32. */
struct QuantMat;
Status safetensors_read_quant(const SafeTensors *st, const char *name, const int *expect_shape,
                              int expect_ndim, struct QuantMat *q, Error *err);

const char *safetensors_dtype_name(SafeDtype d);     /* "F32", "BF16", ... */
size_t safetensors_dtype_size(SafeDtype d);          /* bytes per element */
int    safetensors_dtype_parse(const char *name, SafeDtype *out);   /* 1 if known */

/* ---- writer ---- */
typedef enum { SAFE_SRC_RAW, SAFE_SRC_F32, SAFE_SRC_F64, SAFE_SRC_GEN } SafeSource;
/* A generated source: writes elements [i0, i0 + n) of the tensor as floats into out (n <= 4096),
   called in ascending i0 order while the file is written (nothing of the tensor is ever held). */
typedef void (*SafeGenFn)(void *ctx, size_t i0, size_t n, float *out);

typedef struct {
    char *name;
    SafeDtype dtype;                 /* dtype in the file */
    SafeSource src;                  /* RAW: data already in dtype's little-endian layout */
    int ndim;
    int64_t shape[SAFE_MAX_DIMS];
    size_t numel;
    const void *data;                /* borrowed: must stay valid until safetensors_write */
    SafeGenFn gen;                   /* SAFE_SRC_GEN: the generator, called with data as ctx */
} SafeWriterEntry;

typedef struct {
    SafeWriterEntry *entries;
    size_t count, cap;
    char **meta;                     /* key0, value0, key1, value1, ... */
    size_t nmeta, cap_meta;          /* number of pairs */
} SafeTensorsWriter;

void safetensors_writer_init(SafeTensorsWriter *w);
/* Raw bytes already in `dtype` (any dtype). Names must be unique and not "__metadata__". */
void safetensors_writer_add(SafeTensorsWriter *w, const char *name, SafeDtype dtype,
                            const int *shape, int ndim, const void *data);
/* Floats converted on write to `as` = F32, F16, BF16 (round to nearest even) or F64. */
void safetensors_writer_add_f32(SafeTensorsWriter *w, const char *name, SafeDtype as,
                                const int *shape, int ndim, const float *data);
void safetensors_writer_add_real(SafeTensorsWriter *w, const char *name, SafeDtype as,
                                 const int *shape, int ndim, const real *data);
/* Floats made on demand by gen(ctx, ...) while the file is written, converted to `as` like the
   above: a tensor of any size written through a 16 KB buffer (ctx borrowed like data). */
void safetensors_writer_add_gen(SafeTensorsWriter *w, const char *name, SafeDtype as,
                                const int *shape, int ndim, SafeGenFn gen, void *ctx);
void safetensors_writer_set_metadata(SafeTensorsWriter *w, const char *key, const char *value);
Status safetensors_write(const SafeTensorsWriter *w, const char *path, Error *err);
void safetensors_writer_free(SafeTensorsWriter *w);

#endif
