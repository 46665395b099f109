/* tests/optim/test_step_alloc.c — full LoRA training steps (llama_loss + tape_backward + adamw_step +
   arena_reset/tape_reset) on a small random model:
   - after step 1 the step arena mallocs no new block and the tape's entry array does not grow
     (the steady-state step is allocation-free);
   - losses and trained adapters are bitwise identical under threads_init(1) and threads_init(2)
     (the model is big enough that GEMMs, element ranges, attention slots and CE rows split);
   - AdamW on one fixed batch lowers the loss (the gradients point downhill). */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "autograd/ops.h"
#include "optim/adamw.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include <string.h>

#define SB 8
#define ST 32
#define N_STEPS 4

typedef struct {
    LlamaModel m;
    AdamW opt;
    Arena arena;
    Tape tape;
    int ids[SB * ST], targets[SB * ST];
} StepRig;

/* tiny_config widened so the parallel paths engage: 256 rows, GEMMs above the serial cut-off */
static ModelConfig step_config(void) {
    ModelConfig c = tiny_config(0);
    c.dim = 64; c.hidden_dim = 160; c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 16;
    c.vocab_size = 300; c.max_seq_len = ST;
    return c;
}

static void rig_init(StepRig *r, uint64_t seed) {
    ModelConfig c = step_config();
    AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = 4, .alpha = 8.0 };
    tiny_model(&r->m, &c, &a, seed, 0.05);
    AdamWConfig oc = { 0.9, 0.999, 1e-8, 0.01 };
    adamw_init(&r->opt, &oc, r->m.ps.train_numel);
    arena_init(&r->arena, (size_t)1 << 16);    /* small blocks: any growth shows up */
    tape_init(&r->tape, &r->arena);
    Rng g = rng_derive(seed, 5);
    for (int i = 0; i < SB * ST; i++) {
        r->ids[i] = (int)rng_int(&g, (uint64_t)c.vocab_size);
        r->targets[i] = i % 7 == 3 ? -100 : (int)rng_int(&g, (uint64_t)c.vocab_size);
    }
}

static void rig_free(StepRig *r) {
    tape_free(&r->tape);
    arena_free(&r->arena);
    adamw_free(&r->opt);
    llama_free(&r->m);
}

static real rig_step(StepRig *r, double lr) {
    param_store_zero_grad(&r->m.ps);
    Tensor *loss = llama_loss(&r->tape, &r->m, r->ids, r->targets, SB, ST, NULL, NULL);
    real l = loss->data[0];
    tape_backward(&r->tape, loss);
    adamw_step(&r->opt, r->m.ps.train, r->m.ps.train_grad, lr);
    arena_reset(&r->arena);
    tape_reset(&r->tape);
    return l;
}

START_TEST(test_steady_state_allocates_nothing)
{
    StepRig r;
    rig_init(&r, 3);
    rig_step(&r, 1e-3);
    size_t blocks = r.arena.n_block_allocs, high = r.arena.high_water;
    int cap = r.tape.cap;
    ck_assert_uint_gt(blocks, 1);                /* the small block size did force a chain */
    for (int i = 1; i < N_STEPS; i++) {
        rig_step(&r, 1e-3);
        ck_assert_msg(r.arena.n_block_allocs == blocks, "step %d malloc'd arena blocks (%zu -> %zu)",
                      i + 1, blocks, r.arena.n_block_allocs);
        ck_assert_int_eq(r.tape.cap, cap);
        ck_assert_uint_eq(r.arena.high_water, high);
    }
    rig_free(&r);
}
END_TEST

/* N_STEPS losses and the final adapter values at a given thread count */
static real *run_steps(int threads, real *losses) {
    threads_init(threads);
    StepRig r;
    rig_init(&r, 9);
    for (int i = 0; i < N_STEPS; i++) losses[i] = rig_step(&r, 1e-3);
    real *params = xmalloc(r.m.ps.train_numel * sizeof(real));
    memcpy(params, r.m.ps.train, r.m.ps.train_numel * sizeof(real));
    rig_free(&r);
    return params;
}

START_TEST(test_losses_identical_across_thread_counts)
{
    real l1[N_STEPS], l2[N_STEPS];
    real *p1 = run_steps(1, l1), *p2 = run_steps(2, l2);
    threads_init(0);
    StepRig r;
    rig_init(&r, 9);
    size_t n = r.m.ps.train_numel;
    rig_free(&r);
    for (int i = 0; i < N_STEPS; i++)
        ck_assert_msg(memcmp(&l1[i], &l2[i], sizeof(real)) == 0, "step %d: loss %.9g (1 thread) vs %.9g (2)",
                      i + 1, (double)l1[i], (double)l2[i]);
    ck_assert_msg(memcmp(p1, p2, n * sizeof(real)) == 0, "trained adapters differ between 1 and 2 threads");
    ck_assert_msg(l1[N_STEPS - 1] != l1[0], "the steps changed nothing");
    free(p1);
    free(p2);
}
END_TEST

START_TEST(test_adamw_lowers_the_loss)
{
    StepRig r;
    rig_init(&r, 21);
    real first = rig_step(&r, 1e-2), prev = first, last = first;
    for (int i = 1; i < 8; i++) {
        last = rig_step(&r, 1e-2);
        ck_assert_msg(last < prev, "step %d: loss went up from %.6f to %.6f", i + 1, (double)prev, (double)last);
        prev = last;
    }
    ck_assert_msg(last < first - (real)0.05, "8 AdamW steps moved the loss only from %.6f to %.6f",
                  (double)first, (double)last);
    rig_free(&r);
}
END_TEST

Suite *step_alloc_suite(void) {
    Suite *s = suite_create("step_alloc");
    TCase *tc = tcase_create("step");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_steady_state_allocates_nothing);
    tcase_add_test(tc, test_losses_identical_across_thread_counts);
    tcase_add_test(tc, test_adamw_lowers_the_loss);
    suite_add_tcase(s, tc);
    return s;
}
