/* tests/nn/test_mixtral_router_lora.c — the LoRA on the frozen Mixtral router (target "router",
   nn/moe_ffn.h), for a plain LoRA adapter (q, v + router; s = alpha / r = 3) and a moe-ffn one
   (expert LoRAs, 2 null experts with a random gate2, top-3, rsLoRA s = 4 / sqrt 3, Eq. 6 aux):
     merged     with nonzero A, B the loss (and the experts chosen) equal those of the same model
                without the router LoRA whose router weight is replaced by gate + s·B·A, computed
                here in double with s from the config (linearity: x·(W + sBA)ᵀ = x·Wᵀ + s(xAᵀ)Bᵀ);
                the unmerged base router gives another loss and other experts (the check can fail)
     zero B     a fresh router LoRA (A kaiming-uniform, B = 0) gives bitwise the base model's loss
     round trip hf_write + adapter_save → model_load_with_adapter: the PEFT names and
                target_modules on disk, the same loss; `forward-backward --adapter-dir` reads it
                (and its router gradients); a bare "gate" in target_modules (PEFT's usual spelling)
                reads as the router
     errors     target parsing ("all" keeps its meaning), "router" on a dense or upcycled model is
                a Status error at load, and a CHECK in llama_declare. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "tests/support/helpers.h"
#include "nn/adapter_io.h"
#include "nn/checkpoint.h"
#include "cli/forward_backward.h"
#include "nn/safetensors.h"
#include "data/json.h"
#include "tensor/check.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int IDS[12] = { 1, 5, 9, 14, 3, 22, 1, 30, 2, 19, 8, 11 };
static const int TGT[12] = { -100, 9, 14, 3, 22, 7, -100, 2, 19, 8, 11, 40 };

static AdapterConfig config_of(int moe, int router) {
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_Q | LORA_TARGET_V, .rank = 2, .alpha = 6.0 };
    if (moe) {
        a = (AdapterConfig){ .kind = ADAPTER_MOE_FFN, .targets = LORA_TARGET_GATE | LORA_TARGET_UP | LORA_TARGET_DOWN,
                             .rank = 3, .alpha = 4.0, .rslora = 1 };
        adapter_moe_defaults(&a);
        a.n_null = 2;
        a.top_k = 3;
        a.aux_coef = 0.1;
        a.gate2_init = MOE_GATE2_RANDOM;
    }
    if (router) a.targets |= LORA_TARGET_ROUTER;
    return a;
}

/* CE (+ aux_coef · aux) of IDS / TGT; frac (may be NULL) gets each layer's expert fractions */
static double loss_of(const LlamaModel *m, double frac[2][MOE_MAX_EXPERTS]) {
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    tape_set_no_grad(&t, 1);
    moe_stats_reset(&m->moe->stats);
    double loss = (double)llama_loss_padded(&t, m, IDS, TGT, NULL, 2, 6, m->acfg.aux_coef, NULL, NULL)->data[0];
    for (int l = 0; frac && l < 2; l++) {
        MoeSummary s;
        moe_summary_layer(&m->moe->stats, l, &s);
        memcpy(frac[l], s.expert_fraction, sizeof s.expert_fraction);
    }
    tape_free(&t);
    arena_free(&a);
    return loss;
}

/* every parameter of dst takes src's value of the same name (base weights, gate2, other LoRAs) */
static void copy_params(LlamaModel *dst, const LlamaModel *src) {
    for (int i = 0; i < dst->ps.n; i++) {
        Tensor *d = dst->ps.params[i];
        const Tensor *s = param_find(&src->ps, d->name);
        ck_assert_msg(s && s->numel == d->numel && s->data && d->data, "%s: no such tensor to copy", d->name);
        memcpy(d->data, s->data, d->numel * sizeof(real));
    }
}

