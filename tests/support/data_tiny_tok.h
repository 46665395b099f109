/* tests/support/data_tiny_tok.h — a tiny llama2.c tokenizer.bin for the data tests whose encodings
   can be derived by hand (every byte one token, except " "+A..H which merge into one letter
   piece), plus helpers to build small datasets and a plain prompt config. */
#ifndef DATA_TINY_TOK_H
#define DATA_TINY_TOK_H
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/batch.h"
#include "data/prompt.h"

/* ids: 0 <unk>, 1 BOS, 2 EOS, 3..258 <0xXX> (byte b -> b + 3), 259 " ", 260..267 "A".."H",
   268..275 " A".." H" */
enum { SPACE = 259, LET = 260, SLET = 268, N_VOCAB = 276 };

static inline void dtok_put_entry(FILE *f, float score, const char *s) {
    int32_t len = (int32_t)strlen(s);
    fwrite(&score, 4, 1, f);
    fwrite(&len, 4, 1, f);
    fwrite(s, 1, (size_t)len, f);
}

static inline char *tiny_tokenizer(const char *dir, Tokenizer *tk) {
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/tok.bin", dir);
    FILE *f = fopen(path, "wb");
    int32_t mtl = 6;
    fwrite(&mtl, 4, 1, f);
    dtok_put_entry(f, 0, "<unk>");
    dtok_put_entry(f, 0, "\n<s>\n");
    dtok_put_entry(f, 0, "\n</s>\n");
    char p[8];
    for (int b = 0; b < 256; b++) {
        snprintf(p, sizeof p, "<0x%02X>", b);
        dtok_put_entry(f, 0, p);
    }
    dtok_put_entry(f, 0, " ");
    for (int c = 0; c < 8; c++) dtok_put_entry(f, 0, (char[]){ (char)('A' + c), 0 });
    for (int c = 0; c < 8; c++) dtok_put_entry(f, 10, (char[]){ ' ', (char)('A' + c), 0 });
    fclose(f);
    Error err = { 0 };
    ck_assert_msg(tokenizer_load(tk, path, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(tk->vocab_size, N_VOCAB);
    return path;
}

static inline void add_q(McDataset *ds, const char *q, int label) {
    McExample *e = mc_dataset_add(ds);
    e->context = mc_strdup(ds, q);
    const char *ch[2] = { "x", "y" };
    mc_dataset_set_choices(ds, e, ch, 2);
    e->label = label;
    e->id = mc_strdup(ds, q);
}

static inline void plain_config(PromptConfig *pc) {
    prompt_config_default(pc);
    pc->style = PROMPT_PLAIN;
    pc->instruction = "I";
    pc->max_len = 0;
}

#endif
