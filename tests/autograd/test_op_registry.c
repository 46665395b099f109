/* tests/autograd/test_op_registry.c — the op registry (autograd/op_registry.c) is sound:
   - every op has a name, a summary and at least one case, every case a name, example and apply;
   - no two ops share a name and no two cases of an op do, so every "op/case" is unique;
   - every twin names an existing op that is not itself a twin;
   - op_case_count / op_case_at enumerate every case exactly once, in registry order;
   - every op_<name>() declared in an autograd/ops header is registered, and every registered op is
     declared there (an op without a gradient check cannot exist).
   The checker runs on small broken registries too, so it is shown to be able to fail. */
#include "tests/support/suites.h"
#include "autograd/ops.h"
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>

static int is_identifier(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

static const OpInfo *find_op(const OpInfo *const *ops, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(ops[i]->name, name) == 0) return ops[i];
    return NULL;
}

/* The number of problems in ops[0..n); the first one is described in msg. */
static int registry_problems(const OpInfo *const *ops, int n, char *msg, size_t cap) {
    int bad = 0;
#define PROBLEM(...) do { if (!bad++) snprintf(msg, cap, __VA_ARGS__); } while (0)
    for (int i = 0; i < n; i++) {
        const OpInfo *op = ops[i];
        if (!is_identifier(op->name)) PROBLEM("op %d: name \"%s\" is not a lowercase identifier", i, op->name ? op->name : "");
        if (!op->summary || !*op->summary) PROBLEM("op %s: no summary", op->name);
        if (op->n_cases < 1 || !op->cases) PROBLEM("op %s: no gradient-check case", op->name);
        for (int j = 0; j < i; j++)
            if (strcmp(ops[j]->name, op->name) == 0) PROBLEM("op name %s is used twice", op->name);
        if (op->twin_of) {
            const OpInfo *of = find_op(ops, n, op->twin_of);
            if (!of) PROBLEM("op %s: twin of %s, which is not registered", op->name, op->twin_of);
            else if (of == op) PROBLEM("op %s: twin of itself", op->name);
            else if (of->twin_of) PROBLEM("op %s: twin of %s, itself a twin", op->name, op->twin_of);
        }
        for (int c = 0; op->cases && c < op->n_cases; c++) {
            const OpCase *k = &op->cases[c];
            if (!is_identifier(k->name)) PROBLEM("op %s: case %d name is not a lowercase identifier", op->name, c);
            if (!k->example || !k->apply) PROBLEM("%s/%s: example or apply missing", op->name, k->name);
            for (int d = 0; d < c; d++)
                if (k->name && op->cases[d].name && strcmp(op->cases[d].name, k->name) == 0)
                    PROBLEM("case %s/%s is listed twice", op->name, k->name);
        }
    }
#undef PROBLEM
    return bad;
}

START_TEST(test_registry_is_sound)
{
    char msg[256] = "";
    int bad = registry_problems(ALL_OPS, ALL_OPS_COUNT, msg, sizeof msg);
    ck_assert_msg(bad == 0, "%d problem(s) in ALL_OPS, first: %s", bad, msg);
    ck_assert_int_gt(ALL_OPS_COUNT, 0);
}
END_TEST

static void ex_none(Arena *a, Rng *rng, OpExample *ex) { (void)a; (void)rng; (void)ex; }
static Tensor *apply_none(Tape *t, const OpExample *ex) { (void)t; (void)ex; return NULL; }

