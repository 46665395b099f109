/* data/tokenizer_hf_impl.h — the HF tokenizer.json state shared by tokenizer_hf.c (vocab,
   merges, added tokens), tokenizer_hf_pipeline.c (normalizer, pre-tokenizer, post-processor,
   decoder), tokenizer_hf_encode.c (encoding) and tokenizer_hf_decode.c (decoding).
   defines: HfAdded, HfPreStep, HfImpl, HF_PREPEND_*, HF_PRE_*, HF_DEC_*, hf_byte_char(),
            hf_load_pipeline() */
#ifndef TOKENIZER_HF_IMPL_H
#define TOKENIZER_HF_IMPL_H
#include "data/tokenizer_impl.h"
#include "data/json.h"
#include "data/pretok.h"

typedef struct {
    const char *content;   /* in the tokenizer blob */
    int len, id;
    int normalized;        /* matched in the normalized text (normalized: true + a normalizer) */
    int lstrip, rstrip;    /* the text before / after loses its trailing / leading spaces */
} HfAdded;

enum { HF_PREPEND_NEVER, HF_PREPEND_ALWAYS, HF_PREPEND_FIRST };
enum { HF_PRE_SPLIT = 1, HF_PRE_DIGITS, HF_PRE_BYTELEVEL };
enum { HF_DEC_BYTELEVEL = 1, HF_DEC_PIECES };
#define HF_MAX_PRE 8

/* One byte-level pre-tokenizer of the Sequence, applied in order to every piece. */
typedef struct {
    int kind;                  /* HF_PRE_* */
    PretokPattern pattern;     /* Split: the regex (behavior Isolated) */
    int individual_digits;     /* Digits */
    int add_prefix_space, use_regex;   /* ByteLevel */
} HfPreStep;

typedef struct {
    PairMap merges;            /* (left id, right id) -> (rank, merged id) */
    HfAdded *added;            /* added tokens, matched in the text before anything else */
    int n_added;
    unsigned char added_first[256];   /* 1 if some added token starts with this byte */
    unsigned char *is_added;   /* [vocab_size] 1 for the ids of added tokens */
    int has_normalizer;        /* a normalizer is present (added tokens' "normalized" counts) */
    int nfc;                   /* NFC normalizer */
    int unk_id;                /* -1 if none */
    int byte_fallback, fuse_unk, ignore_merges;
    /* SentencePiece kind */
    int replace_spaces;        /* ' ' -> U+2581 */
    int prepend;               /* HF_PREPEND_*: where a U+2581 is prepended */
    int prepend_if_missing;    /* Metaspace: only when the split does not start with U+2581 */
    int metaspace_split;       /* Metaspace split=true: words start at each U+2581 */
    int spm_cut;               /* no piece has U+2581 after another character */
    /* ByteLevel kind */
    HfPreStep pre[HF_MAX_PRE]; /* the pre-tokenizers, the last one is ByteLevel */
    int n_pre;
    int byte_id[256];          /* id of the byte's bytes_to_unicode character, -1 if absent */
    /* decoder */
    int dec_kind;              /* HF_DEC_*: byte-level pieces, or SentencePiece pieces: */
    int dec_replace;           /* Replace "▁" -> " " (Metaspace decoder too) */
    int dec_byte_fallback;     /* ByteFallback: "<0xXX>" -> the byte */
    int dec_strip_start, dec_strip_stop;   /* Strip(" ", start, stop) ... */
    int dec_strip_fused;       /* ... of the whole text (after Fuse), else of each token */
} HfImpl;

/* GPT-2 bytes_to_unicode: the code point byte b is shown as. */
static inline int hf_byte_char(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    int k = b <= 32 ? b : b <= 160 ? b - 127 + 33 : 67;   /* rank among the 68 remapped bytes */
    return 256 + k;
}

typedef struct {
    const char *path;
    Tokenizer *tk;
    HfImpl *hf;
    size_t blob_used;
    Error *err;
} HfLoader;

/* Status STATUS_FORMAT with "path:line:col: message" for the JSON value v. */
Status hf_bad(HfLoader *L, const JsonValue *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *hf_type_of(const JsonValue *v);
/* normalizer, pre_tokenizer, post_processor and decoder of the document root; sets tk->kind. */
Status hf_load_pipeline(HfLoader *L, const JsonValue *root);

#endif
