/* data/tokenizer.h — one interface over the tokenizers moetrain reads.
   defines: TokenizerKind, Tokenizer, tokenizer_load, tokenizer_load_bin, tokenizer_load_hf,
            tokenizer_encode, tokenizer_encode_len, tokenizer_piece, tokenizer_decode, tokenizer_id, tokenizer_free
   Kinds (REFERENCE.md §4.2, §4.7):
     TOKENIZER_LLAMA2C       llama2.c tokenizer.bin: score-greedy BPE, dummy prefix " ",
                             byte fallback id = byte + 3, BOS 1, EOS 2 (tokenizer_bin.c)
     TOKENIZER_HF_SPM        HF tokenizer.json, SentencePiece-style BPE with "▁" and
                             <0xXX> byte fallback, merges by rank (tokenizer_hf*.c)
     TOKENIZER_HF_BYTELEVEL  HF tokenizer.json, GPT-2 ByteLevel BPE (tokenizer_hf*.c)
   Special tokens: encoding with `bos` adds what the format adds by default, i.e. what the model
   expects: llama2.c BOS; HF the special tokens of the post_processor's TemplateProcessing
   (also inside a Sequence): BOS for Llama-2 / Mistral, nothing for GPT-2 / Qwen files
   (add_special_tokens=True of the reference implementation).
   Decoding: BOS/EOS and HF special tokens produce no text. llama2.c: "<0xXX>" pieces give the
   raw byte and the piece after BOS (or the first one) drops one leading space. HF: the file's
   decoder (ByteLevel; Sequence of Replace / ByteFallback / Fuse / Strip; Metaspace), as the
   reference's decode(ids, skip_special_tokens) without clean-up: a Mistral / Llama-2 file drops
   only the first space of the text, a ByteLevel file none. */
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
    int add_bos;             /* 1 if the template starts with bos_id (llama2.c, HF template) */
    int prefix_ids[4], n_prefix;   /* ids `bos` puts before the text (template before $A) */
    int suffix_ids[4], n_suffix;   /* ... and after it (template after $A) */
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

/* Encodes NUL-terminated UTF-8 text into ids[0..*n_ids). bos != 0 adds the format's special
   tokens (prefix_ids before, suffix_ids after: see above); eos != 0 appends eos_id unless the
   suffix already ends with it. Fails with STATUS_INVALID when more than max_ids ids are needed
   (*n_ids is then the count needed) or when eos is asked but the tokenizer has none. ids may
   be NULL to only count. tokenizer_encode_len takes the text as bytes (may hold NULs). */
Status tokenizer_encode(const Tokenizer *tk, const char *text, int bos, int eos, int *ids,
                        int max_ids, int *n_ids, Error *err);
Status tokenizer_encode_len(const Tokenizer *tk, const char *text, size_t len, int bos, int eos,
                            int *ids, int max_ids, int *n_ids, Error *err);

/* The text of token `id` following token `prev_id` (-1 = none), written NUL-terminated into
   buf[0..n) (truncated if needed) and returned. Raw bytes (from <0xXX>) may be partial UTF-8
   sequences. Out-of-range ids give "". */
const char *tokenizer_piece(const Tokenizer *tk, int prev_id, int id, char *buf, size_t n);

/* Decodes ids[0..n) to text (special tokens skipped; see above). Writes at most out_size-1
   bytes plus a NUL; returns the full length (like snprintf). */
size_t tokenizer_decode(const Tokenizer *tk, const int *ids, int n, char *out, size_t out_size);

/* The id of a piece given exactly as stored in the vocab (e.g. "▁the", "Ġthe"), or -1. */
int tokenizer_id(const Tokenizer *tk, const char *piece, size_t len);

void tokenizer_free(Tokenizer *tk);

#endif
