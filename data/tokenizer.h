/* data/tokenizer.h — one interface over the tokenizers moetrain reads.
   defines: TokenizerKind, Tokenizer, tokenizer_load, tokenizer_load_bin, tokenizer_load_hf,
            tokenizer_encode, tokenizer_piece, tokenizer_decode, tokenizer_id, tokenizer_free
   Kinds (REFERENCE.md §4.2, §4.7):
     TOKENIZER_LLAMA2C       llama2.c tokenizer.bin: score-greedy BPE, dummy prefix " ",
                             byte fallback id = byte + 3, BOS 1, EOS 2 (tokenizer_bin.c)
     TOKENIZER_HF_SPM        HF tokenizer.json, SentencePiece-style BPE with "▁" and
                             <0xXX> byte fallback, merges by rank (tokenizer_hf*.c)
     TOKENIZER_HF_BYTELEVEL  HF tokenizer.json, GPT-2 ByteLevel BPE (tokenizer_hf*.c)
   Decoding: BOS/EOS and HF special tokens produce no text; "<0xXX>" pieces give the raw byte;
   the piece right after BOS (or at the start of tokenizer_decode) drops one leading space
   (llama2.c's rule; HF's Strip decoder for SentencePiece kinds). */
#ifndef TOKENIZER_H
#define TOKENIZER_H
#include <stddef.h>
#include "tensor/status.h"
#include "data/strmap.h"

typedef enum {
    TOKENIZER_LLAMA2C = 1,
    TOKENIZER_HF_SPM,
    TOKENIZER_HF_BYTELEVEL,
} TokenizerKind;

typedef struct {
    TokenizerKind kind;
    int vocab_size;          /* ids are 0..vocab_size-1 */
    int bos_id, eos_id;      /* -1 when none; callers may override after loading */
    int add_bos;             /* 1 if the format adds BOS by default (llama2.c, HF template) */
    int max_token_length;    /* longest piece in bytes */
    char **pieces;           /* piece i = pieces[i][0..piece_len[i]), as stored (NULL = unused id) */
    int *piece_len;
    float *scores;           /* llama2.c merge scores (NULL for HF kinds) */
    unsigned char *special;  /* 1 = produces no text when decoded (BOS, EOS, HF special) */
    StrMap vocab;            /* piece bytes -> id (first id wins on duplicates) */
    char *blob;              /* storage of the pieces */
    void *impl;              /* kind-specific data (HF: merges, added tokens, options) */
} Tokenizer;

/* Chooses the format from the content: a JSON object (first non-space byte '{', or a ".json"
   name) is an HF tokenizer.json, anything else a llama2.c tokenizer.bin. vocab_size_hint is the
   model's vocab size for tokenizer.bin (which does not store it); 0 = read entries to EOF. For
   tokenizer.json a non-zero hint must be >= the tokenizer's own vocab size. */
Status tokenizer_load(Tokenizer *tk, const char *path, int vocab_size_hint, Error *err);
Status tokenizer_load_bin(Tokenizer *tk, const char *path, int vocab_size_hint, Error *err);
Status tokenizer_load_hf(Tokenizer *tk, const char *path, Error *err);

/* Encodes NUL-terminated UTF-8 text into ids[0..*n_ids), adding BOS / EOS when asked. Fails
   with STATUS_INVALID when more than max_ids ids are needed (*n_ids is then the count needed)
   or when bos/eos is asked but the tokenizer has none. ids may be NULL to only count. */
Status tokenizer_encode(const Tokenizer *tk, const char *text, int bos, int eos, int *ids,
                        int max_ids, int *n_ids, Error *err);

/* The text of token `id` following token `prev_id` (-1 = none), written NUL-terminated into
   buf[0..n) (truncated if needed) and returned. Raw bytes (from <0xXX>) may be partial UTF-8
   sequences. Out-of-range ids give "". */
const char *tokenizer_piece(const Tokenizer *tk, int prev_id, int id, char *buf, size_t n);

/* Decodes ids[0..n) to text as if preceded by BOS (so the dummy-prefix space is dropped).
   Writes at most out_size-1 bytes plus a NUL; returns the full length (like snprintf). */
size_t tokenizer_decode(const Tokenizer *tk, const int *ids, int n, char *out, size_t out_size);

/* The id of a piece given exactly as stored in the vocab (e.g. "▁the", "Ġthe"), or -1. */
int tokenizer_id(const Tokenizer *tk, const char *piece, size_t len);

void tokenizer_free(Tokenizer *tk);

#endif
