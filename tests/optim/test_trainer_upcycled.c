/* tests/optim/test_trainer_upcycled.c — an upcycled dense model (moe-ffn --upcycle 4, 2 null experts with
   a random gate2, top-2) trains with the ordinary trainer on a synthetic, padded two-choice set:
   the router, gate2 and expert LoRAs all move, the aux loss and Load are recorded,
   and the saved adapter reloaded onto the same dense base reproduces the trained model's logits. */
#include "tests/support/suites.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "nn/adapter_io.h"
#include "optim/trainer.h"
#include "tensor/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static AdapterConfig upcycle_config(void) {
    AdapterConfig a = { .kind = ADAPTER_MOE_FFN, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4 };
    adapter_moe_defaults(&a);
    a.upcycle = a.n_true = 4;
    a.n_null = 2;
    a.top_k = 2;
    a.gate2_init = MOE_GATE2_RANDOM;
    a.aux_coef = 0.01;
    return a;
}

static real *copy_of(const Tensor *t) {
    real *c = xmalloc(t->numel * sizeof(real));
    memcpy(c, t->data, t->numel * sizeof(real));
    return c;
}

static int moved(const Tensor *t, const real *before) {
    for (size_t i = 0; i < t->numel; i++)
        if (t->data[i] != before[i]) return 1;
    return 0;
}

START_TEST(test_upcycled_trains_and_reloads)
{
    ModelConfig c = tiny_config(0);
    AdapterConfig acfg = upcycle_config();
    LlamaModel m;
    tiny_model(&m, &c, &acfg, 31, 0);
    const MoeFfn *f = m.layers[1].ffn;
    real *router0 = copy_of(f->gate), *gate2_0 = copy_of(f->gate2), *b0 = copy_of(f->w2[0].lora_b);
    TokenizedSet ts;
    synthetic_parity_set(&ts, 9);
    char *dir = tmp_dir_new(), ad[128], cmd[160];
    TrainConfig tc;
    train_config_default(&tc);
    tc.batch = 6;
    tc.epochs = 3;
    tc.lr = 1e-2;
    tc.out_dir = dir;
    tc.task = "synthetic";
    Trainer tr;
    Error err;
    ck_assert_int_eq(trainer_init(&tr, &m, &ts, &ts, &tc, &err), STATUS_OK);
    ck_assert_msg(trainer_run(&tr, NULL, &err) == STATUS_OK, "%s", err.message);
    ck_assert(isfinite(tr.last_loss) && tr.last_aux > 0);
    trainer_free(&tr);
    ck_assert(moved(f->gate, router0) && moved(f->gate2, gate2_0) && moved(f->w2[0].lora_b, b0));
    MoeSummary ms;
    moe_summary_model(&m.moe->stats, &ms);
    ck_assert(ms.tokens > 0 && ms.load > 0 && ms.load <= 2);
    snprintf(ad, sizeof ad, "%s/saved", dir);
    ck_assert_msg(adapter_save(&m, ad, "tiny", &err) == STATUS_OK, "%s", err.message);
    AdapterConfig fcfg;
    ck_assert_msg(adapter_read_config(ad, &fcfg, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(fcfg.upcycle, 4);
    ck_assert_int_eq(fcfg.gate2_init, MOE_GATE2_RANDOM);
    LlamaModel r;
    tiny_model(&r, &c, &fcfg, 31, 0);    /* the same dense base, a fresh adapter ... */
    ck_assert_msg(adapter_load(&r, ad, &err) == STATUS_OK, "%s", err.message);   /* ... replaced */
    static const int ids[8] = { 1, 22, 35, 41, 1, 27, 30, 48 };
    real *lm = tiny_logits(&m, ids, 2, 4), *lr = tiny_logits(&r, ids, 2, 4);
    size_t n = (size_t)8 * c.vocab_size;
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)lm[i] - (double)lr[i]) <= (sizeof(real) == 4 ? 0 : 1e-5) * fmax(1.0, fabs((double)lm[i])),
                      "logit %zu: %g vs %g", i, (double)lm[i], (double)lr[i]);
    free(lm);
    free(lr);
    free(router0);
    free(gate2_0);
    free(b0);
    llama_free(&r);
    llama_free(&m);
    tokenized_set_free(&ts);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

Suite *mixtral_train_suite(void) {
    Suite *s = suite_create("mixtral_train");
    TCase *tc = tcase_create("upcycle");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_upcycled_trains_and_reloads);
    suite_add_tcase(s, tc);
    return s;
}
