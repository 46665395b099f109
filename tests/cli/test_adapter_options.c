/* tests/cli/test_adapter_options.c — the adapter options that train, eval, forward-backward and
   make-tiny share (cli/adapter_options.h), exercised through the commands (stdout captured).
   A tiny model + adapter is written by `make-tiny` with routing / per-layer flags, then
   `forward-backward` runs on it (from the directory, with the flags over the directory, or with
   the flags alone building the adapter from the same seed). Its loss must equal, to 1e-6, the
   loss of the same weights loaded in-process under an AdapterConfig written out by hand here
   (model_load + adapter_load + llama_loss, the trainer's loss): an independent path from flags to
   config. Each variant's loss also differs from the plain top-k loss, so a flag that is silently
   dropped fails. Bad values exit 1 with a message naming the option. (eval, --help and
   PyTorch-written directories: tests/cli/test_adapter_options_commands.c) */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "cli/forward_backward.h"
#include "cli/eval.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B = 2, T = 8 };
static const int IDS[B * T] = { 1, 5, 9, 14, 3, 22, 7, 40, 1, 30, 2, 2, 19, 8, 11, 63 };
static const int TGT[B * T] = { 5, 9, 14, 3, 22, 7, 40, 12, -100, 2, 2, 19, 8, 11, 63, 4 };

/* the make-tiny shape and seed of every case (the hand-written configs below repeat it) */
#define SEED_RANK "--seed", "5", "--nonzero-b", "--rank", "4", "--alpha", "8"
#define TINY "--dim", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--hidden", "48", "--vocab", "64", SEED_RANK
#define ADAMOE "--adapter", "adamoe", "--experts", "4", "--null", "2", "--top-k", "3"

typedef struct {
    char *dir;
    char model[256], adapter[256], tokens[256], json[256];
} Case;

/* {"inputs": [[...], [...]], "targets": [[...], [...]]} */
static void write_tokens(const char *path) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    const int *src[2] = { IDS, TGT };
    for (int k = 0; k < 2; k++) {
        fputs(k ? "], \"targets\": [" : "{\"inputs\": [", f);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                fprintf(f, "%s%d%s", t ? ", " : (b ? ", [" : "["), src[k][b * T + t], t == T - 1 ? "]" : "");
    }
    fputs("]}\n", f);
    fclose(f);
}

/* make-tiny TINY + flags into a fresh dir (model/, adapter/, tokens.json) */
static Case make_case(char *const *flags) {
    Case c;
    c.dir = tmp_dir_new();
    snprintf(c.model, sizeof c.model, "%s/model", c.dir);
    snprintf(c.adapter, sizeof c.adapter, "%s/adapter", c.dir);
    snprintf(c.tokens, sizeof c.tokens, "%s/tokens.json", c.dir);
    snprintf(c.json, sizeof c.json, "%s/out.json", c.dir);
    write_tokens(c.tokens);
    char *head[] = { "make-tiny", "--out", c.model, "--adapter-out", c.adapter, TINY, NULL };
    ck_assert_int_eq(run_cli_concat(make_tiny_cli, head, flags, NULL), 0);
    return c;
}

static void case_free(Case *c) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    ck_assert_int_eq(system(cmd), 0);
    free(c->dir);
}

typedef struct { double loss, ce, aux_sum, aux_coef, load[2]; } FbOut;

/* forward-backward on the case's model + tokens (+ --adapter-dir when dir), reading out.json */
static FbOut run_fb(const Case *c, int dir, char *const *flags) {
    char *head[] = { "forward-backward", "--model", (char *)c->model, "--tokens", (char *)c->tokens, "--json-out",
                     (char *)c->json, dir ? "--adapter-dir" : NULL, (char *)c->adapter, NULL };
    ck_assert_int_eq(run_cli_concat(forward_backward_cli, head, flags, NULL), 0);
    JsonDoc doc;
    Error err;
    ck_assert_msg(json_parse_file(&doc, c->json, &err) == STATUS_OK, "%s", err.message);
    FbOut o = { 0 };
    ck_assert(json_get_number(doc.root, "loss", &o.loss) && json_get_number(doc.root, "ce", &o.ce));
    ck_assert(json_get_number(doc.root, "aux_sum", &o.aux_sum) && json_get_number(doc.root, "aux_coef", &o.aux_coef));
    const JsonValue *lp = json_get(doc.root, "load_per_layer");
    ck_assert(lp && lp->count == 2);
    for (int l = 0; l < 2; l++) o.load[l] = lp->items[l].type == JSON_NUMBER ? lp->items[l].number : NAN;
    json_doc_free(&doc);
    unlink(c->json);
    return o;
}

