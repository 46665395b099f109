/* tests/support/helpers.c — see test_helpers.h. */
#include "tests/support/helpers.h"
#include "tensor/check.h"
#include "tensor/rng.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int run_cli_captured(CliFn fn, char **argv, char **out) {
    char path[] = "/tmp/moetrain_cli_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int argc = 0;
    while (argv[argc]) argc++;
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    int rc = fn(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    long len = lseek(fd, 0, SEEK_END);
    *out = calloc((size_t)len + 1, 1);
    ck_assert_int_eq(pread(fd, *out, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return rc;
}

/* BOS + 3..7 random prompt tokens (20..49) + the letter token (" A" = 10, " B" = 11, ...) */
void synthetic_parity_set(TokenizedSet *ts, uint64_t seed) {
    memset(ts, 0, sizeof *ts);
    Rng rng = rng_derive(seed, 0);
    ts->n = SYNTHETIC_N;
    ts->ids = xmalloc(SYNTHETIC_N * 9 * sizeof(int));
    ts->offset = xmalloc((SYNTHETIC_N + 1) * sizeof(size_t));
    ts->prompt_len = xmalloc(SYNTHETIC_N * sizeof(int));
    ts->answer_len = xmalloc(SYNTHETIC_N * sizeof(int));
    ts->label = xmalloc(SYNTHETIC_N * sizeof(int));
    ts->n_choices = xmalloc(SYNTHETIC_N * sizeof(int));
    size_t pos = 0;
    for (int i = 0; i < SYNTHETIC_N; i++) {
        ts->offset[i] = pos;
        int plen = 4 + (int)rng_int(&rng, 5);
        ts->ids[pos++] = 1;
        for (int j = 1; j < plen; j++) ts->ids[pos++] = 20 + (int)rng_int(&rng, 30);
        ts->label[i] = ts->ids[pos - 1] % 2;          /* learnable: parity of the last prompt token */
        ts->ids[pos++] = 10 + ts->label[i];
        ts->prompt_len[i] = plen;
        ts->answer_len[i] = 1;
        ts->n_choices[i] = 2;
    }
    ts->offset[SYNTHETIC_N] = pos;
    ts->n_ids = pos;
    ts->bos_id = 1;
    ts->eos_id = 2;
    for (int c = 0; c < MC_MAX_CHOICES; c++) {     /* every letter set: the single-pass scorer */
        ts->letter_tok[c][0] = 10 + c;
        ts->letter_ntok[c] = 1;
        ts->letter_ids[c] = 10 + c;
    }
    ts->letters_ok = 1;
}

int run_cli_concat(CliFn fn, char *const *head, char *const *extra, char **out) {
    char *argv[128];
    int n = 0;
    for (int i = 0; head[i]; i++) { ck_assert_int_lt(n, 127); argv[n++] = head[i]; }
    for (int i = 0; extra && extra[i]; i++) { ck_assert_int_lt(n, 127); argv[n++] = extra[i]; }
    argv[n] = NULL;
    char *o = NULL;
    int rc = run_cli_captured(fn, argv, &o);
    if (out) *out = o;
    else free(o);
    return rc;
}

void run_cli_expect_error(CliFn fn, char *const *head, char *const *extra, const char *want) {
    char path[] = "/tmp/moetrain_err_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = run_cli_concat(fn, head, extra, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char msg[2048] = { 0 };
    ck_assert_int_ge(pread(fd, msg, sizeof msg - 1, 0), 0);
    close(fd);
    unlink(path);
    ck_assert_msg(rc == 1, "%s: exit %d, want 1 (stderr: %s)", head[0], rc, msg);
    ck_assert_msg(strstr(msg, want) != NULL, "%s: error '%s' does not mention '%s'", head[0], msg, want);
}

real xorshift_unit(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (real)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
