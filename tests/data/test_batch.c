/* tests/data/test_batch.c — tokenized batches on the tiny vocab of data_tiny_tok.h (encodings
   derived by hand): answer-only targets, loss on all tokens, EOS, padding, left truncation
   that keeps BOS and the answer (and keeps no BOS when the tokenizer's template adds none),
   deterministic shuffling / resume / length grouping. */
#include "tests/support/suites.h"
#include "tests/support/data_fixtures.h"
#include "tests/support/data_tiny_tok.h"

typedef struct {
    char *dir, *tok_path;
    Tokenizer tk;
    McDataset ds;
    PromptConfig pc;
} BatchFx;

static void bfx_setup(BatchFx *f) {
    f->dir = fx_dir();
    f->tok_path = tiny_tokenizer(f->dir, &f->tk);
    mc_dataset_init(&f->ds, "mc_jsonl");
    plain_config(&f->pc);
}

static void bfx_teardown(BatchFx *f) {
    mc_dataset_free(&f->ds);
    tokenizer_free(&f->tk);
    free(f->tok_path);
    fx_rmtree(f->dir);
}

START_TEST(test_batch_answer_targets)
{
    BatchFx f;
    bfx_setup(&f);
    add_q(&f.ds, "q", 1);
    add_q(&f.ds, "qqqq", 0);
    TokenizedSet ts;
    Error err = { 0 };
    ck_assert_msg(dataset_tokenize(&f.ds, &f.tk, &f.pc, &ts, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(ts.letters_ok, 1);
    for (int c = 0; c < 8; c++) ck_assert_int_eq(ts.letter_ids[c], SLET + c);
    /* " I\nQuestion: q\nA. x\nB. y\nAnswer:" = 32 one-byte tokens (no " A".." H" inside) + BOS */
    ck_assert_int_eq(ts.prompt_len[0], 33);
    ck_assert_int_eq(ts.answer_len[0], 1);
    ck_assert_int_eq(ts.prompt_len[1], 36);
    BatchConfig bc;
    batch_config_default(&bc);
    bc.shuffle = 0;
    bc.pad_id = 99;
    BatchIter it;
    ck_assert_int_eq(batch_iter_init(&it, &ts, &bc, &err), STATUS_OK);
    Batch b;
    ck_assert_int_eq(batch_next(&it, &b), 1);
    ck_assert_int_eq(b.B, 2);
    ck_assert_int_eq(b.T, 36);   /* L = 37 - 1 of the longer example */
    const int *in0 = b.input_ids, *tg0 = b.targets, *in1 = b.input_ids + 36, *tg1 = b.targets + 36;
    ck_assert_int_eq(in0[0], 1);
    ck_assert_int_eq(in0[1], SPACE);
    ck_assert_int_eq(in0[2], 'I' + 3);
    ck_assert_int_eq(in0[3], '\n' + 3);
    ck_assert_int_eq(in0[16], LET + 0);   /* "\nA. x": 'A' after a newline is the bare piece */
    ck_assert_int_eq(in0[32], ':' + 3);
    char text[128];
    tokenizer_decode(&f.tk, in0 + 1, 32, text, sizeof text);
    ck_assert_str_eq(text, "I\nQuestion: q\nA. x\nB. y\nAnswer:");
    ck_assert_int_eq(b.answer_pos[0], 32);
    ck_assert_int_eq(b.answer_pos[1], 35);
    ck_assert_int_eq(b.lengths[0], 33);
    for (int t = 0; t < 36; t++) {
        ck_assert_int_eq(tg0[t], t == 32 ? SLET + 1 : IGNORE_INDEX);   /* " B" */
        ck_assert_int_eq(tg1[t], t == 35 ? SLET + 0 : IGNORE_INDEX);   /* " A" */
        if (t >= 33) ck_assert_int_eq(in0[t], 99);
    }
    ck_assert_int_eq(in1[35], ':' + 3);
    ck_assert_int_eq(b.n_targets, 2);
    ck_assert_int_eq(b.label[0], 1);
    ck_assert_int_eq(b.index[1], 1);
    ck_assert_int_eq(batch_next(&it, &b), 0);   /* end of epoch */
    batch_iter_free(&it);
    tokenized_set_free(&ts);
    bfx_teardown(&f);
}
END_TEST

START_TEST(test_batch_loss_on_all_eos)
{
    BatchFx f;
    bfx_setup(&f);
    add_q(&f.ds, "q", 1);
    add_q(&f.ds, "qqqq", 0);
    TokenizedSet ts;
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&f.ds, &f.tk, &f.pc, &ts, &err), STATUS_OK);
    BatchConfig bc;
    batch_config_default(&bc);
    bc.shuffle = 0;
    bc.loss_on_all = 1;
    bc.pad_multiple = 8;
    BatchIter it;
    Batch b;
    ck_assert_int_eq(batch_iter_init(&it, &ts, &bc, &err), STATUS_OK);
    ck_assert_int_eq(batch_next(&it, &b), 1);
    ck_assert_int_eq(b.T, 40);   /* 36 rounded up to a multiple of 8 */
    const int *tok0 = ts.ids + ts.offset[0];
    for (int t = 0; t < 40; t++) ck_assert_int_eq(b.targets[t], t < 33 ? tok0[t + 1] : IGNORE_INDEX);
    ck_assert_int_eq(b.input_ids[39], 0);   /* default pad id */
    ck_assert_int_eq(b.n_targets, 33 + 36);
    batch_iter_free(&it);
    tokenized_set_free(&ts);
    f.pc.add_eos = 1;   /* EOS after the answer letter */
    ck_assert_int_eq(dataset_tokenize(&f.ds, &f.tk, &f.pc, &ts, &err), STATUS_OK);
    ck_assert_int_eq(ts.answer_len[0], 2);
    ck_assert_int_eq(ts.ids[ts.offset[1] - 1], 2);
    ck_assert_int_eq(ts.ids[ts.offset[1] - 2], SLET + 1);
    tokenized_set_free(&ts);
    bfx_teardown(&f);
}
END_TEST

