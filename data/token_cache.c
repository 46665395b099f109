/* data/token_cache.c — TokenizedSet cache files: hashed keys, atomic save, validating load
   (format in token_cache.h). */
#include "data/token_cache.h"
#include "data/atomic_file.h"
#include "data/file_read.h"
#include "tensor/check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAGIC "MTTOKCAC"
#define CACHE_VERSION 1u
#define ENDIAN_TAG 0x01020304u
#define N_HDR_INTS (6 + MC_MAX_CHOICES * (2 + MC_LETTER_MAX_TOK))

uint64_t fnv1a64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

Status hash_file(const char *path, uint64_t *h, Error *err) {
    char *buf;
    size_t len;
    Status st = file_read_all(path, &buf, &len, err);
    if (st) return st;
    *h = fnv1a64(buf, len, *h);
    free(buf);
    return STATUS_OK;
}

Status token_cache_keys(const char *tokenizer_path, const McDataset *ds, const PromptConfig *pc,
                        uint64_t *tok_hash, uint64_t *data_hash, Error *err) {
    *tok_hash = FNV64_INIT;
    Status st = hash_file(tokenizer_path, tok_hash, err);
    uint64_t h = FNV64_INIT;
    for (int i = 0; !st && i < ds->n_files; i++) {
        st = hash_file(ds->files[i], &h, err);
        h = fnv1a64("|", 1, h);
    }
    if (st) return st;
    const char *ins = pc->instruction ? pc->instruction : "";
    int32_t v[5] = { (int32_t)pc->style, pc->max_len, pc->add_eos, PROMPT_FORMAT_VERSION, pc->instruction != NULL };
    h = fnv1a64(ds->task, strlen(ds->task) + 1, h);
    h = fnv1a64(v, sizeof v, h);
    *data_hash = fnv1a64(ins, strlen(ins) + 1, h);
    return STATUS_OK;
}

/* header ints in file order */
static void header_ints(const TokenizedSet *ts, int32_t *v) {
    int k = 0;
    v[k++] = ts->n;
    v[k++] = ts->max_len;
    v[k++] = ts->bos_id;
    v[k++] = ts->eos_id;
    v[k++] = ts->n_truncated;
    v[k++] = ts->letters_ok;
    for (int c = 0; c < MC_MAX_CHOICES; c++) v[k++] = ts->letter_ntok[c];
    for (int c = 0; c < MC_MAX_CHOICES; c++)
        for (int j = 0; j < MC_LETTER_MAX_TOK; j++) v[k++] = ts->letter_tok[c][j];
    for (int c = 0; c < MC_MAX_CHOICES; c++) v[k++] = ts->letter_ids[c];
}

static void put(FILE *f, uint64_t *h, const void *p, size_t n) {
    fwrite(p, 1, n, f);
    *h = fnv1a64(p, n, *h);
}

Status token_cache_save(const char *path, uint64_t tok_hash, uint64_t data_hash, const TokenizedSet *ts,
                        Error *err) {
    AtomicFile af;
    Status st = atomic_write_begin(&af, path, err);
    if (st) return st;
    uint64_t h = FNV64_INIT, n_ids = ts->n_ids;
    uint32_t ver[2] = { CACHE_VERSION, ENDIAN_TAG };
    int32_t hdr[N_HDR_INTS];
    header_ints(ts, hdr);
    put(af.f, &h, CACHE_MAGIC, 8);
    put(af.f, &h, ver, sizeof ver);
    put(af.f, &h, &tok_hash, 8);
    put(af.f, &h, &data_hash, 8);
    put(af.f, &h, hdr, sizeof hdr);
    put(af.f, &h, &n_ids, 8);
    size_t n = (size_t)ts->n * sizeof(int);
    put(af.f, &h, ts->prompt_len, n);
    put(af.f, &h, ts->answer_len, n);
    put(af.f, &h, ts->label, n);
    put(af.f, &h, ts->n_choices, n);
    put(af.f, &h, ts->ids, ts->n_ids * sizeof(int));
    fwrite(&h, 8, 1, af.f);
    return atomic_write_commit(&af, err);
}

