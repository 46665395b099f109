/* data/tokenizer_impl.h — internals shared by tokenizer.c, tokenizer_bin.c, tokenizer_hf*.c.
   defines: tokenizer_alloc, tokenizer_bin_encode, tokenizer_hf_encode,
            tokenizer_hf_piece, tokenizer_hf_decode, tokenizer_hf_free, byte_piece_value
   The kind-specific encoders give the ids WITHOUT BOS/EOS: tokenizer_bin_encode into
   out[0..2 * len + 8), tokenizer_hf_encode into a malloc'ed array it grows as needed. */
#ifndef TOKENIZER_IMPL_H
#define TOKENIZER_IMPL_H
#include "data/tokenizer.h"

/* Allocates pieces/piece_len/special for vocab_size ids and a blob of blob_size bytes. */
void tokenizer_alloc(Tokenizer *tk, int vocab_size, size_t blob_size);

Status tokenizer_bin_encode(const Tokenizer *tk, const char *text, size_t len, int *out,
                            int *n, Error *err);
Status tokenizer_hf_encode(const Tokenizer *tk, const char *text, size_t len, int **out,
                           size_t *n, Error *err);
/* Appends the decoded bytes of one HF token to buf (capacity cap), returns the byte count
   (not truncated: may exceed cap, only cap bytes are written). */
size_t tokenizer_hf_piece(const Tokenizer *tk, int id, char *buf, size_t cap);
/* tokenizer_decode for the HF kinds (data/tokenizer_hf_decode.c). */
size_t tokenizer_hf_decode(const Tokenizer *tk, const int *ids, int n, char *out, size_t out_size);
void tokenizer_hf_free(Tokenizer *tk);

/* If piece[0..len) is "<0xHH>", returns the byte value 0..255, else -1. */
int byte_piece_value(const char *piece, size_t len);

#endif
