/* tests/nn/test_param_map.c — frozen bf16 matrices memory-mapped from a BF16 checkpoint
   (nn/param_store.h "Memory-mapped views", nn/checkpoint_hf.c).
   Independent facts: every mapped view's address lies inside the file's mapping, at the byte
   offset the file's own header gives for that tensor (8 + N + data_offsets[0]); the same model
   written with one extra 1-byte U8 tensor sorting first puts every later tensor at an odd byte
   offset, which a bf16 view cannot use, so that file is copied into the frozen16 block instead;
   both loads give the same logits bit for bit; a write into a mapped view (MAP_PRIVATE) leaves
   the file's bytes unchanged. */
#include "tests/support/suites.h"
#include "tests/support/model_fixtures.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "data/file_read.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int ids[8] = { 1, 5, 7, 9, 11, 13, 2, 3 };

/* dir/model.safetensors of a tiny random model in BF16; with `odd`, a copy of it with the tensor
   "0pad" (U8, one byte) first, so every other tensor starts at an odd offset */
static char *write_bf16_model(const ModelConfig *c, int odd) {
    AdapterConfig none = { .kind = ADAPTER_NONE };
    LlamaModel m;
    Error err;
    char *dir = tmp_dir_new(), path[512];
    tiny_model(&m, c, &none, 5, 0);
    ck_assert_int_eq(hf_write(&m, dir, SAFE_BF16, &err), STATUS_OK);
    llama_free(&m);
    if (!odd) return dir;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors st;
    ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_OK);
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    unsigned char pad = 7;
    int one = 1;
    safetensors_writer_add(&w, "0pad", SAFE_U8, &one, 1, &pad);
    for (size_t i = 0; i < st.count; i++) {
        const SafeTensor *t = safetensors_at(&st, i);
        int shape[SAFE_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) shape[d] = (int)t->shape[d];
        safetensors_writer_add(&w, t->name, t->dtype, shape, t->ndim, t->data);
    }
    ck_assert_int_eq(safetensors_write(&w, path, &err), STATUS_OK);   /* atomic: the old mapping stays valid */
    safetensors_writer_free(&w);
    safetensors_close(&st);
    return dir;
}

static size_t matrix_numel(const LlamaModel *m) {
    size_t n = 0;
    for (int i = 0; i < m->ps.n; i++)
        if (m->ps.roles[i] == PARAM_FROZEN && m->ps.params[i]->ndim >= 2) n += m->ps.params[i]->numel;
    return n;
}

START_TEST(test_bf16_matrices_point_into_the_file)
{
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    char *dir = write_bf16_model(&c, 0), path[512];
    LlamaModel m;
    Error err;
    ck_assert_int_eq(model_load(&m, dir, &none, BASE_DTYPE_AUTO, &err), STATUS_OK);
    ck_assert_uint_eq(m.ps.mapped_numel, matrix_numel(&m));
    ck_assert_uint_eq(m.ps.frozen16_numel, 0);
    ck_assert_int_eq(m.ps.n_maps, 1);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char *file;
    size_t len;
    ck_assert_int_eq(file_read_all(path, &file, &len, &err), STATUS_OK);
    ck_assert_uint_eq(m.ps.maps[0].len, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)file[i];
    SafeTensors st;
    ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_OK);
    for (int i = 0; i < m.ps.n; i++) {
        const Tensor *t = m.ps.params[i];
        if (!m.ps.mapped[i]) continue;
        size_t off = (size_t)((const unsigned char *)t->bf16 - (const unsigned char *)m.ps.maps[0].addr);
        ck_assert_uint_eq(off, 8 + hlen + safetensors_find(&st, t->name)->begin);
        ck_assert_mem_eq(t->bf16, file + off, t->numel * 2);
    }
    safetensors_close(&st);
    free(file);
    llama_free(&m);
    tmp_dir_remove(dir);
}
END_TEST

START_TEST(test_odd_offsets_are_copied_with_the_same_logits)
{
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    char *d_map = write_bf16_model(&c, 0), *d_odd = write_bf16_model(&c, 1);
    LlamaModel a, b;
    Error err;
    ck_assert_int_eq(model_load(&a, d_map, &none, BASE_DTYPE_AUTO, &err), STATUS_OK);
    ck_assert_int_eq(model_load(&b, d_odd, &none, BASE_DTYPE_AUTO, &err), STATUS_OK);
    ck_assert_uint_eq(b.ps.mapped_numel, 0);
    ck_assert_int_eq(b.ps.n_maps, 0);
    ck_assert_uint_ge(b.ps.frozen16_numel, matrix_numel(&b));
    ck_assert_uint_eq(param_store_bytes(&a.ps), param_store_bytes(&b.ps));
    real *la = tiny_logits(&a, ids, 1, 8), *lb = tiny_logits(&b, ids, 1, 8);
    ck_assert_mem_eq(la, lb, (size_t)8 * c.vocab_size * sizeof(real));
    free(la), free(lb);
    llama_free(&a), llama_free(&b);
    tmp_dir_remove(d_map), tmp_dir_remove(d_odd);
}
END_TEST

START_TEST(test_a_write_never_reaches_the_file)
{
    ModelConfig c = tiny_config(0);
    c.rope_half = 1;
    AdapterConfig none = { .kind = ADAPTER_NONE };
    char *dir = write_bf16_model(&c, 0), path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char *before, *after;
    size_t n0, n1;
    Error err;
    ck_assert_int_eq(file_read_all(path, &before, &n0, &err), STATUS_OK);
    LlamaModel m;
    ck_assert_int_eq(model_load(&m, dir, &none, BASE_DTYPE_AUTO, &err), STATUS_OK);
    Tensor *w = param_find(&m.ps, "model.layers.0.self_attn.q_proj.weight");
    ck_assert_ptr_nonnull(w->bf16);
    uint16_t orig = w->bf16[0];
    w->bf16[0] ^= 0x1234;   /* copy-on-write: this process's page only */
    ck_assert_uint_eq(w->bf16[0], orig ^ 0x1234u);
    llama_free(&m);
    ck_assert_int_eq(file_read_all(path, &after, &n1, &err), STATUS_OK);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(before, after, n0);
    free(before), free(after);
    tmp_dir_remove(dir);
}
END_TEST

Suite *param_map_suite(void) {
    Suite *s = suite_create("param_map");
    TCase *tc = tcase_create("mmap");
    tcase_add_test(tc, test_bf16_matrices_point_into_the_file);
    tcase_add_test(tc, test_odd_offsets_are_copied_with_the_same_logits);
    tcase_add_test(tc, test_a_write_never_reaches_the_file);
    suite_add_tcase(s, tc);
    return s;
}
