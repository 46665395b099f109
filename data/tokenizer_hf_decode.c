/* data/tokenizer_hf_decode.c — decoding with an HF tokenizer.json (§4.7), as the reference's
   decode(ids, skip_special_tokens: true) without clean-up:
   - special tokens produce nothing;
   - ByteLevel decoder: added tokens give their content, other pieces map back through
     bytes_to_unicode;
   - SentencePiece decoders: Replace "▁" -> " ", ByteFallback "<0xXX>" -> the byte, then
     Strip(" ", start, stop) of the fused text (Mistral / Llama-2: only the first space of the
     whole text goes) or of each piece.
   Bytes are returned as they are (a partial UTF-8 sequence is not replaced by U+FFFD).
   tokenizer_hf_piece is the streaming form used by tokenizer_piece (one token at a time). */
#include "data/tokenizer_hf_impl.h"
#include "data/bpe.h"
#include "tensor/check.h"
#include <stdlib.h>
#include <string.h>

#define META "\xe2\x96\x81"

/* Inverse of hf_byte_char: the byte shown as code point cp, or -1. */
static int hf_char_byte(unsigned cp) {
    if (cp < 256) return hf_byte_char((int)cp) == (int)cp ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int k = (int)cp - 256;
    return k <= 32 ? k : k <= 66 ? k - 33 + 127 : 173;
}

static size_t put(char *buf, size_t cap, size_t k, char c) {
    if (k < cap) buf[k] = c;
    return k + 1;
}

/* Bytes of piece `id` (no stripping) into buf[0..cap); returns the full count. */
static size_t piece_bytes(const Tokenizer *tk, int id, char *buf, size_t cap) {
    const HfImpl *hf = tk->impl;
    const char *p = tk->pieces[id];
    size_t len = (size_t)tk->piece_len[id], k = 0;
    int bytelevel = hf->dec_kind == HF_DEC_BYTELEVEL, added = hf->is_added && hf->is_added[id];
    int b = byte_piece_value(p, len);
    if (!bytelevel && hf->dec_byte_fallback && b >= 0) return put(buf, cap, 0, (char)b);
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_char_len(p + i, len - i);
        unsigned cp = cl == 2 ? ((unsigned)(p[i] & 0x1F) << 6) | (unsigned)(p[i + 1] & 0x3F)
                              : (unsigned char)p[i];
        int byte = -1;
        if (bytelevel && !added && cl <= 2) byte = hf_char_byte(cp);
        if (!bytelevel && hf->dec_replace && cl == 3 && !memcmp(p + i, META, 3)) byte = ' ';
        if (byte >= 0) k = put(buf, cap, k, (char)byte);
        else for (size_t c = 0; c < cl; c++) k = put(buf, cap, k, p[i + c]);
        i += cl;
    }
    return k;
}

size_t tokenizer_hf_piece(const Tokenizer *tk, int id, char *buf, size_t cap) {
    return piece_bytes(tk, id, buf, cap);
}

/* Strip(" ", start, stop) of text[0..*n) in place. */
static void strip_spaces(char *text, size_t *n, int start, int stop) {
    size_t a = 0;
    while ((int)a < start && a < *n && text[a] == ' ') a++;
    memmove(text, text + a, *n - a);
    *n -= a;
    for (int k = 0; k < stop && *n > 0 && text[*n - 1] == ' '; k++) (*n)--;
}

size_t tokenizer_hf_decode(const Tokenizer *tk, const int *ids, int n, char *out, size_t out_size) {
    const HfImpl *hf = tk->impl;
    size_t cap = 64, total = 0, piece_cap = (size_t)tk->max_token_length + 8;
    char *text = xmalloc(cap);
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= tk->vocab_size || !tk->pieces[id] || tk->special[id]) continue;
        if (total + piece_cap > cap) text = xrealloc(text, cap = 2 * (total + piece_cap));
        size_t len = piece_bytes(tk, id, text + total, piece_cap);
        if (hf->dec_kind == HF_DEC_PIECES && !hf->dec_strip_fused)
            strip_spaces(text + total, &len, hf->dec_strip_start, hf->dec_strip_stop);
        total += len;
    }
    if (hf->dec_kind == HF_DEC_PIECES && hf->dec_strip_fused)
        strip_spaces(text, &total, hf->dec_strip_start, hf->dec_strip_stop);
    if (out_size > 0) {
        size_t k = total < out_size - 1 ? total : out_size - 1;
        memcpy(out, text, k);
        out[k] = '\0';
    }
    free(text);
    return total;
}
