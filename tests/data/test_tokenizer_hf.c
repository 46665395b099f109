/* tests/data/test_tokenizer_hf.c — HF tokenizer.json (data/tokenizer_hf*.c): tiny hand-written
   SentencePiece-BPE (legacy Prepend+Replace normalizer, and Metaspace prepend_scheme "first"
   with split) and GPT-2 ByteLevel files with hand-derived ids, both merges forms, load errors;
   then the staged Llama-2 tokenizer.bin converted to a tokenizer.json (vocab + merges ranked by
   score) must reproduce the oracle ids of tok_ref_ids.h with rank-ordered merging. */
#include "tests/support/suites.h"
#include "tests/support/tok_fixtures.h"
#include "tests/support/tok_ref_ids.h"
#include "data/json.h"
#include "data/bpe.h"

#define SPM_VOCAB "\"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, \"<0xC3>\": 3, \"<0xA9>\": 4," \
    " \"\xe2\x96\x81\": 5, \"h\": 6, \"i\": 7, \"\xe2\x96\x81h\": 8, \"\xe2\x96\x81hi\": 9," \
    " \"\xe2\x96\x81\xe2\x96\x81\": 10, \"hi\": 11}"
#define SPM_ADDED "\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true}," \
    " {\"id\": 1, \"content\": \"<s>\", \"special\": true}," \
    " {\"id\": 2, \"content\": \"</s>\", \"special\": true}],\n"
enum { UNK, BOS, EOS, XC3, XA9, M, H, I, MH, MHI, MM, HI };

