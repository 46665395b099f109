/* optim/demo_task.c — the demo's synthetic multiple-choice task and its byte-level tokenizer.
   Task ("find the match"): a query number and four options; the answer is the letter of the
   option equal to the query, e.g.
       Pick the option equal to the query.
       Question: Find 47
       A. 12
       B. 47
       C. 85
       D. 30
       Answer: B
   Solving it takes a few tokens of reasoning: compare the query's digits with each option's and
   output the letter in front of the match. The answer letter is uniform, so the majority class
   scores 25 %. Tokenizer: llama2.c format with only <unk>, <s>, </s> and the 256 byte tokens,
   so every character is one token. */
#include "demo_task.h"
#include "../data/atomic_file.h"
#include "../tensor/rng.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

Status demo_write_tokenizer(const char *path, Error *err) {
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    int32_t max_len = 6;
    fwrite(&max_len, 4, 1, af.f);
    const char *special[3] = { "<unk>", "\n<s>\n", "\n</s>\n" };
    float score = 0;
    for (int i = 0; i < 3 + 256; i++) {
        char piece[8];
        if (i < 3) snprintf(piece, sizeof piece, "%s", special[i]);
        else snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
        int32_t len = (int32_t)strlen(piece);
        fwrite(&score, 4, 1, af.f);
        fwrite(&len, 4, 1, af.f);
        fwrite(piece, 1, (size_t)len, af.f);
    }
    return atomic_write_commit(&af, err);
}

Status demo_write_split(const char *path, int n, uint64_t seed, Error *err) {
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    Rng rng = rng_derive(seed, 7);
    for (int i = 0; i < n; i++) {
        int opts[4], answer = (int)rng_int(&rng, 4);
        for (int c = 0; c < 4; c++) {
            int fresh;
            do {   /* four distinct two-digit numbers */
                opts[c] = 10 + (int)rng_int(&rng, 90);
                fresh = 1;
                for (int d = 0; d < c; d++) fresh &= opts[d] != opts[c];
            } while (!fresh);
        }
        fprintf(af.f, "{\"question\": \"Find %d\", \"choices\": [\"%d\", \"%d\", \"%d\", \"%d\"], \"answer\": %d}\n",
                opts[answer], opts[0], opts[1], opts[2], opts[3], answer);
    }
    return atomic_write_commit(&af, err);
}
