/* tests/support/config_edit.c — see config_edit.h */
#include "tests/support/config_edit.h"
#include "tests/support/model_fixtures.h"
#include "tensor/check.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int config_edit_available(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
    static int noted;
    if (!noted++) fprintf(stderr, "note: %s absent, the real-config tests are skipped\n", dir);
    return 0;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = xmalloc((size_t)n + 1);
    ck_assert_int_eq((long)fread(t, 1, (size_t)n, f), n);
    t[n] = 0;
    fclose(f);
    return t;
}

/* text with the first occurrence of find replaced (a new string; the old one is freed) */
static char *replace_first(char *text, const char *find, const char *repl) {
    char *at = strstr(text, find);
    ck_assert_msg(at != NULL, "edit: \"%s\" not found in the config", find);
    size_t head = (size_t)(at - text), lf = strlen(find), lr = strlen(repl), tail = strlen(at + lf);
    char *out = xmalloc(head + lr + tail + 1);
    memcpy(out, text, head);
    memcpy(out + head, repl, lr);
    memcpy(out + head + lr, at + lf, tail + 1);
    free(text);
    return out;
}

char *config_edit_copy(const char *dir, const char *model, const char *const *edits) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, model);
    char *text = read_text(path);
    for (int i = 0; edits && edits[i]; i += 2) text = replace_first(text, edits[i], edits[i + 1]);
    char *tmp = tmp_dir_new();
    snprintf(path, sizeof path, "%s/config.json", tmp);
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
    free(text);
    return tmp;
}

void config_edit_free(char *tmp_dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    ck_assert_int_eq(system(cmd), 0);
    free(tmp_dir);
}

int config_set_number(char **text, const char *key, long value) {
    char pat[128], num[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char *at = strstr(*text, pat);
    if (!at) return 0;
    char *v = at + strlen(pat);
    while (*v == ' ') v++;
    size_t len = strspn(v, "0123456789.eE+-");
    ck_assert_msg(len > 0, "\"%s\" is not followed by a number", key);
    snprintf(num, sizeof num, "%ld", value);
    size_t head = (size_t)(v - *text), tail = strlen(v + len);
    char *out = xmalloc(head + strlen(num) + tail + 1);
    memcpy(out, *text, head);
    strcpy(out + head, num);
    memcpy(out + head + strlen(num), v + len, tail + 1);
    free(*text);
    *text = out;
    return 1;
}
