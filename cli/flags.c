/* cli/flags.c — see flags.h. Config strings are copied and live until the process ends. */
#include "cli/flags.h"
#include "data/json.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Strings read from config files, kept reachable (like argv) until the process ends. */
#define FLAGS_MAX_CONFIG_STRINGS 256
static char *config_strings[FLAGS_MAX_CONFIG_STRINGS];
static int n_config_strings;

/* "top-k" == "top_k" */
static int name_eq(const char *a, const char *b, size_t blen) {
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
        if (x != y) return 0;
    }
    return i == blen && a[i] == 0;
}

static Flag *find_flag(Flag *flags, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (name_eq(flags[i].name, name, len)) return &flags[i];
    return NULL;
}

static Status set_value(Flag *f, const char *v, const char *where, Error *err) {
    char *end;
    errno = 0;
    switch (f->type) {
    case FLAG_INT: {
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || errno || x < -2147483647L || x > 2147483647L)
            return error_set(err, STATUS_INVALID, NULL, "%s--%s expects an integer, got '%s'", where, f->name, v);
        *(int *)f->ptr = (int)x;
        break;
    }
    case FLAG_DOUBLE: {
        double x = strtod(v, &end);
        if (*v == 0 || *end || errno || !isfinite(x))
            return error_set(err, STATUS_INVALID, NULL, "%s--%s expects a number, got '%s'", where, f->name, v);
        *(double *)f->ptr = x;
        break;
    }
    case FLAG_STRING:
        *(const char **)f->ptr = v;
        break;
    case FLAG_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) *(int *)f->ptr = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) *(int *)f->ptr = 0;
        else return error_set(err, STATUS_INVALID, NULL, "%s--%s expects true or false, got '%s'", where, f->name, v);
        break;
    }
    return STATUS_OK;
}

Status flags_parse(Flag *flags, int n, int argc, char **argv, int first, int *want_help, Error *err) {
    *want_help = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { *want_help = 1; continue; }
        if (strncmp(a, "--", 2) != 0)
            return error_set(err, STATUS_INVALID, "run with --help to list the options",
                             "unexpected argument '%s' (options start with --)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        Flag *f = find_flag(flags, n, name, len);
        if (!f) return error_set(err, STATUS_INVALID, "run with --help to list the options", "unknown option --%.*s", (int)len, name);
        const char *v = eq ? eq + 1 : NULL;
        if (!v && f->type == FLAG_BOOL) v = "true";
        if (!v) {
            if (i + 1 >= argc) return error_set(err, STATUS_INVALID, NULL, "option --%s needs a value", f->name);
            v = argv[++i];
        }
        Status s = set_value(f, v, "", err);
        if (s) return s;
        f->seen = 1;
    }
    return STATUS_OK;
}

/* a copy of s that lives as long as the process, like argv (NULL when the table is full) */
static char *keep_string(const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = n_config_strings < FLAGS_MAX_CONFIG_STRINGS ? malloc(len) : NULL;
    if (!copy) return NULL;
    config_strings[n_config_strings++] = copy;
    return memcpy(copy, s, len);
}

static Status apply_json(Flag *f, const JsonValue *v, const char *path, Error *err) {
    char buf[64], where[320];
    snprintf(where, sizeof where, "%s:%d:%d: ", path, v->line, v->col);
    const char *text = buf;
    if (v->type == JSON_STRING) text = v->string;
    else if (v->type == JSON_NUMBER) snprintf(buf, sizeof buf, "%.17g", v->number);
    else if (v->type == JSON_BOOL) snprintf(buf, sizeof buf, "%s", v->boolean ? "true" : "false");
    else return error_set(err, STATUS_INVALID, NULL, "%s\"%s\" must be a string, number or boolean", where, f->name);
    if (f->type == FLAG_STRING && !(text = keep_string(text)))   /* a string option keeps a pointer */
        return error_set(err, STATUS_INVALID, NULL, "%s: too many string options (or out of memory)", path);
    return set_value(f, text, where, err);
}

Status flags_load_config(Flag *flags, int n, const char *path, Error *err) {
    JsonDoc doc;
    Status s = json_parse_file(&doc, path, err);
    if (s) return s;
    if (doc.root->type != JSON_OBJECT)
        s = error_set(err, STATUS_INVALID, NULL, "%s: expected a JSON object of option names", path);
    for (size_t i = 0; !s && i < doc.root->count; i++) {
        const char *key = doc.root->keys[i];
        Flag *f = find_flag(flags, n, key, strlen(key));
        if (!f) s = error_set(err, STATUS_INVALID, "keys are the option names without --", "%s: unknown key \"%s\"", path, key);
        else if (!f->seen) s = apply_json(f, &doc.root->items[i], path, err);
    }
    json_doc_free(&doc);
    return s;
}

void flags_print_help(FILE *out, const char *usage, const Flag *flags, int n) {
    fprintf(out, "%s\n\noptions:\n", usage);
    for (int i = 0; i < n; i++) {
        const Flag *f = &flags[i];
        char def[96] = "";
        switch (f->type) {
        case FLAG_INT: snprintf(def, sizeof def, "%d", *(int *)f->ptr); break;
        case FLAG_DOUBLE: snprintf(def, sizeof def, "%g", *(double *)f->ptr); break;
        case FLAG_STRING: snprintf(def, sizeof def, "%s", *(const char **)f->ptr ? *(const char **)f->ptr : ""); break;
        case FLAG_BOOL: snprintf(def, sizeof def, "%s", *(int *)f->ptr ? "true" : "false"); break;
        }
        fprintf(out, "  --%-18s %s%s%s%s\n", f->name, f->help, def[0] ? " (default: " : "", def, def[0] ? ")" : "");
    }
}
