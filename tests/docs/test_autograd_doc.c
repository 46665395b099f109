/* tests/docs/test_autograd_doc.c — docs/autograd.md cannot drift from the tree. The page marks
   each code block it quotes with an HTML comment (invisible when rendered) on the line before
   the opening fence:
     <!-- file: PATH -->      the blocks marked with PATH, joined by one blank line, ARE the file
     <!-- excerpt: PATH -->   the block's lines appear in PATH, in a row, from a line start
   Every marked block is compared with the tree, and the whole-file blocks of the worked example
   (the op gelu_tanh, its header and its test) must be there, so deleting the markers cannot make
   the test pass. The checker also runs on altered copies of the page, each of which must fail
   with a message naming the page line and the file. */
#include "tests/support/suites.h"
#include <stdio.h>
#include <stdlib.h>

#define DOC "docs/autograd.md"
#define MAX_FILES 8
#define MAX_LINES 1024

typedef struct {
    char path[200];
    char text[1 << 15];          /* the blocks so far, joined by "\n" */
    size_t len;
    int page_line[MAX_LINES];    /* page line of each line of text (a joining blank line: the
                                    closing fence of the block before it) */
    int n_lines;
} DocFile;

typedef struct {
    DocFile files[MAX_FILES];
    int n_files, n_excerpts, problems;
    char msg[512];               /* the first problem */
} DocCheck;

#define PROBLEM(dc, ...) do { if (!(dc)->problems++) snprintf((dc)->msg, sizeof (dc)->msg, __VA_ARGS__); } while (0)

/* the whole file, NUL-terminated (malloc'd), or NULL when it cannot be opened */
static char *read_or_null(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, k;
    char *s = malloc(cap);
    while ((k = fread(s + n, 1, cap - n - 1, f)) > 0)
        if ((n += k) + 1 == cap) s = realloc(s, cap *= 2);
    fclose(f);
    s[n] = 0;
    return s;
}

/* PATH of a marker line "<!-- KIND: PATH -->" into path; 0 if the line is no such marker */
static int marker(const char *line, const char *kind, char *path, size_t cap) {
    char head[32];
    snprintf(head, sizeof head, "<!-- %s: ", kind);
    if (strncmp(line, head, strlen(head)) != 0) return 0;
    const char *p = line + strlen(head), *end = strstr(p, " -->"), *nl = strchr(p, '\n');
    if (!end || (nl && end > nl) || (size_t)(end - p) >= cap) return 0;
    memcpy(path, p, (size_t)(end - p));
    path[end - p] = 0;
    return 1;
}

/* 1 if block occurs in text starting at a line start */
static int has_lines(const char *text, const char *block) {
    for (const char *p = strstr(text, block); p; p = strstr(p + 1, block))
        if (p == text || p[-1] == '\n') return 1;
    return 0;
}

static DocFile *doc_file(DocCheck *dc, const char *path) {
    for (int i = 0; i < dc->n_files; i++)
        if (strcmp(dc->files[i].path, path) == 0) return &dc->files[i];
    ck_assert_int_lt(dc->n_files, MAX_FILES);
    DocFile *f = &dc->files[dc->n_files++];
    snprintf(f->path, sizeof f->path, "%s", path);
    return f;
}

/* appends the block's text [b, e) (its first line is page line `line`) to f, after a blank line
   if f already has text */
static void append_block(DocFile *f, const char *b, const char *e, int line) {
    if (f->len) {
        ck_assert_int_lt(f->n_lines, MAX_LINES);
        f->text[f->len++] = '\n';
        f->page_line[f->n_lines] = f->page_line[f->n_lines - 1] + 1;   /* the previous closing fence */
        f->n_lines++;
    }
    ck_assert_msg(f->len + (size_t)(e - b) < sizeof f->text, "%s: blocks for %s too long", DOC, f->path);
    memcpy(f->text + f->len, b, (size_t)(e - b));
    f->len += (size_t)(e - b);
    f->text[f->len] = 0;
    for (const char *p = b; p < e; p++) {
        if (*p != '\n') continue;
        ck_assert_int_lt(f->n_lines, MAX_LINES);
        f->page_line[f->n_lines++] = line++;
    }
}

/* the first line where f's blocks and the file differ, as a problem naming both lines */
static void compare_whole(DocCheck *dc, const DocFile *f, const char *file) {
    const char *a = f->text, *b = file;
    int k = 0;                                  /* index of the line being compared */
    while (*a && *a == *b) k += *a++ == '\n', b++;
    if (!*a && !*b) return;
    while (a > f->text && a[-1] != '\n') a--;
    while (b > file && b[-1] != '\n') b--;
    int line = f->n_lines ? f->page_line[k < f->n_lines ? k : f->n_lines - 1] : 0;
    PROBLEM(dc, "%s:%d: the page's %s differs from the file at its line %d: page \"%.*s\", file \"%.*s\"", DOC,
            line, f->path, k + 1, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* the lines of a text: start pointers, lengths without the '\n' */
typedef struct { const char *s; int len; } Line;

static Line *split_lines(const char *text, int *n) {
    int cap = 1;
    for (const char *p = text; *p; p++) cap += *p == '\n';
    Line *l = calloc((size_t)cap, sizeof *l);
    *n = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - p) : (int)strlen(p);
        l[(*n)++] = (Line){ p, len };
        p += len + (e != NULL);
    }
    return l;
}

/* the block opened by the fence at line i (0-based): its text (malloc'd, every line ending in
   '\n'), and *close, the index of the closing fence (n if none) */
