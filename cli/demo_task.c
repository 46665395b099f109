/* cli/demo_task.c — the demo's synthetic multiple-choice task and its byte-level tokenizer.
   Task ("sum mod 4"): two digits a, b; the answer is the letter of (a + b) mod 4, e.g.
       Solve.
       Question: 3+5 mod 4
       A. 0
       B. 1
       C. 2
       D. 3
       Answer: A
   Solving it takes a few tokens' worth of reasoning: read both digits, combine them, map the
   residue to its letter. Residues are near-uniform, so the majority class scores about 25 %. Tokenizer: llama2.c format with only <unk>, <s>, </s> and the 256 byte tokens,
   so every character is one token. */
#include "cli/demo_task.h"
#include "data/atomic_file.h"
#include "tensor/rng.h"
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

Status demo_write_split(const char *path, int n, int modulus, uint64_t seed, Error *err) {
    AtomicFile af;
    Status s = atomic_write_begin(&af, path, err);
    if (s) return s;
    Rng rng = rng_derive(seed, 7);
    for (int i = 0; i < n; i++) {
        int a = (int)rng_int(&rng, 10), b = (int)rng_int(&rng, 10);
        fprintf(af.f, "{\"question\": \"%d+%d mod %d\", \"choices\": [\"0\", \"1\", \"2\", \"3\"], "
                "\"answer\": %d}\n", a, b, modulus, (a + b) % modulus);
    }
    return atomic_write_commit(&af, err);
}
