/* tests/nn/test_base_init.c — random models written tensor by tensor (nn/base_init.h).
   Independent facts: xoshiro256** advanced by rng_skip(n) is in the state n rng_u64 calls leave,
   rng_normal takes exactly two draws; a streamed model.safetensors is byte for byte the file the
   in-memory path writes (allocate, llama_init_base_fan_in, hf_write) for llama / tied / qwen2
   biases / Mixtral shapes in F32, BF16 and F16; its size is 8 + header + Σ numel · dtype size;
   the progress callback ends at that total. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/base_init.h"
#include "nn/checkpoint.h"
#include "data/file_read.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_rng_skip_is_n_draws)
{
    Rng a = rng_derive(11, 2), b = a, c = a;
    for (int i = 0; i < 1001; i++) rng_u64(&a);
    rng_skip(&b, 1001);
    ck_assert_mem_eq(a.s, b.s, sizeof a.s);
    rng_normal(&c);
    Rng d = b;
    rng_skip(&d, 0);
    ck_assert_mem_eq(d.s, b.s, sizeof d.s);
    Rng e = rng_derive(11, 2);
    rng_skip(&e, 2);
    ck_assert_mem_eq(c.s, e.s, sizeof c.s);   /* one normal = two draws */
}
END_TEST

static char *read_all(const char *dir, size_t *len) {
    char path[512], *data;
    Error err;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_int_eq(file_read_all(path, &data, len, &err), STATUS_OK);
    return data;
}

static void progress(void *ctx, double done, double total) {
    double *p = ctx;
    ck_assert(done >= p[0] && done <= total);
    p[0] = done, p[1] = total;
}

/* streamed file == in-memory file, for one shape and dtype */
static void check_same(ModelConfig c, SafeDtype dt, uint64_t seed) {
    AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel m;
    Error err;
    char *d1 = tmp_dir_new(), *d2 = tmp_dir_new();
    llama_declare(&m, &c, &none, dt == SAFE_BF16);
    llama_init_base_fan_in(&m, seed);
    ck_assert_int_eq(hf_write(&m, d1, dt, &err), STATUS_OK);
    llama_free(&m);
    llama_declare_params(&m, &c, &none, 0);
    double seen[2] = { 0, 0 }, numel = 0;
    for (int i = 0; i < m.ps.n; i++) numel += (double)m.ps.params[i]->numel;
    RandomWriteProgress p = { progress, seen };
    ck_assert_int_eq(hf_write_random(&m, seed, d2, dt, 1, &p, &err), STATUS_OK);
    llama_free(&m);
    size_t n1, n2;
    char *a = read_all(d1, &n1), *b = read_all(d2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(a, b, n1) == 0);
    size_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (size_t)(unsigned char)b[i] << (8 * i);
    double esize = dt == SAFE_F32 ? 4 : 2;
    ck_assert_uint_eq(n2, 8 + hlen + (size_t)(numel * esize));
    ck_assert(seen[0] == numel * esize && seen[1] == seen[0]);
    free(a), free(b);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "cmp -s '%s/config.json' '%s/config.json' && rm -rf '%s' '%s'", d1, d2, d1, d2);
    ck_assert_int_eq(system(cmd), 0);
    free(d1), free(d2);
}

START_TEST(test_streamed_equals_in_memory)
{
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    check_same(c, SAFE_F32, 5);
    check_same(c, SAFE_BF16, 6);
    ModelConfig t = tiny_config(1);
    t.rope_half = 1;
    check_same(t, SAFE_F16, 7);
    ModelConfig q = c;
    q.qwen2 = 1;
    q.bias_targets = LORA_TARGET_Q | LORA_TARGET_K | LORA_TARGET_V;
    check_same(q, SAFE_BF16, 8);
    check_same(tiny_mixtral_config(), SAFE_F32, 9);
}
END_TEST

Suite *base_init_suite(void) {
    Suite *s = suite_create("base_init");
    TCase *tc = tcase_create("stream");
    tcase_add_test(tc, test_rng_skip_is_n_draws);
    tcase_add_test(tc, test_streamed_equals_in_memory);
    suite_add_tcase(s, tc);
    return s;
}