static const char SPM_LEGACY[] = "{" SPM_ADDED
    "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
    "{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"},"
    "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"}]},\n"
    "\"pre_tokenizer\": null,\n"
    "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": ["
    "{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", "
    "\"type_id\": 0}}], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1]}}},\n"
    "\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"fuse_unk\": true, "
    "\"unk_token\": \"<unk>\", " SPM_VOCAB ",\n"
    "\"merges\": [\"\xe2\x96\x81 \xe2\x96\x81\", \"\xe2\x96\x81 h\", \"\xe2\x96\x81h i\"]}}";

static const char SPM_METASPACE[] = "{" SPM_ADDED "\"normalizer\": null,\n"
    "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\", "
    "\"prepend_scheme\": \"first\", \"split\": true},\n"
    "\"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"fuse_unk\": true, "
    "\"unk_token\": \"<unk>\", " SPM_VOCAB ",\n"
    "\"merges\": [[\"\xe2\x96\x81\", \"\xe2\x96\x81\"], [\"\xe2\x96\x81\", \"h\"], "
    "[\"\xe2\x96\x81h\", \"i\"]]}}";

/* Ġ = U+0120 (space), Ċ = U+010A (newline) in the bytes_to_unicode alphabet */
#define G "\xc4\xa0"
#define NL "\xc4\x8a"
static const char BYTELEVEL[] = "{\"added_tokens\": [{\"id\": 0, \"content\": \"<|endoftext|>\", "
    "\"special\": true}],\n\"normalizer\": null,\n"
    "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
    "{\"type\": \"Digits\", \"individual_digits\": true}, {\"type\": \"ByteLevel\", "
    "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}]},\n"
    "\"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true},\n"
    "\"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"vocab\": {\"<|endoftext|>\": 0, "
    "\"h\": 1, \"e\": 2, \"l\": 3, \"o\": 4, \"" G "\": 5, \"w\": 6, \"r\": 7, \"d\": 8, "
    "\"1\": 9, \"2\": 10, \"'\": 11, \"s\": 12, \"!\": 13, \"" NL "\": 14, \"he\": 15, "
    "\"ll\": 16, \"hell\": 17, \"hello\": 18, \"" G "w\": 19, \"or\": 20, \"" G "wor\": 21, "
    "\"" G "world\": 22, \"ld\": 23, \"12\": 24, \"'s\": 25, \"" G G "\": 26},\n"
    "\"merges\": [[\"h\", \"e\"], [\"l\", \"l\"], [\"he\", \"ll\"], [\"hell\", \"o\"], "
    "[\"" G "\", \"w\"], [\"o\", \"r\"], [\"" G "w\", \"or\"], [\"l\", \"d\"], "
    "[\"" G "wor\", \"ld\"], [\"1\", \"2\"], [\"'\", \"s\"], [\"" G "\", \"" G "\"]]}}";

static void load_text(Tokenizer *tk, const char *json, char **path) {
    *path = tok_write_temp(json, strlen(json), ".json");
    Error err = {0};
    ck_assert_msg(tokenizer_load(tk, *path, 0, &err) == STATUS_OK, "%s", err.message);
}

START_TEST(test_hf_spm_legacy)
{
    Tokenizer tk;
    char *path;
    load_text(&tk, SPM_LEGACY, &path);
    ck_assert_int_eq(tk.kind, TOKENIZER_HF_SPM);
    ck_assert_int_eq(tk.vocab_size, 12);
    ck_assert_int_eq(tk.bos_id, BOS);                /* from the TemplateProcessing */
    ck_assert_int_eq(tk.add_bos, 1);
    ck_assert_int_eq(tk.eos_id, EOS);                /* "</s>" */
    /* "▁hi▁▁hi": rank 0 "▁ ▁" first (ranks, not positions), then "▁ h", then "▁h i" */
    TOK_EXPECT(&tk, "hi  hi", 0, 0, MHI, MM, H, I);
    TOK_EXPECT(&tk, " hi", 0, 0, MM, H, I);          /* Prepend always adds one "▁" */
    TOK_EXPECT(&tk, "<s>hi", 0, 0, BOS, MHI);        /* every segment gets "▁" (legacy) */
    TOK_EXPECT(&tk, "h\xc3\xa9", 0, 0, MH, XC3, XA9); /* é -> <0xC3><0xA9> */
    TOK_EXPECT(&tk, "hi", 1, 1, BOS, MHI, EOS);
    TOK_EXPECT(&tk, "", 1, 0, BOS);
    const int a[] = {BOS, MHI, MM, H, I}, b[] = {MH, XC3, XA9};
    tok_expect_decode(&tk, a, 5, "hi  hi");
    tok_expect_decode(&tk, b, 3, "h\xc3\xa9");
    char buf[16];
    ck_assert_str_eq(tokenizer_piece(&tk, MHI, MHI, buf, sizeof buf), " hi");
    ck_assert_str_eq(tokenizer_piece(&tk, BOS, MHI, buf, sizeof buf), "hi");
    tokenizer_free(&tk);
    tok_remove_temp(path);
}
END_TEST

START_TEST(test_hf_spm_metaspace)
{
    Tokenizer tk;
    char *path;
    load_text(&tk, SPM_METASPACE, &path);
    ck_assert_int_eq(tk.kind, TOKENIZER_HF_SPM);
    ck_assert_int_eq(tk.add_bos, 0);                 /* no post_processor */
    ck_assert_int_eq(tk.bos_id, BOS);                /* "<s>" by name */
    TOK_EXPECT(&tk, "hi  hi", 0, 0, MHI, M, MHI);   /* split before each "▁": no "▁▁" */
    TOK_EXPECT(&tk, " hi", 0, 0, MHI);               /* already starts with "▁" */
    TOK_EXPECT(&tk, "<s>hi", 0, 0, BOS, H, I);       /* "first": only at offset 0 */
    TOK_EXPECT(&tk, "h\xc3\xa9\xe2\x82\xacx", 0, 0, MH, UNK);   /* no byte fallback: fused unk */
    tokenizer_free(&tk);
    tok_remove_temp(path);
}
END_TEST

START_TEST(test_hf_bytelevel)
{
    Tokenizer tk;
    char *path;
    load_text(&tk, BYTELEVEL, &path);
    ck_assert_int_eq(tk.kind, TOKENIZER_HF_BYTELEVEL);
    ck_assert_int_eq(tk.bos_id, 0);
    ck_assert_int_eq(tk.eos_id, 0);
    ck_assert_int_eq(tk.add_bos, 0);
    TOK_EXPECT(&tk, "hello world!", 0, 0, 18, 22, 13);
    TOK_EXPECT(&tk, "12", 0, 0, 9, 10);              /* Digits: "1 2" cannot merge */
    TOK_EXPECT(&tk, "he's", 0, 0, 15, 25);           /* contraction 's */
    TOK_EXPECT(&tk, "hello  world", 0, 0, 18, 5, 22);    /* \s+(?!\S) leaves " world" */
    TOK_EXPECT(&tk, "hello\n\n", 0, 0, 18, 14, 14);
    TOK_EXPECT(&tk, "hello  ", 0, 0, 18, 26);
    TOK_EXPECT(&tk, "<|endoftext|>hello", 0, 0, 0, 18);
    TOK_EXPECT(&tk, "hello~", 0, 0, 18);             /* '~' has no piece: dropped like HF */
    TOK_EXPECT(&tk, "hello", 1, 1, 18, 0);          /* no template: bos adds nothing */
    const int a[] = {18, 22, 13}, b[] = {0, 18, 5, 14};
    tok_expect_decode(&tk, a, 3, "hello world!");
    tok_expect_decode(&tk, b, 4, "hello \n");
    tokenizer_free(&tk);
    tok_remove_temp(path);
}
END_TEST

static void expect_json_error(const char *json, const char *what) {
    char *path = tok_write_temp(json, strlen(json), ".json");
    Tokenizer tk;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&tk, path, 0, &err), STATUS_FORMAT);
    ck_assert_msg(strstr(err.message, what) && strstr(err.message, path),
                  "message \"%s\" should name the file and \"%s\"", err.message, what);
    tok_remove_temp(path);
}