/* dst's router weights = src's gate + s·B·A, in double, with s from the adapter config */
static void merge_router(LlamaModel *dst, const LlamaModel *src) {
    const AdapterConfig *a = &src->acfg;
    double s = a->rslora ? a->alpha / sqrt((double)a->rank) : a->alpha / a->rank;
    for (int l = 0; l < src->cfg.n_layers; l++) {
        char na[96], nb[96];
        snprintf(na, sizeof na, "model.layers.%d.block_sparse_moe.gate.lora_A.weight", l);
        snprintf(nb, sizeof nb, "model.layers.%d.block_sparse_moe.gate.lora_B.weight", l);
        const Tensor *A = param_find(&src->ps, na), *B = param_find(&src->ps, nb), *W = src->layers[l].ffn->gate;
        Tensor *dw = dst->layers[l].ffn->gate;
        ck_assert(A && B && dw->numel == W->numel);
        int n = W->shape[0], C = W->shape[1], r = A->shape[0];
        ck_assert(A->shape[1] == C && B->shape[0] == n && B->shape[1] == r && r == a->rank);
        for (int e = 0; e < n; e++)
            for (int c = 0; c < C; c++) {
                double acc = 0;
                for (int j = 0; j < r; j++) acc += (double)B->data[e * r + j] * (double)A->data[j * C + c];
                dw->data[e * C + c] = (real)((double)W->data[e * C + c] + s * acc);
            }
    }
}

static int same_fractions(double a[2][MOE_MAX_EXPERTS], double b[2][MOE_MAX_EXPERTS]) {
    return !memcmp(a, b, sizeof(double) * 2 * MOE_MAX_EXPERTS);
}

START_TEST(test_router_lora_equals_merged_gate)
{
    ModelConfig c = tiny_mixtral_config();
    AdapterConfig with = config_of(_i, 1), without = config_of(_i, 0);
    LlamaModel r, m;
    tiny_model(&r, &c, &with, 11, 0.5);     /* every lora_B nonzero, the router's included */
    tiny_model(&m, &c, &without, 11, 0);
    copy_params(&m, &r);
    double fr[2][MOE_MAX_EXPERTS], fb[2][MOE_MAX_EXPERTS], fm[2][MOE_MAX_EXPERTS];
    double lr = loss_of(&r, fr), lb = loss_of(&m, fb);
    merge_router(&m, &r);
    double lm = loss_of(&m, fm);
    double tol = sizeof(real) == 4 ? 1e-6 : 1e-12;
    ck_assert_msg(fabs(lr - lm) <= tol * fmax(1.0, fabs(lm)), "router LoRA loss %.9g, merged router %.9g", lr, lm);
    ck_assert_msg(same_fractions(fr, fm), "the merged router chose other experts");
    ck_assert_msg(fabs(lr - lb) > 1e-3 && !same_fractions(fr, fb),
                  "the router LoRA changes nothing (loss %.9g vs base %.9g)", lr, lb);
    llama_free(&r);
    llama_free(&m);
}
END_TEST

