/* tests/test_data_batch.c — prompts (exact texts written out by hand), tokenized batches on a
   tiny llama2.c vocab whose encodings are derived by hand (every byte one token, except " "+A..H
   which merge into one letter piece), left truncation, padding, loss masks, deterministic
   shuffling / length grouping, and the token cache (round trip, stale and corrupt files). */
#include "suites.h"
#include "data_fixtures.h"
#include "../data/batch.h"
#include "../data/prompt.h"
#include "../data/token_cache.h"
#include <stdint.h>

/* ids: 0 <unk>, 1 BOS, 2 EOS, 3..258 <0xXX> (byte b -> b + 3), 259 " ", 260..267 "A".."H",
   268..275 " A".." H" */
enum { SPACE = 259, LET = 260, SLET = 268, N_VOCAB = 276 };

static void put_entry(FILE *f, float score, const char *s) {
    int32_t len = (int32_t)strlen(s);
    fwrite(&score, 4, 1, f);
    fwrite(&len, 4, 1, f);
    fwrite(s, 1, (size_t)len, f);
}

static char *tiny_tokenizer(const char *dir, Tokenizer *tk) {
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/tok.bin", dir);
    FILE *f = fopen(path, "wb");
    int32_t mtl = 6;
    fwrite(&mtl, 4, 1, f);
    put_entry(f, 0, "<unk>");
    put_entry(f, 0, "\n<s>\n");
    put_entry(f, 0, "\n</s>\n");
    char p[8];
    for (int b = 0; b < 256; b++) {
        snprintf(p, sizeof p, "<0x%02X>", b);
        put_entry(f, 0, p);
    }
    put_entry(f, 0, " ");
    for (int c = 0; c < 8; c++) put_entry(f, 0, (char[]){ (char)('A' + c), 0 });
    for (int c = 0; c < 8; c++) put_entry(f, 10, (char[]){ ' ', (char)('A' + c), 0 });
    fclose(f);
    Error err = { 0 };
    ck_assert_msg(tokenizer_load(tk, path, 0, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(tk->vocab_size, N_VOCAB);
    return path;
}

static void add_q(McDataset *ds, const char *q, int label) {
    McExample *e = mc_dataset_add(ds);
    e->context = mc_strdup(ds, q);
    const char *ch[2] = { "x", "y" };
    mc_dataset_set_choices(ds, e, ch, 2);
    e->label = label;
    e->id = mc_strdup(ds, q);
}

static void plain_config(PromptConfig *pc) {
    prompt_config_default(pc);
    pc->style = PROMPT_PLAIN;
    pc->instruction = "I";
    pc->max_len = 0;
}

START_TEST(test_prompt_texts)
{
    McDataset ds;
    mc_dataset_init(&ds, "arc_easy");
    McExample *e = mc_dataset_add(&ds);
    e->context = mc_strdup(&ds, "Which is hot?");
    const char *ch[3] = { "ice", "snow", "fire" };
    mc_dataset_set_choices(&ds, e, ch, 3);
    e->label = 2;
    PromptConfig pc;
    prompt_config_default(&pc);
    char *p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Below is an instruction that describes a task, paired with an input that provides further "
                        "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
                        "Choose the correct answer to the question.\n\n### Input:\nQuestion: Which is hot?\n"
                        "A. ice\nB. snow\nC. fire\n\n### Response:\nAnswer:");
    free(p);
    char a[4];
    prompt_answer_text(e->label, a);
    ck_assert_str_eq(a, " C");
    prompt_answer_text(-1, a);
    ck_assert_str_eq(a, "");
    char *ctx, *cont;
    prompt_choice_pair(&ds, e, 2, &ctx, &cont);
    ck_assert_str_eq(ctx, "Question: Which is hot?\nAnswer:");
    ck_assert_str_eq(cont, " fire");
    free(ctx), free(cont);
    mc_dataset_free(&ds);

    mc_dataset_init(&ds, "rte");
    e = mc_dataset_add(&ds);
    e->context = mc_strdup(&ds, "P.");
    e->context2 = mc_strdup(&ds, "H.");
    const char *yn[2] = { "yes", "no" };
    mc_dataset_set_choices(&ds, e, yn, 2);
    pc.style = PROMPT_PLAIN;
    p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Does the premise entail the hypothesis?\nPremise: P.\nHypothesis: H.\nA. yes\nB. no\nAnswer:");
    free(p);
    prompt_choice_pair(&ds, e, 1, &ctx, &cont);
    ck_assert_str_eq(ctx, "P.\nQuestion: H. True or False?\nAnswer:");
    ck_assert_str_eq(cont, " False");
    free(ctx), free(cont);
    mc_dataset_free(&ds);

    mc_dataset_init(&ds, "winogrande");
    e = mc_dataset_add(&ds);
    e->context = mc_strdup(&ds, "The cup fell because _  was full. ");
    const char *wo[2] = { "cup", "table" };
    mc_dataset_set_choices(&ds, e, wo, 2);
    prompt_choice_pair(&ds, e, 1, &ctx, &cont);
    ck_assert_str_eq(ctx, "The cup fell because table");
    ck_assert_str_eq(cont, " was full.");
    free(ctx), free(cont);
    mc_dataset_free(&ds);

    mc_dataset_init(&ds, "siqa");
    e = mc_dataset_add(&ds);
    e->context = mc_strdup(&ds, "C.");
    e->context2 = mc_strdup(&ds, "Why?");
    const char *abc[3] = { "a", "b", "c" };
    mc_dataset_set_choices(&ds, e, abc, 3);
    prompt_choice_pair(&ds, e, 0, &ctx, &cont);
    ck_assert_str_eq(ctx, "Q: C. Why?\nA:");
    ck_assert_str_eq(cont, " a");
    free(ctx), free(cont);
    pc.style = PROMPT_PLAIN;
    pc.instruction = NULL;
    p = prompt_build(&ds, e, &pc);
    ck_assert_str_eq(p, "Choose the most appropriate answer to the question about the situation.\nContext: C.\n"
                        "Question: Why?\nA. a\nB. b\nC. c\nAnswer:");
    free(p);
    strcpy(ds.task, "commonsense_qa");
    prompt_choice_pair(&ds, e, 1, &ctx, &cont);
    ck_assert_str_eq(ctx, "Question: C.\nA. a\nB. b\nC. c\nAnswer:");
    ck_assert_str_eq(cont, " B");
    free(ctx), free(cont);
    mc_dataset_free(&ds);
}
END_TEST

START_TEST(test_batch_targets_padding)
{
    char *d = fx_dir();
    Tokenizer tk;
    char *tp = tiny_tokenizer(d, &tk);
    McDataset ds;
    mc_dataset_init(&ds, "mc_jsonl");
    add_q(&ds, "q", 1);
    add_q(&ds, "qqqq", 0);
    PromptConfig pc;
    plain_config(&pc);
    TokenizedSet ts;
    Error err = { 0 };
    ck_assert_msg(dataset_tokenize(&ds, &tk, &pc, &ts, &err) == STATUS_OK, "%s", err.message);
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
    tokenizer_decode(&tk, in0 + 1, 32, text, sizeof text);
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
    /* loss on every token, padded to a multiple of 8 */
    bc.loss_on_all = 1;
    bc.pad_multiple = 8;
    ck_assert_int_eq(batch_iter_init(&it, &ts, &bc, &err), STATUS_OK);
    ck_assert_int_eq(batch_next(&it, &b), 1);
    ck_assert_int_eq(b.T, 40);
    const int *tok0 = ts.ids + ts.offset[0];
    for (int t = 0; t < 40; t++) ck_assert_int_eq(b.targets[t], t < 33 ? tok0[t + 1] : IGNORE_INDEX);
    ck_assert_int_eq(b.n_targets, 33 + 36);
    batch_iter_free(&it);
    tokenized_set_free(&ts);
    /* EOS after the answer */
    pc.add_eos = 1;
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &ts, &err), STATUS_OK);
    ck_assert_int_eq(ts.answer_len[0], 2);
    ck_assert_int_eq(ts.ids[ts.offset[1] - 1], 2);
    ck_assert_int_eq(ts.ids[ts.offset[1] - 2], SLET + 1);
    tokenized_set_free(&ts);
    mc_dataset_free(&ds);
    tokenizer_free(&tk);
    free(tp);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_batch_left_truncation)
{
    char *d = fx_dir();
    Tokenizer tk;
    char *tp = tiny_tokenizer(d, &tk);
    McDataset ds;
    mc_dataset_init(&ds, "mc_jsonl");
    add_q(&ds, "q", 1);
    add_q(&ds, "z", -1);   /* unlabeled: no answer tokens */
    PromptConfig pc;
    plain_config(&pc);
    TokenizedSet full, cut;
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &full, &err), STATUS_OK);
    ck_assert_int_eq(full.n_truncated, 0);
    pc.max_len = 20;
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &cut, &err), STATUS_OK);
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
    pc.max_len = 2;   /* BOS + 1 prompt token + answer does not fit */
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &cut, &err), STATUS_INVALID);
    ck_assert_msg(strstr(err.message, "max_len 2") != NULL, "%s", err.message);
    tokenized_set_free(&full);
    mc_dataset_free(&ds);
    tokenizer_free(&tk);
    free(tp);
    fx_rmtree(d);
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