/* each broken registry must be reported, with the expected first problem */
START_TEST(test_checker_finds_broken_registries)
{
    static const OpCase one[] = { { "plain", ex_none, apply_none, NULL } };
    static const OpCase dup[] = { { "plain", ex_none, apply_none, NULL }, { "plain", ex_none, apply_none, NULL } };
    static const OpInfo ok = { "good", "fine", NULL, OP_CASES(one) };
    static const OpInfo no_cases = { "empty", "no cases", NULL, NULL, 0 };
    static const OpInfo dup_cases = { "dup", "two cases named alike", NULL, OP_CASES(dup) };
    static const OpInfo orphan = { "orphan", "twin of nothing", "missing", OP_CASES(one) };
    static const OpInfo twin = { "twin", "twin of good", "good", OP_CASES(one) };
    static const OpInfo twin2 = { "twin2", "twin of a twin", "twin", OP_CASES(one) };
    static const OpInfo again = { "good", "same name", NULL, OP_CASES(one) };
    const struct { const OpInfo *ops[3]; int n; const char *want; } bad[] = {
        { { &ok, &no_cases }, 2, "no gradient-check case" },
        { { &ok, &dup_cases }, 2, "dup/plain is listed twice" },
        { { &ok, &orphan }, 2, "not registered" },
        { { &ok, &twin, &twin2 }, 3, "itself a twin" },
        { { &ok, &again }, 2, "used twice" },
    };
    char msg[256];
    ck_assert_int_eq(registry_problems((const OpInfo *const[]){ &ok, &twin }, 2, msg, sizeof msg), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg[0] = 0;
        ck_assert_msg(registry_problems(bad[i].ops, bad[i].n, msg, sizeof msg) > 0, "broken registry %zu passed", i);
        ck_assert_msg(strstr(msg, bad[i].want) != NULL, "broken registry %zu: \"%s\" lacks \"%s\"", i, msg, bad[i].want);
    }
}
END_TEST

START_TEST(test_case_enumeration)
{
    int n = 0;
    for (int i = 0; i < ALL_OPS_COUNT; i++) {
        for (int c = 0; c < ALL_OPS[i]->n_cases; c++, n++) {
            const OpInfo *op = NULL;
            ck_assert_ptr_eq(op_case_at(n, &op), &ALL_OPS[i]->cases[c]);
            ck_assert_ptr_eq(op, ALL_OPS[i]);
        }
    }
    ck_assert_int_eq(op_case_count(), n);
    const OpInfo *op = ALL_OPS[0];
    ck_assert_ptr_null(op_case_at(n, &op));
    ck_assert_ptr_null(op);
}
END_TEST

/* Names of the functions declared as `Tensor *op_<name>(` at the start of a line in the
   autograd/ops headers (run from the repository root, as every suite is). */
static int declared_ops(char names[][64], int cap) {
    DIR *d = opendir("autograd/ops");
    ck_assert_msg(d != NULL, "cannot open autograd/ops (tests run from the repository root)");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 3 || strcmp(de->d_name + len - 2, ".h") != 0) continue;
        char path[512], line[512];
        snprintf(path, sizeof path, "autograd/ops/%s", de->d_name);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "cannot read %s", path);
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "Tensor *op_", 11) != 0) continue;
            size_t k = 0;
            for (const char *s = line + 11; (isalnum((unsigned char)*s) || *s == '_') && k < 63; s++) names[n][k++] = *s;
            names[n][k] = 0;
            ck_assert_int_lt(++n, cap);
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* op_linear_cross_entropy_chunked is op linear_cross_entropy with an explicit chunk height
   (its cases call it), not an op of its own */
static const char *const NOT_AN_OP[] = { "linear_cross_entropy_chunked" };

START_TEST(test_every_declared_op_is_registered)
{
    static char names[256][64];
    int n = declared_ops(names, 256);
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) {
        int skip = 0;
        for (size_t k = 0; k < sizeof NOT_AN_OP / sizeof NOT_AN_OP[0]; k++) skip |= strcmp(names[i], NOT_AN_OP[k]) == 0;
        ck_assert_msg(skip || find_op(ALL_OPS, ALL_OPS_COUNT, names[i]) != NULL,
                      "op_%s() is declared in autograd/ops but not in ALL_OPS (autograd/op_registry.c)", names[i]);
    }
    for (int i = 0; i < ALL_OPS_COUNT; i++) {
        int found = 0;
        for (int k = 0; k < n && !found; k++) found = strcmp(names[k], ALL_OPS[i]->name) == 0;
        ck_assert_msg(found, "op %s is registered but no autograd/ops header declares Tensor *op_%s(", ALL_OPS[i]->name,
                      ALL_OPS[i]->name);
    }
}
END_TEST

Suite *op_registry_suite(void) {
    Suite *s = suite_create("op_registry");
    TCase *tc = tcase_create("structure");
    tcase_add_test(tc, test_registry_is_sound);
    tcase_add_test(tc, test_checker_finds_broken_registries);
    tcase_add_test(tc, test_case_enumeration);
    tcase_add_test(tc, test_every_declared_op_is_registered);
    suite_add_tcase(s, tc);
    return s;
}