/* Restores the header fields and checks every per-example length; NULL or a message. */
static const char *restore(TokenizedSet *ts, const int32_t *v, const unsigned char *arr, uint64_t n_ids) {
    int k = 6;
    ts->max_len = v[1], ts->bos_id = v[2], ts->eos_id = v[3], ts->n_truncated = v[4], ts->letters_ok = v[5];
    for (int c = 0; c < MC_MAX_CHOICES; c++) ts->letter_ntok[c] = v[k++];
    for (int c = 0; c < MC_MAX_CHOICES; c++)
        for (int j = 0; j < MC_LETTER_MAX_TOK; j++) ts->letter_tok[c][j] = v[k++];
    for (int c = 0; c < MC_MAX_CHOICES; c++) ts->letter_ids[c] = v[k++];
    size_t n = (size_t)ts->n, nb = n * sizeof(int);
    int *a[4] = { ts->prompt_len, ts->answer_len, ts->label, ts->n_choices };
    for (int j = 0; j < 4; j++) memcpy(a[j], arr + (size_t)j * nb, nb);
    memcpy(ts->ids, arr + 4 * nb, (size_t)n_ids * sizeof(int));
    ts->n_ids = (size_t)n_ids;
    for (size_t i = 0; i < n; i++) {
        if (ts->prompt_len[i] < 1 || ts->answer_len[i] < 0 || ts->n_choices[i] < 1 ||
            ts->n_choices[i] > MC_MAX_CHOICES || ts->label[i] < -1 || ts->label[i] >= ts->n_choices[i])
            return "corrupt: example lengths / labels out of range";
        ts->offset[i + 1] = ts->offset[i] + (size_t)ts->prompt_len[i] + (size_t)ts->answer_len[i];
        if (ts->offset[i + 1] > ts->n_ids) return "corrupt: example lengths exceed the stored ids";
    }
    return ts->offset[n] == ts->n_ids ? NULL : "corrupt: example lengths do not add up to the stored ids";
}

Status token_cache_load(const char *path, uint64_t tok_hash, uint64_t data_hash, TokenizedSet *ts,
                        Error *err) {
    memset(ts, 0, sizeof *ts);
    char *buf;
    size_t len;
    Status st = file_read_all(path, &buf, &len, err);
    if (st) return st;
    const size_t fixed = 8 + 8 + 16 + N_HDR_INTS * 4 + 8;
    const char *msg = NULL;
    uint32_t ver[2];
    uint64_t th, dh, n_ids = 0, sum;
    int32_t v[N_HDR_INTS];
    if (len < fixed + 8 || memcmp(buf, CACHE_MAGIC, 8) != 0) msg = "corrupt: bad magic or truncated header";
    if (!msg) {
        memcpy(ver, buf + 8, 8), memcpy(&th, buf + 16, 8), memcpy(&dh, buf + 24, 8);
        memcpy(v, buf + 32, sizeof v), memcpy(&n_ids, buf + fixed - 8, 8), memcpy(&sum, buf + len - 8, 8);
        if (ver[0] != CACHE_VERSION || ver[1] != ENDIAN_TAG) msg = "stale: other cache version or byte order";
        else if (th != tok_hash) msg = "stale: built with another tokenizer";
        else if (dh != data_hash) msg = "stale: built from other data or prompt settings";
        else if (fnv1a64(buf, len - 8, FNV64_INIT) != sum) msg = "corrupt: checksum mismatch";
        else if (v[0] < 0 || n_ids > len || len != fixed + 8 + ((size_t)v[0] * 4 + (size_t)n_ids) * 4)
            msg = "corrupt: size does not match the header";
    }
    if (!msg) {
        ts->n = v[0];
        ts->ids = xmalloc((size_t)(n_ids ? n_ids : 1) * sizeof(int));
        ts->offset = xcalloc((size_t)ts->n + 1, sizeof(size_t));
        int **a[4] = { &ts->prompt_len, &ts->answer_len, &ts->label, &ts->n_choices };
        for (int j = 0; j < 4; j++) *a[j] = xmalloc(((size_t)ts->n + 1) * sizeof(int));
        msg = restore(ts, v, (const unsigned char *)buf + fixed, n_ids);
        if (msg) tokenized_set_free(ts);
    }
    free(buf);
    if (msg) return error_set(err, STATUS_FORMAT, "the cache is rebuilt", "%s: %s", path, msg);
    return STATUS_OK;
}

Status dataset_tokenize_cached(const McDataset *ds, const Tokenizer *tk, const char *tokenizer_path,
                               const PromptConfig *pc, const char *cache_path, TokenizedSet *out, int *from_cache,
                               Error *err) {
    uint64_t th = 0, dh = 0;
    Error ignored;
    if (from_cache) *from_cache = 0;
    int keyed = cache_path && token_cache_keys(tokenizer_path, ds, pc, &th, &dh, &ignored) == STATUS_OK;
    Status ls = keyed ? token_cache_load(cache_path, th, dh, out, &ignored) : STATUS_IO;
    if (ls == STATUS_OK) {
        int ok = out->n == ds->n;
        for (size_t i = 0; ok && i < out->n_ids; i++) ok = out->ids[i] >= 0 && out->ids[i] < tk->vocab_size;
        if (ok) {
            if (from_cache) *from_cache = TOKEN_CACHE_HIT;
            return STATUS_OK;
        }
        tokenized_set_free(out);
        error_set(&ignored, STATUS_FORMAT, NULL, "%s: %zu ids, %d examples do not fit this data set and tokenizer",
                  cache_path, out->n_ids, ds->n);
        ls = STATUS_FORMAT;
    }
    Status st = dataset_tokenize(ds, tk, pc, out, err);
    if (!st && ls != STATUS_IO) {   /* a cache file was there but unusable: say so */
        if (from_cache) *from_cache = TOKEN_CACHE_REBUILT;
        if (err) *err = ignored;
    }
    if (!st && keyed) token_cache_save(cache_path, th, dh, out, &ignored);
    return st;
}
