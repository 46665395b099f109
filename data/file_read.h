/* data/file_read.h — whole-file input: one file read into one malloc'ed buffer (tokenizer.bin,
   GLUE/CommonsenseQA task files, token caches, JSON documents). The output side, files written
   so a reader never sees a torn one, is data/atomic_file.h.
   defines: file_read_all */
#ifndef FILE_READ_H
#define FILE_READ_H
#include <stddef.h>
#include "tensor/status.h"

/* Reads all of PATH into *data (malloc'ed, NUL-terminated; *len excludes the NUL; the caller
   frees it). Errors (STATUS_IO) name the path and the reason: "cannot open PATH: <strerror>",
   "cannot read PATH after N bytes: <strerror>". */
Status file_read_all(const char *path, char **data, size_t *len, Error *err);

#endif