START_TEST(test_batch_shuffle_determinism)
{
    char *d = fx_dir();
    Tokenizer tk;
    char *tp = tiny_tokenizer(d, &tk);
    McDataset ds;
    mc_dataset_init(&ds, "mc_jsonl");
    char q[32];
    for (int i = 0; i < 20; i++) {
        memset(q, 'q', sizeof q);
        q[1 + (i * 7) % 13] = '\0';   /* lengths 1..13 */
        add_q(&ds, q, i % 2);
    }
    PromptConfig pc;
    plain_config(&pc);
    TokenizedSet ts;
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &ts, &err), STATUS_OK);
    BatchConfig bc;
    batch_config_default(&bc);
    bc.batch_size = 4;
    bc.seed = 1234;
    BatchIter a, b;
    int oa[20], ob[20], oa1[20];
    batch_iter_init(&a, &ts, &bc, &err);
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&a, oa, 20);
    epoch_order(&b, ob, 20);
    ck_assert(memcmp(oa, ob, sizeof oa) == 0);   /* same seed, same order */
    epoch_order(&a, oa1, 20);
    ck_assert(memcmp(oa, oa1, sizeof oa) != 0);  /* epoch 1 is another permutation */
    batch_iter_seek(&b, 1, 8);                     /* resume at the third batch of epoch 1 */
    Batch bt;
    ck_assert_int_eq(batch_next(&b, &bt), 1);
    for (int r = 0; r < 4; r++) ck_assert_int_eq(bt.index[r], oa1[8 + r]);
    batch_iter_free(&b);
    bc.seed = 1235;
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&b, ob, 20);
    ck_assert(memcmp(oa, ob, sizeof oa) != 0);   /* other seed, other order */
    batch_iter_free(&b);
    bc.shuffle = 0;
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&b, ob, 20);
    for (int i = 0; i < 20; i++) ck_assert_int_eq(ob[i], i);
    batch_iter_free(&b);
    bc.shuffle = 1;
    bc.group_by_length = 1;   /* one window (50 batches > 20 examples): longest first */
    batch_iter_init(&b, &ts, &bc, &err);
    epoch_order(&b, ob, 20);
    for (int i = 1; i < 20; i++)
        ck_assert_int_ge(ts.prompt_len[ob[i - 1]], ts.prompt_len[ob[i]]);
    batch_iter_free(&b);
    bc.group_by_length = 0;
    bc.drop_last = 1;
    bc.batch_size = 6;   /* 20 = 3 * 6 + 2: the partial batch is dropped */
    batch_iter_init(&b, &ts, &bc, &err);
    int nb = 0;
    while (batch_next(&b, &bt)) nb++;
    ck_assert_int_eq(nb, 3);
    batch_iter_free(&b);
    batch_iter_free(&a);
    tokenized_set_free(&ts);
    mc_dataset_free(&ds);
    tokenizer_free(&tk);
    free(tp);
    fx_rmtree(d);
}
END_TEST

