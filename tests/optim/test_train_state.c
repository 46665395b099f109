/* tests/optim/test_train_state.c — the resume checkpoint is validated whole before anything is
   applied: each field the fuzzing found (negative or past-INT_MAX data_pos, negative
   step, negative adam_step, empty data_pos, non-hex dropout_rng, ...) is rejected with a message
   naming the field; a flipped bit in the tensors fails the checksum; a checkpoint of another
   adapter, data set or seed is refused; and a rejected checkpoint leaves the trainer as it was. */
#include "tests/support/suites.h"
#include "tests/support/train_fixture.h"
#include "tests/support/helpers.h"
#include "tests/support/model_fixtures.h"
#include "nn/safetensors.h"
#include "tensor/threads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rewrites DIR/checkpoint/state.safetensors with metadata key = value (value NULL: key removed). */
static void tamper_meta(const char *dir, const char *key, const char *value) {
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", dir);
    SafeTensors st;
    Error err;
    ck_assert_int_eq(safetensors_open(&st, path, &err), STATUS_OK);
    SafeTensorsWriter w;
    safetensors_writer_init(&w);
    for (size_t i = 0; i < st.count; i++) {
        const SafeTensor *t = safetensors_at(&st, i);
        int shape = (int)t->shape[0];
        safetensors_writer_add(&w, t->name, t->dtype, &shape, 1, t->data);
    }
    const JsonValue *md = st.metadata;
    for (size_t i = 0; i < md->count; i++)
        if (strcmp(md->keys[i], key)) safetensors_writer_set_metadata(&w, md->keys[i], md->items[i].string);
    if (value) safetensors_writer_set_metadata(&w, key, value);
    ck_assert_int_eq(safetensors_write(&w, path, &err), STATUS_OK);
    safetensors_writer_free(&w);
    safetensors_close(&st);
}

static void train_and_save(const TinyRun *r, const char *out) {
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", out, out);
    ck_assert_int_eq(system(cmd), 0);
    TrainConfig tc;
    tiny_run_config(&tc, out);
    tc.max_steps = 2;
    Error err;
    ck_assert_msg(tiny_run(r, &tc, 0, NULL, NULL, NULL, &err) == STATUS_OK, "%s", err.message);
}

/* Loads out's checkpoint into a fresh trainer built with tc / ts; the trainer must stay as it was
   when the load fails. Returns the status, message in err. */
static Status load_into_fresh(const TinyRun *r, const TokenizedSet *ts, const TrainConfig *tc, int rank, Error *err) {
    LlamaModel m;
    tiny_run_model(&m);
    if (rank != 4) {
        llama_free(&m);
        ModelConfig c = tiny_config(0);
        AdapterConfig a = { .kind = ADAPTER_LORA, .targets = LORA_TARGET_ALL, .rank = rank, .alpha = 8.0 };
        llama_declare(&m, &c, &a, 0);
        llama_init_adapter(&m, 7);
    }
    real *before = malloc(m.ps.train_numel * sizeof(real));
    memcpy(before, m.ps.train, m.ps.train_numel * sizeof(real));
    Trainer tr;
    ck_assert_int_eq(trainer_init(&tr, &m, ts, ts, tc, err), STATUS_OK);
    Status s = trainer_load_state(&tr, tc->out_dir, err);
    if (s) {
        ck_assert_int_eq(tr.step, 0);
        ck_assert_int_eq(tr.opt.step, 0);
        ck_assert_int_eq(tr.it.pos, 0);
        ck_assert_msg(memcmp(before, m.ps.train, m.ps.train_numel * sizeof(real)) == 0, "a rejected checkpoint changed the weights");
    }
    free(before);
    trainer_free(&tr);
    llama_free(&m);
    return s;
}

typedef struct { const char *key, *value, *want; } BadField;

static const BadField BAD[] = {
    { "data_pos", "-5", "\"data_pos\" = -5 is outside 0..24" },
    { "data_pos", "3000000000", "\"data_pos\" = 3000000000 is outside 0..24" },
    { "data_pos", "25", "outside 0..24" },                       /* past the 24 examples */
    { "data_pos", "", "\"data_pos\" = \"\" is not an integer" },
    { "data_pos", "99999999999999999999999", "not an integer" },
    { "data_pos", "4x", "not an integer" },
    { "step", "-3", "\"step\" = -3 is outside" },
    { "step", " 2", "not an integer" },
    { "adam_step", "-1", "\"adam_step\" = -1 is outside 0..2" },
    { "adam_step", "3", "\"adam_step\" = 3 is outside 0..2" },     /* more updates than steps */
    { "data_epoch", "-1", "\"data_epoch\" = -1 is outside" },
    { "data_epoch", "1000", "\"data_epoch\" = 1000 is outside 0..3" },
    { "n_params", "0", "\"n_params\" = 0 is outside" },
    { "dropout_rng", "zz00000000000000000000000000000000000000000000000000000000000000", "dropout_rng" },
    { "dropout_rng", "0000000000000000000000000000000000000000000000000000000000000000", "not all zero" },
    { "dropout_rng", "12", "dropout_rng" },
    { "step", NULL, "\"step\" is missing" },
    { "checksum", NULL, "checksum (missing)" },
    { "checksum", "0123456789abcdef", "checksum 0123456789abcdef does not match" },
    { "model", "dim 1", "checksum" },                            /* edited without a new checksum */
};

