/* tests/cli/test_report_svg.c — report.svg from a metrics.jsonl: well-formed XML (checked by a small
   independent checker below: balanced tags, quoted attributes, valid entities), one polyline per
   series, and a "no data" panel where a series is absent. */
#include "tests/support/suites.h"
#include "cli/report_svg.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

/* Returns NULL if well-formed, else a description of the first problem. */
static const char *xml_check(const char *s) {
    char stack[64][32];
    int depth = 0, roots = 0;
    if (strncmp(s, "<?xml", 5) == 0) { s = strstr(s, "?>"); if (!s) return "unterminated <?xml"; s += 2; }
    while (*s) {
        if (*s == '&') {
            if (strncmp(s, "&amp;", 5) && strncmp(s, "&lt;", 4) && strncmp(s, "&gt;", 4) && strncmp(s, "&quot;", 6))
                return "bad entity";
            s++;
            continue;
        }
        if (*s != '<') { s++; continue; }
        int closing = s[1] == '/';
        const char *p = s + 1 + closing;
        char name[32];
        int n = 0;
        while (isalnum((unsigned char)*p) && n < 31) name[n++] = *p++;
        name[n] = 0;
        if (!n) return "tag without a name";
        while (*p && *p != '>' && !(p[0] == '/' && p[1] == '>')) {       /* attributes */
            if (isspace((unsigned char)*p)) { p++; continue; }
            while (isalnum((unsigned char)*p) || *p == '-' || *p == ':') p++;
            if (*p++ != '=') return "attribute without =";
            if (*p++ != '"') return "unquoted attribute";
            while (*p && *p != '"') { if (*p == '<') return "< in attribute"; p++; }
            if (!*p++) return "unterminated attribute";
        }
        if (!*p) return "unterminated tag";
        int self = *p == '/';
        s = p + (self ? 2 : 1);
        if (closing) {
            if (!depth || strcmp(stack[depth - 1], name)) return "mismatched closing tag";
            depth--;
        } else if (!self) {
            if (depth == 0) roots++;
            if (depth == 64) return "too deep";
            strcpy(stack[depth++], name);
        }
    }
    if (depth) return "unclosed element";
    return roots == 1 ? NULL : "not exactly one root element";
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

START_TEST(test_svg_from_metrics)
{
    char dir[] = "/tmp/moetrain_report_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char metrics[128], svg[128];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(svg, sizeof svg, "%s/report.svg", dir);
    FILE *f = fopen(metrics, "w");
    for (int s = 1; s <= 20; s++)
        fprintf(f, "{\"type\":\"train\",\"step\":%d,\"loss\":%g,\"load_per_layer\":[%g,%g]}\n", s, 3.0 / s, 2.0 - s * 0.01, 1.5);
    fprintf(f, "{\"type\":\"eval\",\"step\":10,\"acc\":0.5}\n{\"type\":\"eval\",\"step\":20,\"acc\":0.75}\n");
    fclose(f);
    Error err;
    ck_assert_int_eq(report_svg_write(metrics, svg, "run <a & b>", &err), STATUS_OK);
    char *text = slurp(svg);
    ck_assert_ptr_nonnull(text);
    const char *problem = xml_check(text);
    ck_assert_msg(problem == NULL, "report.svg is not well-formed: %s", problem);
    ck_assert_int_eq(count(text, "<polyline"), 4);          /* loss, acc, 2 layers */
    ck_assert_ptr_nonnull(strstr(text, "run &lt;a &amp; b&gt;"));
    free(text);
    /* the checker itself rejects broken XML */
    ck_assert_ptr_nonnull(xml_check("<svg><g></svg>"));
    ck_assert_ptr_nonnull(xml_check("<svg a=1></svg>"));
    ck_assert_ptr_nonnull(xml_check("<svg>a & b</svg>"));
    /* no eval records and no load: "no data" panels, still well-formed */
    f = fopen(metrics, "w");
    fprintf(f, "{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n");
    fclose(f);
    ck_assert_int_eq(report_svg_write(metrics, svg, "t", &err), STATUS_OK);
    text = slurp(svg);
    ck_assert(xml_check(text) == NULL);
    ck_assert_int_eq(count(text, "no data"), 2);
    free(text);
    remove(metrics);
    remove(svg);
    rmdir(dir);
}
END_TEST

START_TEST(test_svg_bad_metrics)
{
    char path[] = "/tmp/moetrain_badmetrics_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"type\":\"train\",\"step\":1,\"loss\":2}\n{broken\n");
    fclose(f);
    Error err;
    ck_assert_int_eq(report_svg_write(path, "/tmp/moetrain_never.svg", "t", &err), STATUS_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, ":2:"));
    ck_assert_int_ne(access("/tmp/moetrain_never.svg", F_OK), 0);
    remove(path);
}
END_TEST

Suite *report_suite(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("svg");
    tcase_add_test(tc, test_svg_from_metrics);
    tcase_add_test(tc, test_svg_bad_metrics);
    suite_add_tcase(s, tc);
    return s;
}