START_TEST(test_hf_errors)
{
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2},\n"
                      " \"merges\": [\"a b\", \"b c\"]}}", ":2:20: merge 1");
    expect_json_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      "only BPE");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                      " \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", "Whitespace");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, "
                      "\"merges\": []}}", "appears twice");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,}}}", ":1:");
}
END_TEST

/* Llama-2 tokenizer.bin -> HF SentencePiece tokenizer.json (what HF's converter produces:
   vocab with "▁", merges = every split of a piece into two pieces, ranked by the piece's
   score, best first). */
typedef struct { float score; int id, k; } TMerge;

static int tmerge_cmp(const void *pa, const void *pb) {
    const TMerge *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->id != b->id ? a->id - b->id : a->k - b->k;
}

/* s[0..n) with ' ' -> "▁" into out (4 * n bytes); returns the length. */
static size_t to_meta(const char *s, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') memcpy(out + k, "\xe2\x96\x81", 3), k += 3;
        else out[k++] = s[i];
    }
    return k;
}

static char *convert_to_json(const Tokenizer *bin) {
    char *path = tok_write_temp("", 0, ".json");
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true}, "
               "{\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": "
               "\"</s>\", \"special\": true}],\n\"normalizer\": {\"type\": \"Sequence\", "
               "\"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"}, "
               "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": "
               "\"\xe2\x96\x81\"}]},\n\"post_processor\": {\"type\": \"TemplateProcessing\", "
               "\"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": "
               "{\"id\": \"A\", \"type_id\": 0}}]},\n\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, "
               "\"unk_token\": \"<unk>\", \"vocab\": {");
    static const char *const names[] = {"<unk>", "<s>", "</s>"};
    TMerge *m = malloc(sizeof *m * (size_t)bin->vocab_size * 32);
    int nm = 0;
    for (int id = 0; id < bin->vocab_size; id++) {
        const char *p = bin->pieces[id];
        size_t len = (size_t)bin->piece_len[id];
        char buf[1024];
        if (id) fprintf(f, ", ");
        if (id < 3) json_write_string(f, names[id], strlen(names[id]));
        else json_write_string(f, buf, to_meta(p, len, buf));
        fprintf(f, ": %d", id);
        for (size_t k = utf8_char_len(p, len); id >= 3 && k < len; k += utf8_char_len(p + k, len - k))
            if (tokenizer_id(bin, p, k) >= 3 && tokenizer_id(bin, p + k, len - k) >= 3 && nm < bin->vocab_size * 32)
                m[nm++] = (TMerge){bin->scores[id], id, (int)k};
    }
    qsort(m, (size_t)nm, sizeof *m, tmerge_cmp);
    fprintf(f, "},\n\"merges\": [");
    for (int i = 0; i < nm; i++) {      /* "left right" with both halves in "▁" form */
        char buf[1024];
        const char *p = bin->pieces[m[i].id];
        size_t k = (size_t)m[i].k, len = (size_t)bin->piece_len[m[i].id];
        size_t n = to_meta(p, k, buf);
        buf[n++] = ' ';
        n += to_meta(p + k, len - k, buf + n);
        fprintf(f, i ? ",\n" : "\n");
        json_write_string(f, buf, n);
    }
    fprintf(f, "]}}\n");
    fclose(f);
    free(m);
    return path;
}