START_TEST(test_each_bad_field_is_named)
{
    threads_init(1);
    TinyRun r;
    tiny_run_init(&r);
    char out[1024];
    snprintf(out, sizeof out, "%s/run", r.dir);
    TrainConfig tc;
    tiny_run_config(&tc, out);
    Error err;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        train_and_save(&r, out);
        ck_assert_msg(load_into_fresh(&r, &r.ts, &tc, 4, &err) == STATUS_OK, "untouched checkpoint: %s", err.message);
        tamper_meta(out, BAD[i].key, BAD[i].value);
        ck_assert_msg(load_into_fresh(&r, &r.ts, &tc, 4, &err) == STATUS_FORMAT, "%s=%s accepted", BAD[i].key,
                      BAD[i].value ? BAD[i].value : "(removed)");
        ck_assert_msg(strstr(err.message, BAD[i].want), "%s=%s: message '%s' lacks '%s'", BAD[i].key,
                      BAD[i].value ? BAD[i].value : "(removed)", err.message, BAD[i].want);
    }
    tiny_run_free(&r);
}
END_TEST

/* one flipped bit anywhere in the tensor data fails the checksum */
START_TEST(test_flipped_bit_fails_the_checksum)
{
    threads_init(1);
    TinyRun r;
    tiny_run_init(&r);
    char out[1024], path[1100];
    snprintf(out, sizeof out, "%s/run", r.dir);
    snprintf(path, sizeof path, "%s/checkpoint/state.safetensors", out);
    TrainConfig tc;
    tiny_run_config(&tc, out);
    Error err;
    train_and_save(&r, out);
    size_t n;
    char *bytes = slurp_file(path, &n);
    const long where[3] = { (long)n - 1, (long)n - 1000, (long)n / 2 + 333 };   /* adam_v, adam_m..., params */
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(path, "r+b");
        fseek(f, where[k], SEEK_SET);
        fputc(bytes[where[k]] ^ 0x10, f);
        fclose(f);
        ck_assert_int_eq(load_into_fresh(&r, &r.ts, &tc, 4, &err), STATUS_FORMAT);
        ck_assert_msg(strstr(err.message, "checksum"), "%s", err.message);
        f = fopen(path, "wb");
        fwrite(bytes, 1, n, f);
        fclose(f);
        ck_assert_msg(load_into_fresh(&r, &r.ts, &tc, 4, &err) == STATUS_OK, "%s", err.message);
    }
    free(bytes);
    tiny_run_free(&r);
}
END_TEST

/* a checkpoint of another adapter shape, data set or seed is refused, naming what differs */
START_TEST(test_checkpoint_of_another_run_is_refused)
{
    threads_init(1);
    TinyRun r;
    tiny_run_init(&r);
    char out[1024];
    snprintf(out, sizeof out, "%s/run", r.dir);
    TrainConfig tc;
    tiny_run_config(&tc, out);
    Error err;
    train_and_save(&r, out);
    ck_assert_int_eq(load_into_fresh(&r, &r.ts, &tc, 8, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "trainable layout") && strstr(err.hint, "--rank"), "%s", err.message);
    TokenizedSet other;
    synthetic_parity_set(&other, 4);
    ck_assert_int_eq(load_into_fresh(&r, &other, &tc, 4, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "training data hash"), "%s", err.message);
    tokenized_set_free(&other);
    tc.seed = 43;
    ck_assert_int_eq(load_into_fresh(&r, &r.ts, &tc, 4, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "seed 42, this run has seed 43"), "%s", err.message);
    tiny_run_free(&r);
}
END_TEST

Suite *train_state_suite(void) {
    Suite *s = suite_create("train_state");
    TCase *tc = tcase_create("validate");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_each_bad_field_is_named);
    tcase_add_test(tc, test_flipped_bit_fails_the_checksum);
    tcase_add_test(tc, test_checkpoint_of_another_run_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