START_TEST(test_batch_left_truncation)
{
    BatchFx fx;
    bfx_setup(&fx);
    add_q(&fx.ds, "q", 1);
    add_q(&fx.ds, "z", -1);   /* unlabeled: no answer tokens */
    TokenizedSet full, cut;
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&fx.ds, &fx.tk, &fx.pc, &full, &err), STATUS_OK);
    ck_assert_int_eq(full.n_truncated, 0);
    fx.pc.max_len = 20;
    ck_assert_int_eq(dataset_tokenize(&fx.ds, &fx.tk, &fx.pc, &cut, &err), STATUS_OK);
    ck_assert_int_eq(cut.n_truncated, 2);
    ck_assert_int_eq(cut.prompt_len[0], 19);
    ck_assert_int_eq(cut.answer_len[0], 1);
    ck_assert_int_eq(cut.prompt_len[1], 20);
    ck_assert_int_eq(cut.answer_len[1], 0);
    const int *f = full.ids, *c = cut.ids;
    ck_assert_int_eq(c[0], 1);   /* BOS kept */
    for (int t = 1; t < 19; t++) ck_assert_int_eq(c[t], f[33 - 19 + t]);   /* the LAST 18 prompt tokens */
    ck_assert_int_eq(c[19], SLET + 1);                                      /* the answer survives */
    tokenized_set_free(&cut);
    fx.pc.max_len = 2;   /* BOS + 1 prompt token + answer does not fit */
    ck_assert_int_eq(dataset_tokenize(&fx.ds, &fx.tk, &fx.pc, &cut, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "max_len 2") != NULL, "%s", err.message);
    tokenized_set_free(&full);
    bfx_teardown(&fx);
}
END_TEST

/* A tokenizer whose template adds no BOS (GPT-2's tokenizer.json, when staged): nothing is
   prepended, and left truncation keeps the LAST prompt tokens, not a first text token taken for
   a BOS. Reference: the same tokenizer's own encoding of the prompt, no template. */
START_TEST(test_batch_no_bos_template)
{
    const char *path = "../shared/data/tokenizers/gpt2/tokenizer.json";
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        printf("  skipped: %s not found (the real GPT-2 tokenizer.json)\n", path);
        return;
    }
    fclose(probe);
    Tokenizer tk;
    Error err = { 0 };
    ck_assert_msg(tokenizer_load(&tk, path, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(tk.n_prefix, 0);
    McDataset ds;
    PromptConfig pc;
    mc_dataset_init(&ds, "mc_jsonl");
    plain_config(&pc);
    add_q(&ds, "the quick brown fox jumps over the lazy dog again and again", 1);
    char *text = prompt_build(&ds, &ds.ex[0], &pc);
    int ref[256], n_ref;
    ck_assert_int_eq(tokenizer_encode(&tk, text, 0, 0, ref, 256, &n_ref, &err), STATUS_OK);
    free(text);
    TokenizedSet full, cut;
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &full, &err), STATUS_OK);
    ck_assert_int_eq(full.prompt_len[0], n_ref);
    for (int t = 0; t < n_ref; t++) ck_assert_int_eq(full.ids[t], ref[t]);   /* no BOS in front */
    pc.max_len = 6;
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &cut, &err), STATUS_OK);
    int keep = cut.prompt_len[0];
    ck_assert_int_eq(keep + cut.answer_len[0], 6);
    for (int t = 0; t < keep; t++) ck_assert_int_eq(cut.ids[t], ref[n_ref - keep + t]);
    tokenized_set_free(&cut);
    tokenized_set_free(&full);
    mc_dataset_free(&ds);
    tokenizer_free(&tk);
}
END_TEST