static void check_converted(const char *bin_path, int vocab, const int (*ref)[64], const char *name) {
    if (!tok_file_exists(bin_path, name)) return;
    Tokenizer bin, hf;
    Error err = {0};
    ck_assert_int_eq(tokenizer_load(&bin, bin_path, vocab, &err), STATUS_OK);
    char *path = convert_to_json(&bin);
    ck_assert_msg(tokenizer_load(&hf, path, vocab, &err) == STATUS_OK, "%s", err.message);
    ck_assert_int_eq(hf.kind, TOKENIZER_HF_SPM);
    ck_assert_int_eq(hf.vocab_size, vocab);
    for (int t = 0; t < N_REF_TEXTS; t++) {
        if (strstr(REF_TEXTS[t], "<s>")) {    /* HF matches added tokens in the text */
            TOK_EXPECT(&hf, "<s>a", 0, 0, 1, tokenizer_id(&hf, "\xe2\x96\x81" "a", 4));
            continue;
        }
        tok_expect(&hf, REF_TEXTS[t], 1, 0, ref[t] + 1, ref[t][0]);
        tok_expect_decode(&hf, ref[t] + 1, ref[t][0], REF_TEXTS[t]);
    }
    /* random strings: rank-ordered HF merging agrees with score-greedy llama2.c merging */
    static const char *const alphabet[] = {"a", "e", "t", "h", "n", " ", "  ", "\n", "\t", "0",
                                           "7", ".", "'", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
                                           "The", "ing", "tion", " the"};
    unsigned rng = 12345;
    for (int t = 0; t < 300; t++) {
        char text[256] = "";
        int len = (int)((rng = rng * 1103515245u + 12345u) >> 16) % 40;
        for (int i = 0; i < len; i++)
            strcat(text, alphabet[((rng = rng * 1103515245u + 12345u) >> 16) % 20]);
        int want[512], n_want = 0;
        ck_assert_int_eq(tokenizer_encode(&bin, text, 1, 1, want, 512, &n_want, &err), STATUS_OK);
        tok_expect(&hf, text, 1, 1, want, n_want);
    }
    tokenizer_free(&hf);
    tokenizer_free(&bin);
    tok_remove_temp(path);
}

START_TEST(test_hf_converted_32k) {
    check_converted(TOK32K_PATH, 32000, REF32K, "test_hf_converted_32k");
}
END_TEST

START_TEST(test_hf_converted_512) {
    check_converted(TOK512_PATH, 512, REF512, "test_hf_converted_512");
}
END_TEST

Suite *tokenizer_hf_suite(void) {
    Suite *s = suite_create("tokenizer_hf");
    TCase *tc = tcase_create("hf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hf_spm_legacy);
    tcase_add_test(tc, test_hf_spm_metaspace);
    tcase_add_test(tc, test_hf_bytelevel);
    tcase_add_test(tc, test_hf_errors);
    tcase_add_test(tc, test_hf_converted_32k);
    tcase_add_test(tc, test_hf_converted_512);
    suite_add_tcase(s, tc);
    return s;
}
