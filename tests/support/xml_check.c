/* tests/support/xml_check.c — see xml_check.h. */
#include "tests/support/xml_check.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *file_slurp(const char *path) {
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

int text_count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* the attributes of a tag from p to its '>' or "/>"; NULL on success */
static const char *attributes(const char **pp) {
    const char *p = *pp;
    while (*p && *p != '>' && !(p[0] == '/' && p[1] == '>')) {
        if (isspace((unsigned char)*p)) { p++; continue; }
        while (isalnum((unsigned char)*p) || *p == '-' || *p == ':') p++;
        if (*p++ != '=') return "attribute without =";
        if (*p++ != '"') return "unquoted attribute";
        while (*p && *p != '"') { if (*p == '<') return "< in attribute"; p++; }
        if (!*p++) return "unterminated attribute";
    }
    *pp = p;
    return *p ? NULL : "unterminated tag";
}

const char *xml_check(const char *s) {
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
        const char *bad = attributes(&p);
        if (bad) return bad;
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