START_TEST(test_token_cache)
{
    char *d = fx_dir();
    Tokenizer tk;
    char *tp = tiny_tokenizer(d, &tk);
    char *dp = fx_write(d, "dev.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 1}\n"
                                        "{\"question\": \"qq\", \"choices\": [\"x\", \"y\", \"z\"]}\n");
    McDataset ds;
    fx_load("mc_jsonl", d, "dev", &ds);
    PromptConfig pc;
    plain_config(&pc);
    TokenizedSet ts, back;
    Error err = { 0 };
    ck_assert_int_eq(dataset_tokenize(&ds, &tk, &pc, &ts, &err), STATUS_OK);
    uint64_t th, dh, th2, dh2;
    ck_assert_int_eq(token_cache_keys(tp, &ds, &pc, &th, &dh, &err), STATUS_OK);
    char cpath[512];
    snprintf(cpath, sizeof cpath, "%s/cache.bin", d);
    ck_assert_int_eq(token_cache_load(cpath, th, dh, &back, &err), STATUS_IO);   /* no cache yet */
    ck_assert_int_eq(token_cache_save(cpath, th, dh, &ts, &err), STATUS_OK);
    ck_assert_msg(token_cache_load(cpath, th, dh, &back, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(back.n, 2);
    ck_assert_uint_eq(back.n_ids, ts.n_ids);
    ck_assert(memcmp(back.ids, ts.ids, ts.n_ids * sizeof(int)) == 0);
    for (int i = 0; i <= 2; i++) ck_assert_uint_eq(back.offset[i], ts.offset[i]);
    ck_assert_int_eq(back.label[1], -1);
    ck_assert_int_eq(back.n_choices[1], 3);
    ck_assert_int_eq(back.letter_ids[2], SLET + 2);
    ck_assert_int_eq(back.letters_ok, 1);
    tokenized_set_free(&back);
    /* stale keys are rejected */
    ck_assert_int_eq(token_cache_load(cpath, th + 1, dh, &back, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "stale") != NULL, "%s", err.message);
    ck_assert_int_eq(token_cache_load(cpath, th, dh ^ 1, &back, &err), STATUS_FORMAT);
    /* keys follow the data bytes and the prompt settings */
    pc.max_len = 128;
    ck_assert_int_eq(token_cache_keys(tp, &ds, &pc, &th2, &dh2, &err), STATUS_OK);
    ck_assert(th2 == th && dh2 != dh);
    pc.max_len = 0;
    free(fx_write(d, "dev.jsonl", "{\"question\": \"Q\", \"choices\": [\"x\", \"y\"], \"answer\": 1}\n"
                                  "{\"question\": \"qq\", \"choices\": [\"x\", \"y\", \"z\"]}\n"));
    ck_assert_int_eq(token_cache_keys(tp, &ds, &pc, &th2, &dh2, &err), STATUS_OK);
    ck_assert(th2 == th && dh2 != dh);
    /* a flipped byte in the payload fails the checksum; a truncated file fails too */
    FILE *f = fopen(cpath, "r+b");
    fseek(f, -12, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -12, SEEK_END);
    fputc(ch ^ 0x40, f);
    fclose(f);
    ck_assert_int_eq(token_cache_load(cpath, th, dh, &back, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, "corrupt") != NULL, "%s", err.message);
    ck_assert_ptr_null(back.ids);
    ck_assert_int_eq(truncate(cpath, 40), 0);
    ck_assert_int_eq(token_cache_load(cpath, th, dh, &back, &err), STATUS_FORMAT);
    /* FNV-1a 64 of "a" (published test vector) */
    ck_assert(fnv1a64("a", 1, FNV64_INIT) == 0xaf63dc4c8601ec8cull);
    tokenized_set_free(&ts);
    mc_dataset_free(&ds);
    tokenizer_free(&tk);
    free(tp);
    free(dp);
    fx_rmtree(d);
}
END_TEST

Suite *data_batch_suite(void) {
    Suite *s = suite_create("data_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, test_prompt_texts);
    tcase_add_test(tc, test_batch_targets_padding);
    tcase_add_test(tc, test_batch_left_truncation);
    tcase_add_test(tc, test_batch_shuffle_determinism);
    tcase_add_test(tc, test_token_cache);
    suite_add_tcase(s, tc);
    return s;
}
