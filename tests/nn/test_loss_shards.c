/* tests/nn/test_loss_shards.c — the CE of a data-parallel shard (LlamaModel.loss_rows): the
   shards' losses and gradients of one batch, each divided by the WHOLE batch's target count,
   add up to the one-batch mean and its gradient (its twin: the same model on all rows at once);
   loss_rows equal to the batch's own count changes nothing, bit for bit. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include <math.h>

#define B 4
#define T 6

typedef struct {
    LlamaModel m;
    int ids[B * T], targets[B * T], lengths[B];
    Arena arena;
    Tape tape;
} ShardFx;

static void fx_init(ShardFx *f) {
    ModelConfig c = tiny_config(0);
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 2, .alpha = 4.0 };
    tiny_model(&f->m, &c, &a, 11, 0.2);
    Rng r = rng_derive(5, 1);
    int len[B] = { 6, 3, 5, 4 };   /* right padding, uneven target counts per row */
    for (int b = 0; b < B; b++) {
        f->lengths[b] = len[b];
        for (int t = 0; t < T; t++) {
            f->ids[b * T + t] = (int)rng_int(&r, (uint64_t)c.vocab_size);
            f->targets[b * T + t] = t >= len[b] || (t + b) % 3 == 0 ? -100 : (int)rng_int(&r, (uint64_t)c.vocab_size);
        }
    }
    arena_init(&f->arena, 1 << 20);
    tape_init(&f->tape, &f->arena);
}

static void fx_free(ShardFx *f) {
    tape_free(&f->tape);
    arena_free(&f->arena);
    llama_free(&f->m);
}

/* rows [lo, hi): forward + backward (gradients ADD to the store's); returns the loss */
static double rows_loss(ShardFx *f, int lo, int hi, int *n_counted) {
    LossParts parts;
    Tensor *l = llama_loss_padded(&f->tape, &f->m, f->ids + lo * T, f->targets + lo * T, f->lengths + lo, hi - lo, T,
                                  0, NULL, &parts);
    double v = (double)l->data[0];
    tape_backward(&f->tape, l);
    tape_reset(&f->tape);
    arena_reset(&f->arena);
    if (n_counted) *n_counted = parts.n_counted;
    return v;
}

START_TEST(test_shard_losses_add_up)
{
    ShardFx f;
    fx_init(&f);
    size_t n = f.m.ps.train_numel;
    param_store_zero_grad(&f.m.ps);
    int all;
    double whole = rows_loss(&f, 0, B, &all);
    real *g = malloc(n * sizeof(real));
    memcpy(g, f.m.ps.train_grad, n * sizeof(real));
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs((double)g[i]));
    ck_assert(gmax > 0);
    const int cuts[3][3] = { { 0, 2, 4 }, { 0, 1, 4 }, { 0, 3, 4 } };   /* even and uneven shards */
    double tol = sizeof(real) == 4 ? 2e-6 : 1e-13;
    for (int c = 0; c < 3; c++) {
        param_store_zero_grad(&f.m.ps);
        f.m.loss_rows = all;
        double sum = rows_loss(&f, cuts[c][0], cuts[c][1], NULL) + rows_loss(&f, cuts[c][1], cuts[c][2], NULL);
        f.m.loss_rows = 0;
        ck_assert_msg(fabs(sum - whole) <= tol * fabs(whole), "cut %d: shards %.12g, whole %.12g", c, sum, whole);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs((double)f.m.ps.train_grad[i] - (double)g[i]) <= 4 * tol * gmax,
                          "cut %d: gradient %zu: shards %.9g, whole %.9g", c, i, (double)f.m.ps.train_grad[i], (double)g[i]);
    }
    /* loss_rows = the batch's own count: the plain mean, bit for bit */
    param_store_zero_grad(&f.m.ps);
    f.m.loss_rows = all;
    ck_assert(rows_loss(&f, 0, B, NULL) == whole);
    ck_assert_int_eq(memcmp(f.m.ps.train_grad, g, n * sizeof(real)), 0);
    free(g);
    fx_free(&f);
}
END_TEST

Suite *nn_loss_shards_suite(void) {
    Suite *s = suite_create("nn_loss_shards");
    TCase *tc = tcase_create("shards");
    tcase_add_test(tc, test_shard_losses_add_up);
    suite_add_tcase(s, tc);
    return s;
}