/* the example indices of one epoch, in batch order */
static void epoch_order(BatchIter *it, int *out, int n) {
    Batch b;
    int k = 0;
    while (batch_next(it, &b))
        for (int r = 0; r < b.B; r++) out[k++] = b.index[r];
    ck_assert_int_eq(k, n);
    int seen[64] = { 0 };
    for (int i = 0; i < n; i++) seen[out[i]]++;
    for (int i = 0; i < n; i++) ck_assert_int_eq(seen[i], 1);   /* a permutation */
}

/* 20 examples with questions of 1..13 characters */
static void twenty(BatchFx *f, TokenizedSet *ts, BatchConfig *bc) {
    bfx_setup(f);
    char q[32];
    for (int i = 0; i < 20; i++) {
        memset(q, 'q', sizeof q);
        q[1 + (i * 7) % 13] = '\0';
        add_q(&f->ds, q, i % 2);
    }
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&f->ds, &f->tk, &f->pc, ts, &err), STATUS_OK);
    batch_config_default(bc);
    bc->batch_size = 4;
    bc->seed = 1234;
}

START_TEST(test_batch_shuffle_seed_resume)
{
    BatchFx f;
    TokenizedSet ts;
    BatchConfig bc;
    twenty(&f, &ts, &bc);
    Error err = { 0 };
    BatchIter a, b;
    int oa[20], ob[20], oa1[20];
    batch_iter_init(&a, &ts, &bc, &err);
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&a, oa, 20);
    epoch_order(&b, ob, 20);
    ck_assert(memcmp(oa, ob, sizeof oa) == 0);   /* same seed, same order */
    epoch_order(&a, oa1, 20);
    ck_assert(memcmp(oa, oa1, sizeof oa) != 0);  /* epoch 1 is another permutation */
    batch_iter_seek(&b, 1, 8);                   /* resume at the third batch of epoch 1 */
    Batch bt;
    ck_assert_int_eq(batch_next(&b, &bt), 1);
    for (int r = 0; r < 4; r++) ck_assert_int_eq(bt.index[r], oa1[8 + r]);
    batch_iter_free(&b);
    bc.seed = 1235;
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&b, ob, 20);
    ck_assert(memcmp(oa, ob, sizeof oa) != 0);   /* other seed, other order */
    batch_iter_free(&b);
    batch_iter_free(&a);
    tokenized_set_free(&ts);
    bfx_teardown(&f);
}
END_TEST

START_TEST(test_batch_order_modes)
{
    BatchFx f;
    TokenizedSet ts;
    BatchConfig bc;
    twenty(&f, &ts, &bc);
    Error err = { 0 };
    BatchIter b;
    Batch bt;
    int ob[20];
    bc.shuffle = 0;
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&b, ob, 20);
    for (int i = 0; i < 20; i++) ck_assert_int_eq(ob[i], i);
    batch_iter_free(&b);
    bc.shuffle = 1;
    bc.group_by_length = 1;   /* one window (50 batches > 20 examples): longest first */
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&b, ob, 20);
    for (int i = 1; i < 20; i++) ck_assert_int_ge(ts.prompt_len[ob[i - 1]], ts.prompt_len[ob[i]]);
    batch_iter_free(&b);
    bc.group_by_length = 0;
    bc.drop_last = 1;
    bc.batch_size = 6;   /* 20 = 3 * 6 + 2: the partial batch is dropped */
    batch_iter_init(&b, &ts, &bc, &err);
    int nb = 0;
    while (batch_next(&b, &bt)) nb++;
    ck_assert_int_eq(nb, 3);
    batch_iter_free(&b);
    bc.batch_size = 0;
    ck_assert_int_eq(batch_iter_init(&b, &ts, &bc, &err), STATUS_INVALID);
    tokenized_set_free(&ts);
    bfx_teardown(&f);
}
END_TEST

Suite *data_batch_suite(void) {
    Suite *s = suite_create("data_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, test_batch_answer_targets);
    tcase_add_test(tc, test_batch_loss_on_all_eos);
    tcase_add_test(tc, test_batch_left_truncation);
    tcase_add_test(tc, test_batch_no_bos_template);
    tcase_add_test(tc, test_batch_shuffle_seed_resume);
    tcase_add_test(tc, test_batch_order_modes);
    suite_add_tcase(s, tc);
    return s;
}