/* AdamoE 4 + 2 null, top-3, rank 4, alpha 8, all targets, eq6 0.001: make-tiny's ADAMOE, by hand */
static AdapterConfig hand_adamoe(void) {
    AdapterConfig a = { .kind = ADAPTER_ADAMOE, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8, .n_true = 4,
                        .n_null = 2, .top_k = 3, .normalize = MOE_NORM_TRUE_ONLY, .null_kind = MOE_NULL_ZERO,
                        .aux = MOE_AUX_EQ6, .aux_coef = 0.001, .k_baseline = 2, .routing = MOE_ROUTING_TOPK,
                        .top_p = 0.4 };
    return a;
}

/* the trainer's loss (llama_loss: CE + aux_coef·aux + entropy term) of the case's files under a */
static double lib_loss(const Case *c, const AdapterConfig *a) {
    LlamaModel m;
    Error err;
    ck_assert_msg(model_load(&m, c->model, a, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(adapter_load(&m, c->adapter, &err) == STATUS_OK, "%s", err.message);
    Arena ar;
    arena_init(&ar, (size_t)1 << 20);
    Tape t;
    tape_init(&t, &ar);
    double loss = (double)llama_loss(&t, &m, IDS, TGT, B, T, NULL, NULL)->data[0];
    tape_free(&t);
    arena_free(&ar);
    llama_free(&m);
    return loss;
}

#define CK_SAME(got, want, what) \
    ck_assert_msg(fabs((got) - (want)) <= 1e-6 * fmax(1.0, fabs(want)), "%s: %.9g, in-process %.9g", what, got, want)
#define CK_DIFFERENT(a, b, what) \
    ck_assert_msg(fabs((a) - (b)) > 1e-4, "%s: %.9g vs %.9g: the test cannot see the flag", what, a, b)

START_TEST(test_top_p_routing)
{
    char *flags[] = { ADAMOE, "--routing", "top-p", "--top-p", "0.5", NULL };
    Case c = make_case(flags);
    AdapterConfig a = hand_adamoe(), k = a;
    a.routing = MOE_ROUTING_TOP_P;
    a.top_p = 0.5;
    double want = lib_loss(&c, &a), topk = lib_loss(&c, &k);
    CK_DIFFERENT(want, topk, "top-p 0.5 vs top-k 3");
    CK_SAME(run_fb(&c, 1, NULL).loss, want, "the directory make-tiny wrote");
    char *same[] = { "--routing", "top-p", "--top-p", "0.5", NULL };
    CK_SAME(run_fb(&c, 1, same).loss, want, "the same flags over the directory");
    char *fresh[] = { ADAMOE, "--routing", "top-p", "--top-p", "0.5", SEED_RANK, NULL };
    CK_SAME(run_fb(&c, 0, fresh).loss, want, "the flags alone (fresh adapter, same seed)");
    char *back[] = { "--routing", "topk", NULL };
    CK_SAME(run_fb(&c, 1, back).loss, topk, "--routing topk over the top-p directory");
    a.entropy_coef = 0.05;                          /* the trainer's entropy term is part of the loss */
    char *ent[] = { "--entropy-coef", "0.05", NULL };
    double went = lib_loss(&c, &a);
    CK_DIFFERENT(went, want, "entropy-coef 0.05 vs 0");
    CK_SAME(run_fb(&c, 1, ent).loss, went, "--entropy-coef 0.05");
    case_free(&c);
}
END_TEST

START_TEST(test_dense_routing)
{
    char *flags[] = { ADAMOE, NULL };
    Case c = make_case(flags);
    AdapterConfig a = hand_adamoe(), k = a;
    a.routing = MOE_ROUTING_DENSE;
    double want = lib_loss(&c, &a), topk = lib_loss(&c, &k);
    CK_DIFFERENT(want, topk, "dense vs top-k 3");
    CK_SAME(run_fb(&c, 1, NULL).loss, topk, "the top-k directory");
    char *dense[] = { "--routing", "dense", NULL };
    FbOut o = run_fb(&c, 1, dense);
    CK_SAME(o.loss, want, "--routing dense over the directory");
    ck_assert_msg(o.load[0] == 4 && o.load[1] == 4, "dense Load %g %g, want every true expert (4)", o.load[0], o.load[1]);
    char *fresh[] = { ADAMOE, "--routing", "dense", SEED_RANK, NULL };
    CK_SAME(run_fb(&c, 0, fresh).loss, want, "the flags alone (fresh adapter, same seed)");
    case_free(&c);
}
END_TEST

START_TEST(test_per_layer_lists)
{
    char *flags[] = { "--adapter", "adamoe", "--experts", "2,4", "--null", "2", "--top-k", "1,2", NULL };
    Case c = make_case(flags);
    AdapterConfig a = hand_adamoe();
    a.n_true = 2;            /* the scalars are the lists' first values */
    a.top_k = 1;
    a.n_layer_values = 2;
    int nt[2] = { 2, 4 }, nn[2] = { 2, 2 }, tk[2] = { 1, 2 }, rk[2] = { 4, 4 };
    memcpy(a.layer_n_true, nt, sizeof nt);
    memcpy(a.layer_n_null, nn, sizeof nn);
    memcpy(a.layer_top_k, tk, sizeof tk);
    memcpy(a.layer_rank, rk, sizeof rk);
    double want = lib_loss(&c, &a);      /* adapter_load: the files have these shapes */
    FbOut o = run_fb(&c, 1, NULL);
    CK_SAME(o.loss, want, "the per-layer directory");
    ck_assert_msg(o.load[0] <= 1 + 1e-12 && o.load[1] <= 2 + 1e-12 && o.load[1] > 1,
                  "Load per layer %g %g: top-1 then top-2", o.load[0], o.load[1]);
    char *same[] = { "--experts", "2,4", "--top-k", "1,2", NULL };
    CK_SAME(run_fb(&c, 1, same).loss, want, "the same lists over the directory");
    char *fresh[] = { "--adapter", "adamoe", "--experts", "2,4", "--null", "2", "--top-k", "1,2", SEED_RANK, NULL };
    CK_SAME(run_fb(&c, 0, fresh).loss, want, "the lists alone (fresh adapter, same seed)");
    case_free(&c);
}
END_TEST

/* a 0 in the --null list is a layer without null experts (not "the first value"): layer 1 is
   then top-2 over its 4 true experts, Load exactly 2, through make-tiny, the files and reload */
START_TEST(test_per_layer_zero_null)
{
    char *flags[] = { "--adapter", "adamoe", "--experts", "4", "--null", "4,0", "--top-k", "2", NULL };
    Case c = make_case(flags);
    FbOut o = run_fb(&c, 1, NULL);
    ck_assert_msg(o.load[1] == 2.0, "layer 1 (no nulls) Load %g, want exactly 2", o.load[1]);
    ck_assert_msg(o.load[0] < 2.0, "layer 0 (4 nulls) Load %g, want < 2", o.load[0]);
    AdapterConfig a = hand_adamoe();
    a.n_null = 4; a.top_k = 2; a.n_layer_values = 2;
    int nt[2] = { 4, 4 }, nn[2] = { 4, 0 }, tk[2] = { 2, 2 }, rk[2] = { 4, 4 };
    memcpy(a.layer_n_true, nt, sizeof nt);
    memcpy(a.layer_n_null, nn, sizeof nn);
    memcpy(a.layer_top_k, tk, sizeof tk);
    memcpy(a.layer_rank, rk, sizeof rk);
    ck_assert_int_eq(adapter_moe_layer(&a, 1).n_null, 0);
    CK_SAME(o.loss, lib_loss(&c, &a), "the 4,0 directory");
    case_free(&c);
}
END_TEST

/* the aux coefficient of the trainer's first step: --aux-coef, or the first of --aux-coefs */
START_TEST(test_aux_options)
{
    char *flags[] = { ADAMOE, "--aux-coef", "0.02", NULL };
    Case c = make_case(flags);
    AdapterConfig a = hand_adamoe();
    a.aux_coef = 0.02;
    FbOut o = run_fb(&c, 1, NULL);
    CK_SAME(o.loss, lib_loss(&c, &a), "--aux-coef 0.02 in the directory");
    ck_assert(o.aux_coef == 0.02 && o.aux_sum > 0);
    char *epoch[] = { "--aux-schedule", "epoch", "--aux-coefs", "0.5,0.1", NULL };
    o = run_fb(&c, 1, epoch);
    a.aux_coef = 0.5;
    ck_assert(o.aux_coef == 0.5);
    CK_SAME(o.loss, lib_loss(&c, &a), "--aux-schedule epoch --aux-coefs 0.5,0.1");
    CK_SAME(o.loss, o.ce + 0.5 * o.aux_sum, "loss = ce + 0.5 aux");
    char *none[] = { "--aux", "none", NULL };
    o = run_fb(&c, 1, none);
    ck_assert_msg(o.aux_sum == 0 && o.loss == o.ce, "--aux none: aux %g, loss %g, ce %g", o.aux_sum, o.loss, o.ce);
    case_free(&c);
}
END_TEST

/* out.json "aux_coef" follows torch_ref.py for every kind, not only routed ones: the given
   --aux-coef (else the default 0.001) for a plain LoRA directory and for the base model, while
   the loss stays the CE (no router, no aux term) */
START_TEST(test_aux_coef_field_without_routers)
{
    char *flags[] = { "--adapter", "lora", NULL };
    Case c = make_case(flags);
    FbOut o = run_fb(&c, 1, NULL);
    ck_assert_msg(o.aux_coef == 0.001, "lora directory, no --aux-coef: aux_coef %g, want 0.001", o.aux_coef);
    char *coef[] = { "--aux-coef", "0.25", NULL };
    FbOut g = run_fb(&c, 1, coef);
    ck_assert_msg(g.aux_coef == 0.25, "lora directory, --aux-coef 0.25: aux_coef %g", g.aux_coef);
    ck_assert_msg(g.loss == g.ce && g.aux_sum == 0 && g.loss == o.loss, "lora: loss %g ce %g aux %g", g.loss, g.ce, g.aux_sum);
    char *base[] = { "--adapter", "none", "--aux-coef", "0.25", NULL };
    FbOut b = run_fb(&c, 0, base);
    ck_assert_msg(b.aux_coef == 0.25 && b.loss == b.ce, "base model, --aux-coef 0.25: aux_coef %g", b.aux_coef);
    case_free(&c);
}
END_TEST

START_TEST(test_bad_values_exit_1)
{
    char *flags[] = { ADAMOE, NULL };
    Case c = make_case(flags);
    char *fb[] = { "forward-backward", "--model", c.model, "--tokens", c.tokens, NULL };
    char *fbd[] = { "forward-backward", "--model", c.model, "--tokens", c.tokens, "--adapter-dir", c.adapter, NULL };
    char *r1[] = { ADAMOE, "--routing", "nope", NULL };
    run_cli_expect_error(forward_backward_cli, fb, r1, "unknown --routing 'nope'");
    run_cli_expect_error(forward_backward_cli, fbd, r1 + 8, "unknown --routing 'nope'");
    char *r2[] = { "--adapter", "adamoe", "--experts", "2,4,4", NULL };
    run_cli_expect_error(forward_backward_cli, fb, r2, "3 values, the model has 2 layers");
    char *r3[] = { "--adapter", "adamoe", "--experts", "2,4", "--top-k", "1,2,2", NULL };
    run_cli_expect_error(forward_backward_cli, fb, r3, "different lengths");
    char *r4[] = { "--experts", "3", NULL };
    run_cli_expect_error(forward_backward_cli, fbd, r4, "differ from the model's");
    char *r5[] = { "--aux-schedule", "epoch", NULL };
    run_cli_expect_error(forward_backward_cli, fbd, r5, "--aux-coefs");
    char *r6[] = { "--nonzero-b", NULL };   /* ignored with a directory, as torch_ref.py: the same loss */
    CK_SAME(run_fb(&c, 1, r6).loss, run_fb(&c, 1, NULL).loss, "--nonzero-b over --adapter-dir");
    char *r7[] = { "--adapter", "lora", "--rank", "2,4", NULL };
    run_cli_expect_error(forward_backward_cli, fb, r7, "per-layer lists");
    char *r8[] = { "--top-p", "x", NULL };
    run_cli_expect_error(forward_backward_cli, fb, r8, "--top-p expects a number");
    char *mt[] = { "make-tiny", "--out", c.model, "--adapter-out", c.adapter, TINY, NULL };
    run_cli_expect_error(make_tiny_cli, mt, r1, "unknown --routing 'nope'");
    char *r9[] = { "--adapter", "adamoe", "--experts", "2,4,4", NULL };
    run_cli_expect_error(make_tiny_cli, mt, r9, "3 values, the model has 2 layers");
    char *r10[] = { "--adapter", "lora", "--targets", "q,router", NULL };   /* a Status error, not an abort */
    run_cli_expect_error(make_tiny_cli, mt, r10, "the target 'router' needs a Mixtral model");
    char *ev[] = { "eval", "--model", c.model, "--task", "mc_jsonl", "--data", c.dir, "--adapter-dir", c.adapter, NULL };
    run_cli_expect_error(eval_cli, ev, r1 + 8, "unknown --routing 'nope'");
    case_free(&c);
}
END_TEST

Suite *adapter_options_suite(void) {
    Suite *s = suite_create("adapter_options");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_top_p_routing);
    tcase_add_test(tc, test_dense_routing);
    tcase_add_test(tc, test_per_layer_lists);
    tcase_add_test(tc, test_per_layer_zero_null);
    tcase_add_test(tc, test_aux_options);
    tcase_add_test(tc, test_aux_coef_field_without_routers);
    tcase_add_test(tc, test_bad_values_exit_1);
    suite_add_tcase(s, tc);
    return s;
}
