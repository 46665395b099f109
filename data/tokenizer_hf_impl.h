/* data/tokenizer_hf_impl.h — the HF tokenizer.json state shared by tokenizer_hf.c (loading)
   and tokenizer_hf_encode.c (pre-tokenization, BPE, decoding).
   defines: HfAdded, HfImpl, HF_PREPEND_*, hf_byte_char() */
#ifndef TOKENIZER_HF_IMPL_H
#define TOKENIZER_HF_IMPL_H
#include "data/tokenizer_impl.h"

typedef struct {
    const char *content;   /* in the tokenizer blob */
    int len, id;
} HfAdded;

enum { HF_PREPEND_NEVER, HF_PREPEND_ALWAYS, HF_PREPEND_FIRST };

typedef struct {
    PairMap merges;            /* (left id, right id) -> (rank, merged id) */
    HfAdded *added;            /* added tokens, matched in the text before anything else */
    int n_added;
    unsigned char added_first[256];   /* 1 if some added token starts with this byte */
    int unk_id;                /* -1 if none */
    int byte_fallback, fuse_unk, ignore_merges;
    /* SentencePiece kind */
    int replace_spaces;        /* ' ' -> U+2581 */
    int prepend;               /* HF_PREPEND_*: where a U+2581 is prepended */
    int prepend_if_missing;    /* Metaspace: only when the split does not start with U+2581 */
    int metaspace_split;       /* Metaspace split=true: words start at each U+2581 */
    /* ByteLevel kind */
    int digits, individual_digits;     /* Digits pre-tokenizer */
    int add_prefix_space, use_regex;   /* ByteLevel pre-tokenizer */
    int byte_id[256];          /* id of the byte's bytes_to_unicode character, -1 if absent */
} HfImpl;

/* GPT-2 bytes_to_unicode: the code point byte b is shown as. */
static inline int hf_byte_char(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    int k = b <= 32 ? b : b <= 160 ? b - 127 + 33 : 67;   /* rank among the 68 remapped bytes */
    return 256 + k;
}

#endif