static char *block_text(const Line *l, int n, int i, int *close) {
    int j = i + 1;
    while (j < n && !(l[j].len == 3 && strncmp(l[j].s, "```", 3) == 0)) j++;
    *close = j;
    const char *b = i + 1 < n ? l[i + 1].s : l[i].s + l[i].len, *e = j < n ? l[j].s : b;
    return strndup(b, (size_t)(e > b ? e - b : 0));
}

/* checks every marked block of the page text doc against the files under the current directory */
static void doc_check(DocCheck *dc, const char *doc) {
    memset(dc, 0, sizeof *dc);
    int n;
    Line *l = split_lines(doc, &n);
    for (int i = 0; i < n; i++) {
        char path[200];
        int whole = marker(l[i].s, "file", path, sizeof path);
        if (!whole && !marker(l[i].s, "excerpt", path, sizeof path)) continue;
        if (i + 1 >= n || strncmp(l[i + 1].s, "```", 3) != 0) {
            PROBLEM(dc, "%s:%d: the marker for %s is not followed by a ``` block", DOC, i + 1, path);
            continue;
        }
        int close;
        char *block = block_text(l, n, i + 1, &close);
        if (close >= n) PROBLEM(dc, "%s:%d: the block for %s is not closed", DOC, i + 2, path);
        else if (whole) append_block(doc_file(dc, path), block, block + strlen(block), i + 3);
        else {
            dc->n_excerpts++;
            char *file = read_or_null(path);
            if (!file) PROBLEM(dc, "%s:%d: cannot read %s", DOC, i + 3, path);
            else if (!has_lines(file, block))
                PROBLEM(dc, "%s:%d: this excerpt of %s is not in the file: \"%.*s\"...", DOC, i + 3, path,
                        (int)strcspn(block, "\n"), block);
            free(file);
        }
        free(block);
        i = close;
    }
    free(l);
    for (int i = 0; i < dc->n_files; i++) {
        char *file = read_or_null(dc->files[i].path);
        if (!file) PROBLEM(dc, "%s: cannot read %s", DOC, dc->files[i].path);
        else compare_whole(dc, &dc->files[i], file);
        free(file);
    }
}

static const char *const WHOLE[] = { "autograd/ops/gelu.h", "autograd/ops/gelu.c", "tests/autograd/test_gelu.c" };

START_TEST(test_page_matches_tree)
{
    char *doc = read_or_null(DOC);
    ck_assert_msg(doc != NULL, "cannot read %s (tests run from the repository root)", DOC);
    DocCheck *dc = calloc(1, sizeof *dc);
    doc_check(dc, doc);
    ck_assert_msg(dc->problems == 0, "%d problem(s), first: %s", dc->problems, dc->msg);
    for (size_t k = 0; k < sizeof WHOLE / sizeof WHOLE[0]; k++) {
        int found = 0;
        for (int i = 0; i < dc->n_files; i++) found |= strcmp(dc->files[i].path, WHOLE[k]) == 0;
        ck_assert_msg(found, "%s shows no <!-- file: %s --> block", DOC, WHOLE[k]);
    }
    ck_assert_int_ge(dc->n_excerpts, 8);
    free(dc), free(doc);
}
END_TEST

/* doc with the first `from` after `after` replaced by `to` (malloc'd); the strings must occur */
static char *altered(const char *doc, const char *after, const char *from, const char *to) {
    const char *a = strstr(doc, after), *p = a ? strstr(a, from) : NULL;
    ck_assert_msg(p != NULL, "the page no longer holds \"%s\" after \"%s\"", from, after);
    size_t n = strlen(doc) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(p - doc), doc, to, p + strlen(from));
    return s;
}

/* each altered page must fail, and the message must name what changed */
START_TEST(test_checker_catches_drift)
{
    char *doc = read_or_null(DOC);
    ck_assert_ptr_nonnull(doc);
    const struct { const char *after, *from, *to, *want; } cases[] = {
        /* the worked example's backward assigns instead of accumulating */
        { "<!-- file: autograd/ops/gelu.c -->", "dx[i] += ", "dx[i] = ", "gelu.c differs from the file" },
        /* a block of the worked example left out */
        { "<!-- file: autograd/ops/gelu.c -->", "<!-- file: autograd/ops/gelu.c -->", "<!-- nothing -->",
          "gelu.c differs from the file" },
        /* an excerpt edited */
        { "<!-- excerpt: autograd/tape.c -->", "t->n++", "t->n", "excerpt of autograd/tape.c is not in the file" },
        /* a marker without its block */
        { "<!-- excerpt: autograd/tape.c -->", "```c\n", "\n", "not followed by a ``` block" },
    };
    DocCheck *dc = calloc(1, sizeof *dc);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *bad = altered(doc, cases[k].after, cases[k].from, cases[k].to);
        doc_check(dc, bad);
        ck_assert_msg(dc->problems > 0, "altered page %zu passed", k);
        ck_assert_msg(strstr(dc->msg, cases[k].want) != NULL, "altered page %zu: \"%s\" lacks \"%s\"", k, dc->msg,
                      cases[k].want);
        free(bad);
    }
    free(dc), free(doc);
}
END_TEST

Suite *autograd_doc_suite(void) {
    Suite *s = suite_create("autograd_doc");
    TCase *tc = tcase_create("page");
    tcase_add_test(tc, test_page_matches_tree);
    tcase_add_test(tc, test_checker_catches_drift);
    suite_add_tcase(s, tc);
    return s;
}
