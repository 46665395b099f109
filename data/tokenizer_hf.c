/* data/tokenizer_hf.c — placeholder until the JSON reader lands (see tokenizer.h). */
#include "tokenizer_impl.h"
#include <string.h>

Status tokenizer_load_hf(Tokenizer *tk, const char *path, Error *err) {
    memset(tk, 0, sizeof *tk);
    return error_set(err, STATUS_FORMAT, NULL, "%s: HF tokenizer.json not supported yet", path);
}
Status tokenizer_hf_encode(const Tokenizer *tk, const char *text, size_t len, int *out, int *n,
                           Error *err) {
    *n = 0;
    return error_set(err, STATUS_FORMAT, NULL, "HF tokenizer.json not supported yet");
}
size_t tokenizer_hf_piece(const Tokenizer *tk, int id, char *buf, size_t cap) { return 0; }
void tokenizer_hf_free(Tokenizer *tk) {}