START_TEST(test_router_lora_zero_b_is_base)
{
    ModelConfig c = tiny_mixtral_config();
    AdapterConfig with = config_of(_i, 1), without = config_of(_i, 0);
    LlamaModel r, m;
    tiny_model(&r, &c, &with, 12, 0);
    Rng rng = rng_derive(5, 5);
    for (int i = 0; i < r.ps.n; i++) {    /* the other LoRAs active, the router's as initialised */
        Tensor *t = r.ps.params[i];
        if (strstr(t->name, "lora_B") && !strstr(t->name, ".gate.lora_B")) rng_fill_normal(&rng, t->data, t->numel, 0, 0.5);
    }
    for (int l = 0; l < 2; l++) {
        const LoraLinear *rl = &r.layers[l].ffn->router;
        ck_assert(rl->lora_a && rl->lora_b && rl->rank == with.rank);
        double amax = 0, bmax = 0, bound = 1 / sqrt((double)c.dim);
        for (size_t j = 0; j < rl->lora_a->numel; j++) amax = fmax(amax, fabs((double)rl->lora_a->data[j]));
        for (size_t j = 0; j < rl->lora_b->numel; j++) bmax = fmax(bmax, fabs((double)rl->lora_b->data[j]));
        ck_assert_msg(amax > 0.5 * bound && amax <= bound, "A not kaiming-uniform U(±%g): max %g", bound, amax);
        ck_assert_msg(bmax == 0, "B not zero: max %g", bmax);
    }
    tiny_model(&m, &c, &without, 12, 0);
    copy_params(&m, &r);
    double lr = loss_of(&r, NULL), lm = loss_of(&m, NULL);
    ck_assert_msg(lr == lm, "fresh router LoRA: loss %.17g, base %.17g", lr, lm);
    real *gr = tiny_logits(&r, IDS, 2, 6), *gm = tiny_logits(&m, IDS, 2, 6);
    ck_assert(!memcmp(gr, gm, (size_t)12 * c.vocab_size * sizeof(real)));
    free(gr);
    free(gm);
    llama_free(&r);
    llama_free(&m);
}
END_TEST

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *buf = calloc(1 << 16, 1);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* the files on disk: PEFT keys of the router LoRA, target_modules naming the router */
static void check_files(const char *ap) {
    char path[256];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", ap);
    SafeTensors st;
    Error err;
    ck_assert_msg(safetensors_open(&st, path, &err) == STATUS_OK, "%s", err.message);
    const SafeTensor *ta = safetensors_find(&st, "base_model.model.model.layers.1.block_sparse_moe.gate.lora_A.weight");
    const SafeTensor *tb = safetensors_find(&st, "base_model.model.model.layers.0.block_sparse_moe.gate.lora_B.weight");
    ck_assert(ta && tb && ta->ndim == 2 && tb->ndim == 2 && ta->shape[1] == 24 && tb->shape[0] == 4);
    safetensors_close(&st);
    snprintf(path, sizeof path, "%s/adapter_config.json", ap);
    JsonDoc doc;
    ck_assert_msg(json_parse_file(&doc, path, &err) == STATUS_OK, "%s", err.message);
    const JsonValue *tm = json_get(doc.root, "target_modules");
    int found = 0;
    for (size_t i = 0; tm && i < tm->count; i++) found += !strcmp(tm->items[i].string, "block_sparse_moe.gate");
    ck_assert_msg(found == 1, "target_modules does not name block_sparse_moe.gate once");
    json_doc_free(&doc);
}

/* forward-backward --adapter-dir: its loss, and a nonzero router-LoRA gradient norm */
static void check_cli(const char *dir, const char *mp, const char *ap, double loss) {
    char tok[256], out[256], *captured = NULL;
    snprintf(tok, sizeof tok, "%s/tokens.json", dir);
    snprintf(out, sizeof out, "%s/out.json", dir);
    write_text(tok, "{\"inputs\": [[1, 5, 9, 14, 3, 22], [1, 30, 2, 19, 8, 11]], "
                    "\"targets\": [[-100, 9, 14, 3, 22, 7], [-100, 2, 19, 8, 11, 40]]}");
    char *argv[] = { "forward-backward", "--model", (char *)mp, "--adapter-dir", (char *)ap, "--tokens", tok,
                     "--json-out", out, "--threads", "1", NULL };
    ck_assert_int_eq(run_cli_captured(forward_backward_cli, argv, &captured), 0);
    free(captured);
    JsonDoc doc;
    Error err;
    double cli_loss, norm;
    ck_assert_msg(json_parse_file(&doc, out, &err) == STATUS_OK, "%s", err.message);
    ck_assert(json_get_number(doc.root, "loss", &cli_loss));
    ck_assert_msg(fabs(cli_loss - loss) <= 1e-5 * fabs(loss), "forward-backward loss %.9g, in process %.9g", cli_loss, loss);
    const JsonValue *gn = json_get(doc.root, "grad_norms");
    ck_assert(gn && json_get_number(gn, "base_model.model.model.layers.0.block_sparse_moe.gate.lora_A.weight", &norm));
    ck_assert_msg(norm > 0, "no gradient reached the router LoRA");
    json_doc_free(&doc);
}

/* reloads dir (model + adapter), compares the loss and the router tensors with r */
static void reload_and_compare(const LlamaModel *r, const char *mp, const char *ap, double lr) {
    LlamaModel b;
    Error err;
    ck_assert_msg(model_load_with_adapter(&b, mp, ap, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(b.acfg.kind, r->acfg.kind);
    ck_assert_int_eq(b.acfg.targets, r->acfg.targets);
    ck_assert_int_eq(b.ps.n, r->ps.n);
    const Tensor *ba = b.layers[1].ffn->router.lora_a, *ra = r->layers[1].ffn->router.lora_a;
    ck_assert(ba && ba != ra && ba->numel == ra->numel);
    for (size_t j = 0; j < ba->numel; j++) ck_assert(ba->data[j] == (real)(float)ra->data[j]);
    double lb = loss_of(&b, NULL);
    ck_assert_msg(sizeof(real) == 4 ? lb == lr : fabs(lb - lr) <= 1e-6 * fabs(lr),   /* double: values pass through f32 */
                  "reloaded loss %.17g, saved model %.17g", lb, lr);
    llama_free(&b);
}

START_TEST(test_router_lora_save_reload)
{
    ModelConfig c = tiny_mixtral_config();
    AdapterConfig acfg = config_of(_i, 1);
    LlamaModel r;
    tiny_model(&r, &c, &acfg, 13, 0.5);
    char *dir = tmp_dir_new(), mp[128], ap[128], cfgp[160], cmd[160];
    snprintf(mp, sizeof mp, "%s/model", dir);
    snprintf(ap, sizeof ap, "%s/adapter", dir);
    Error err;
    ck_assert_msg(hf_write(&r, mp, SAFE_F32, &err) == STATUS_OK, "%s", err.message);
    ck_assert_msg(adapter_save(&r, ap, mp, &err) == STATUS_OK, "%s", err.message);
    check_files(ap);
    double lr = loss_of(&r, NULL);
    reload_and_compare(&r, mp, ap, lr);
    check_cli(dir, mp, ap, lr);
    /* PEFT's usual spelling of the Mixtral router target: a bare "gate" */
    snprintf(cfgp, sizeof cfgp, "%s/adapter_config.json", ap);
    char *text = read_text(cfgp), *at = strstr(text, "\"block_sparse_moe.gate\"");
    ck_assert_ptr_nonnull(at);
    memmove(at + 1, at + 1 + strlen("block_sparse_moe."), strlen(at + 1 + strlen("block_sparse_moe.")) + 1);
    ck_assert_ptr_nonnull(strstr(text, "\"gate\""));
    write_text(cfgp, text);
    free(text);
    reload_and_compare(&r, mp, ap, lr);
    llama_free(&r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

START_TEST(test_router_target_parsing)
{
    int bits = 0;
    char buf[64];
    Error err;
    ck_assert_int_eq(lora_targets_parse("all", &bits, &err), STATUS_OK);
    ck_assert_int_eq(bits, 0x7f);                                   /* the seven linears, as before */
    ck_assert_int_eq(lora_targets_parse("all,router", &bits, &err), STATUS_OK);
    ck_assert_int_eq(bits, 0x7f | LORA_TARGET_ROUTER);
    ck_assert_str_eq(lora_targets_str(bits, buf, sizeof buf), "q,k,v,o,gate,up,down,router");
    ck_assert_int_eq(lora_targets_parse("q,v,router", &bits, &err), STATUS_OK);
    ck_assert_int_eq(bits, LORA_TARGET_Q | LORA_TARGET_V | LORA_TARGET_ROUTER);
    ck_assert_int_eq(lora_targets_parse("block_sparse_moe.gate,w1", &bits, &err), STATUS_OK);
    ck_assert_int_eq(bits, LORA_TARGET_ROUTER | LORA_TARGET_GATE);
    ck_assert_int_eq(lora_targets_parse("gate", &bits, &err), STATUS_OK);   /* on the command line: gate_proj / w1 */
    ck_assert_int_eq(bits, LORA_TARGET_GATE);
    ck_assert_int_eq(lora_targets_parse("q,routr", &bits, &err), STATUS_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "routr"));
    ck_assert_ptr_nonnull(strstr(err.hint, "router"));
    /* "all" on a Mixtral model declares no router LoRA */
    ModelConfig c = tiny_mixtral_config();
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    LlamaModel m;
    tiny_model(&m, &c, &a, 3, 0);
    for (int i = 0; i < m.ps.n; i++) ck_assert_ptr_null(strstr(m.ps.params[i]->name, ".gate.lora_"));
    ck_assert_ptr_null(m.layers[0].ffn->router.lora_a);
    llama_free(&m);
}
END_TEST

START_TEST(test_router_target_model_checks)
{
    ModelConfig dense = tiny_config(0), mix = tiny_mixtral_config();
    AdapterConfig lora = config_of(0, 1), moe = config_of(1, 1);
    Error err;
    ck_assert_int_eq(moe_ffn_check_model(&mix, &lora, "m", &err), STATUS_OK);
    ck_assert_int_eq(moe_ffn_check_model(&mix, &moe, "m", &err), STATUS_OK);
    ck_assert_int_eq(moe_ffn_check_model(&dense, &lora, "dense.bin", &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "dense.bin") && strstr(err.message, "'router'") && strstr(err.message, "Mixtral"),
                  "unclear message: %s", err.message);
    moe.upcycle = 4;
    ck_assert_int_eq(moe_ffn_check_model(&dense, &moe, "dense.bin", &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "upcycled router") && strstr(err.message, "already trained"), "unclear message: %s", err.message);
    moe.targets &= ~LORA_TARGET_ROUTER;
    ck_assert_int_eq(moe_ffn_check_model(&dense, &moe, "dense.bin", &err), STATUS_OK);
    /* through model loading: a dense HF model with an adapter naming the router */
    char *dir = tmp_dir_new(), mp[128], ap[128], path[160], cmd[160];
    snprintf(mp, sizeof mp, "%s/model", dir);
    snprintf(ap, sizeof ap, "%s/adapter", dir);
    snprintf(path, sizeof path, "%s/adapter_config.json", ap);
    dense.rope_half = 1;
    AdapterConfig none = { 0 };
    LlamaModel m;
    tiny_model(&m, &dense, &none, 4, 0);
    ck_assert_msg(hf_write(&m, mp, SAFE_F32, &err) == STATUS_OK, "%s", err.message);
    llama_free(&m);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", ap);
    ck_assert_int_eq(system(cmd), 0);
    static const char *const configs[2] = {
        "{\"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\", \"block_sparse_moe.gate\"]}",
        "{\"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"gate\"]}" };
    for (int k = 0; k < 2; k++) {
        write_text(path, configs[k]);
        ck_assert_int_eq(model_load_with_adapter(&m, mp, ap, 0, &err), STATUS_INVALID);
        ck_assert_msg(strstr(err.message, "'router'") && strstr(err.message, "Mixtral"), "unclear message: %s", err.message);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

/* declaring a dense (or upcycled) model with the target directly is a programming error */
START_TEST(test_router_target_dense_declare_aborts)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig a = _i ? config_of(1, 1) : config_of(0, 1);
    if (_i) a.upcycle = 4;
    LlamaModel m;
    llama_declare(&m, &c, &a, 0);
}
END_TEST

Suite *router_lora_suite(void) {
    Suite *s = suite_create("router_lora");
    TCase *tc = tcase_create("mixtral_router");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_router_lora_equals_merged_gate, 0, 2);
    tcase_add_loop_test(tc, test_router_lora_zero_b_is_base, 0, 2);
    tcase_add_loop_test(tc, test_router_lora_save_reload, 0, 2);
    tcase_add_test(tc, test_router_target_parsing);
    tcase_add_test(tc, test_router_target_model_checks);
    tcase_add_loop_test_raise_signal(tc, test_router_target_dense_declare_aborts, SIGABRT, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
