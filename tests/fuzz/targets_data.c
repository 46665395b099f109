/* tests/fuzz/targets_data.c — fuzz targets of the data layer: the JSON reader, every dataset
   reader (GLUE TSV, each commonsense format, mc_jsonl; accepted sets are also tokenized), both
   tokenizer formats (accepted tokenizers also encode and decode a text), the token cache and
   `--config` files of ./train train. Fixtures are the tests' own (demo tokenizer and split,
   hand-written files in the tests' formats). */
#include "tests/fuzz/fuzz.h"
#include "cli/demo_task.h"
#include "cli/train_options.h"
#include "data/json.h"
#include "data/task.h"
#include "data/token_cache.h"
#include "tests/support/helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fx_path(const char *work, const char *rel) {
    static char buf[2][1024];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", work, rel);
    return buf[k];
}

void fx_text(const char *work, const char *rel, const char *text) {
    Buf b = { 0 };
    buf_set(&b, text, strlen(text));
    buf_write(&b, fx_path(work, rel));
    buf_free(&b);
}

void fx_seed_text(Buf *seeds, int *n, int max, const char *text) {
    if (*n < max) buf_set(&seeds[(*n)++], text, strlen(text));
}

/* ---- JSON ---- */
static void json_setup(const char *w) {
    fx_text(w, "doc.json", "{\"a\": [1, -2.5e3, true, false, null, \"s\\u00e9\\ud83d\\ude00\\n\"], \"b\": {\"c\": {}}, \"d\": []}");
}
static void json_seeds(const char *w, Buf *s, int *n, int max) {
    fx_seed_text(s, n, max, "[[[[{\"x\": 1}]]]]");
    fx_seed_text(s, n, max, "\"\\\\\\\"\\/\\b\\f\\r\\t\"");
}
static int json_run(const char *w) {
    JsonDoc d;
    Error err;
    if (json_parse_file(&d, fx_path(w, "doc.json"), &err)) return 0;
    json_doc_free(&d);
    return 1;
}

/* ---- datasets: task_load, then tokenization with the demo byte tokenizer ---- */
static Tokenizer demo_tk;
static int demo_tk_ready;

static int load_task(const char *task, const char *path, const char *split) {
    McDataset ds;
    Error err;
    if (task_load(task, path, split, &ds, &err)) return 0;
    if (!demo_tk_ready) {
        char p[] = "build/fuzz/work/demo_tokenizer.bin";
        if (demo_write_tokenizer(p, &err) || tokenizer_load(&demo_tk, p, 259, &err)) abort();
        demo_tk_ready = 1;
    }
    PromptConfig pc;
    prompt_config_default(&pc);
    pc.max_len = 96;
    TokenizedSet ts;
    if (!dataset_tokenize(&ds, &demo_tk, &pc, &ts, &err)) tokenized_set_free(&ts);
    mc_dataset_free(&ds);
    return 1;
}

#define TASK_TARGET(NAME, TASK, FILE, SPLIT, TEXT)                                         \
    static void NAME##_setup(const char *w) { fx_text(w, FILE, TEXT); }                   \
    static int NAME##_run(const char *w) { return load_task(TASK, fx_path(w, FILE), SPLIT); }

TASK_TARGET(rte, "rte", "train.tsv", "train",
            "index\tsentence1\tsentence2\tlabel\n0\tA man \"said\" hi.\tA man spoke.\tentailment\n"
            "7\tQuoted\tH2\tnot_entailment\n")
TASK_TARGET(rte_hf, "rte", "dev.hf.tsv", "dev",
            "sentence1\tsentence2\tlabel\tidx\n\"a \"\"q\"\" b\"\t\"multi\nline\"\t1\t0\n\"x\ty\"\tz\t0\t1\n")
TASK_TARGET(cola, "cola", "train.tsv", "train", "gj04\t1\t\tOur friends won't buy this analysis.\nx\t0\t*\tBad one.\n")
TASK_TARGET(mrpc, "mrpc", "train.tsv", "train",
            "\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t702876\t702977\tAmrozi said.\tHe said.\r\n"
            "0\t1\t2\tA\tB\r\n")
TASK_TARGET(sst2, "sst2", "train.tsv", "train", "sentence\tlabel\nhide new secretions \t0\ngreat fun\t1\n")
TASK_TARGET(allenai, "arc_easy", "ARC-Easy-Train.jsonl", "train",
            "{\"id\": \"q1\", \"question\": {\"stem\": \"Which is hot?\", \"choices\": [{\"text\": \"ice\", \"label\": \"1\"}, "
            "{\"text\": \"snow\", \"label\": \"2\"}, {\"text\": \"fire\", \"label\": \"3\"}]}, \"answerKey\": \"3\"}\n\n"
            "{\"answerKey\": \"B\", \"id\": \"q2\", \"question\": {\"stem\": \"Pick B\", \"choices\": [{\"label\": \"A\", "
            "\"text\": \"a\"}, {\"label\": \"B\", \"text\": \"b\"}]}}\n")
TASK_TARGET(llm_adapters, "arc_challenge", "train.llm_adapters.json", "train",
            "[\n  {\"instruction\": \"Please choose the correct answer to the question: Why: is it?\\n\\nAnswer1: Because. "
            "Answer2: It is: so. Answer3: No Answer4: idea.\\n\\nAnswer format: answer1/answer2/answer3\", \"input\": \"\", "
            "\"output\": \"the correct answer is answer2\", \"answer\": \"answer2\"}\n]\n")
TASK_TARGET(winogrande, "winogrande", "train.jsonl", "train",
            "{\"qID\": \"w1\", \"sentence\": \"The cup fell because _ was full.\", \"option1\": \"cup\", \"option2\": \"table\", "
            "\"answer\": \"2\"}\n{\"qID\": \"w2\", \"sentence\": \"A _ b.\", \"option1\": \"x\", \"option2\": \"y\", \"answer\": \"1\"}\n")
TASK_TARGET(hellaswag, "hellaswag", "train.jsonl", "train",
            "{\"ind\": \"h1\", \"activity_label\": \"Roof shingle removal\", \"ctx_a\": \"A man is on a roof.\", "
            "\"ctx_b\": \"he IS\", \"endings\": [\"pulling [step] up  tiles.\", \" e2 \", \"e3 [title] x\", \"e4\"], \"label\": 3}\n"
            "{\"ctx\": \"Plain ctx\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": \"1\"}\n")
TASK_TARGET(scienceqa, "scienceqa", "problems.json", "train",
            "{\"10\": {\"question\": \"Which is a metal?\", \"choices\": [\"wood\", \"iron\"], \"answer\": 1, \"hint\": \"\", "
            "\"image\": null, \"split\": \"train\"},\n \"12\": {\"question\": \"Q\", \"choices\": [\"a\", \"b\", \"c\"], "
            "\"answer\": 2, \"hint\": \"H\", \"image\": null, \"split\": \"train\"}}")
TASK_TARGET(mc_jsonl, "mc_jsonl", "train.jsonl", "train",
            "{\"question\": \"2+2?\", \"choices\": [\"3\", \"4\"], \"answer\": 1}\n"
            "{\"question\": \"caf\\u00e9\", \"choices\": [\"a\", \"b\", \"c\"], \"answer\": 2}\n")

static const char SIQA[] = "{\"context\": \"Tracy stayed.\", \"question\": \"Why?\", \"answerA\": \"a\", \"answerB\": \"b\", "
                           "\"answerC\": \"c\"}\n{\"context\": \"C2\", \"question\": \"Q2\", \"answerA\": \"x\", \"answerB\": \"y\", "
                           "\"answerC\": \"z\"}\n";
static void siqa_setup(const char *w) { fx_text(w, "train.jsonl", SIQA); fx_text(w, "train-labels.lst", "1\r\n3\r\n"); }
static int siqa_run(const char *w) { return load_task("siqa", fx_path(w, "train.jsonl"), "train"); }
static void siqa_labels_setup(const char *w) { siqa_setup(w); }
static int siqa_labels_run(const char *w) { return siqa_run(w); }
static void piqa_setup(const char *w) {
    fx_text(w, "train.jsonl", "{\"goal\": \"Open a jar\", \"sol1\": \"twist\", \"sol2\": \"lick\"}\n"
                              "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n");
    fx_text(w, "train-labels.lst", "0\n1\n");
}
static int piqa_run(const char *w) { return load_task("piqa", fx_path(w, "train.jsonl"), "train"); }

/* ---- tokenizers ---- */
static int tokenizer_run_path(const char *path) {
    Tokenizer tk;
    Error err;
    if (tokenizer_load(&tk, path, 0, &err)) return 0;
    int ids[512], n = 0;
    static const char *const texts[] = { "Hello world! 12 caf\xc3\xa9 \xe2\x96\x81 <s> hi", "", "  \n\t\xff\xfe", "hihihi hello" };
    for (int i = 0; i < 4; i++)
        if (!tokenizer_encode(&tk, texts[i], tk.bos_id >= 0, 0, ids, 512, &n, &err)) {
            char out[2048];
            tokenizer_decode(&tk, ids, n, out, sizeof out);
        }
    tokenizer_free(&tk);
    return 1;
}
static void tok_bin_setup(const char *w) {
    Error err;
    if (demo_write_tokenizer(fx_path(w, "tokenizer.bin"), &err)) abort();
}
static int tok_bin_run(const char *w) { return tokenizer_run_path(fx_path(w, "tokenizer.bin")); }

#define SPM_VOCAB "\"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, \"<0xC3>\": 3, \"<0xA9>\": 4," \
    " \"\xe2\x96\x81\": 5, \"h\": 6, \"i\": 7, \"\xe2\x96\x81h\": 8, \"\xe2\x96\x81hi\": 9," \
    " \"\xe2\x96\x81\xe2\x96\x81\": 10, \"hi\": 11}"
#define SPM_ADDED "\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true}," \
    " {\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],\n"
#define G "\xc4\xa0"
static void tok_json_setup(const char *w) {   /* the tests' SentencePiece-BPE (legacy normalizer) */
    fx_text(w, "tokenizer.json", "{" SPM_ADDED
            "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"},"
            "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"}]},\n\"pre_tokenizer\": null,\n"
            "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, "
            "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1]}}},\n"
            "\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"fuse_unk\": true, \"unk_token\": \"<unk>\", " SPM_VOCAB ",\n"
            "\"merges\": [\"\xe2\x96\x81 \xe2\x96\x81\", \"\xe2\x96\x81 h\", \"\xe2\x96\x81h i\"]}}");
}
/* byte-level files as Llama 3 / Qwen2 write them: a Split with their regex, ByteLevel without its
   own regex, a BOS template inside a Sequence post_processor (Llama 3) or NFC (Qwen2) */
#define BL_MODEL "\"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"ignore_merges\": true, \"vocab\": {" \
    "\"<|begin_of_text|>\": 0, \"h\": 1, \"e\": 2, \"l\": 3, \"o\": 4, \"" G "\": 5, \"1\": 6, \"2\": 7, \"he\": 8, " \
    "\"ll\": 9, \"hell\": 10, \"hello\": 11, \"" G "h\": 12, \"12\": 13}, \"merges\": [[\"h\", \"e\"], [\"l\", \"l\"], " \
    "[\"he\", \"ll\"], [\"hell\", \"o\"], [\"" G "\", \"h\"], [\"1\", \"2\"]]}}"
#define BL_SPLIT(re) "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"" re "\"}, \"behavior\": \"Isolated\", " \
    "\"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}"
static void tok_json_seeds_split(Buf *s, int *n, int max) {
    fx_seed_text(s, n, max, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<|begin_of_text|>\", \"special\": true}],\n"
                 "\"normalizer\": null,\n\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [" BL_SPLIT("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+") "]},\n"
                 "\"post_processor\": {\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\", \"add_prefix_space\": true, "
                 "\"trim_offsets\": false, \"use_regex\": true}, {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
                 "{\"id\": \"<|begin_of_text|>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
                 "\"special_tokens\": {\"<|begin_of_text|>\": {\"id\": \"<|begin_of_text|>\", \"ids\": [0]}}}]},\n"
                 "\"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n" BL_MODEL);
    fx_seed_text(s, n, max, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<|begin_of_text|>\", \"special\": true}],\n"
                 "\"normalizer\": {\"type\": \"NFC\"},\n\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
                 BL_SPLIT("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+") "]},\n\"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                 "\"trim_offsets\": false, \"use_regex\": false},\n\"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                 "\"trim_offsets\": false, \"use_regex\": false},\n" BL_MODEL);
}
static void tok_json_seeds(const char *w, Buf *s, int *n, int max) {
    tok_json_seeds_split(s, n, max);
    fx_seed_text(s, n, max, "{" SPM_ADDED "\"normalizer\": null,\n\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": "
                 "\"\xe2\x96\x81\", \"prepend_scheme\": \"first\", \"split\": true},\n\"model\": {\"type\": \"BPE\", "
                 "\"byte_fallback\": false, \"fuse_unk\": true, \"unk_token\": \"<unk>\", " SPM_VOCAB ",\n\"merges\": "
                 "[[\"\xe2\x96\x81\", \"\xe2\x96\x81\"], [\"\xe2\x96\x81\", \"h\"], [\"\xe2\x96\x81h\", \"i\"]]}}");
    fx_seed_text(s, n, max, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<|endoftext|>\", \"special\": true}],\n"
                 "\"normalizer\": null,\n\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", "
                 "\"individual_digits\": true}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
                 "\"use_regex\": true}]},\n\"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true},\n"
                 "\"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"vocab\": {\"<|endoftext|>\": 0, \"h\": 1, \"e\": 2, "
                 "\"l\": 3, \"o\": 4, \"" G "\": 5, \"w\": 6, \"r\": 7, \"d\": 8, \"1\": 9, \"2\": 10, \"'\": 11, \"s\": 12, "
                 "\"he\": 13, \"ll\": 14, \"hell\": 15, \"hello\": 16, \"" G "w\": 17},\n\"merges\": [[\"h\", \"e\"], "
                 "[\"l\", \"l\"], [\"he\", \"ll\"], [\"hell\", \"o\"], [\"" G "\", \"w\"]]}}");
}
static int tok_json_run(const char *w) { return tokenizer_run_path(fx_path(w, "tokenizer.json")); }

/* ---- token cache ---- */
#define CACHE_TH 0x1234ull
#define CACHE_DH 0x5678ull
static void cache_setup(const char *w) {
    TokenizedSet ts;
    Error err;
    synthetic_parity_set(&ts, 1);
    if (token_cache_save(fx_path(w, "set.tok"), CACHE_TH, CACHE_DH, &ts, &err)) abort();
    tokenized_set_free(&ts);
}
static int cache_run(const char *w) {
    TokenizedSet ts;
    Error err;
    if (token_cache_load(fx_path(w, "set.tok"), CACHE_TH, CACHE_DH, &ts, &err)) return 0;
    tokenized_set_free(&ts);
    return 1;
}

/* ---- --config files of ./train train ---- */
static void config_setup(const char *w) {
    fx_text(w, "config.json", "{\"model\": \"m.bin\", \"task\": \"rte\", \"lr\": 0.003, \"batch\": 4, \"adapter\": \"adamoe\", "
                              "\"experts\": \"2,4\", \"top_k\": \"1,2\", \"group-by-length\": true, \"aux-coef\": 1e-2}");
}
static int config_run(const char *w) {
    TrainOptions o;
    Flag flags[TRAIN_OPTIONS_MAX_FLAGS];
    train_options_default(&o);
    int n = train_options_flags(&o, flags);
    Error err;
    return flags_load_config(flags, n, fx_path(w, "config.json"), &err) == STATUS_OK;
}

#define T(NAME, FILE, EXTRA) { #NAME, FILE, NAME##_setup, EXTRA, NAME##_run }
const FuzzTarget FUZZ_DATA_TARGETS[] = {
    { "json", "doc.json", json_setup, json_seeds, json_run },
    T(rte, "train.tsv", NULL), T(rte_hf, "dev.hf.tsv", NULL), T(cola, "train.tsv", NULL), T(mrpc, "train.tsv", NULL),
    T(sst2, "train.tsv", NULL), T(allenai, "ARC-Easy-Train.jsonl", NULL), T(llm_adapters, "train.llm_adapters.json", NULL),
    T(siqa, "train.jsonl", NULL), T(siqa_labels, "train-labels.lst", NULL), T(piqa, "train.jsonl", NULL),
    T(winogrande, "train.jsonl", NULL), T(hellaswag, "train.jsonl", NULL), T(scienceqa, "problems.json", NULL),
    T(mc_jsonl, "train.jsonl", NULL),
    { "tokenizer_bin", "tokenizer.bin", tok_bin_setup, NULL, tok_bin_run },
    { "tokenizer_json", "tokenizer.json", tok_json_setup, tok_json_seeds, tok_json_run },
    { "token_cache", "set.tok", cache_setup, NULL, cache_run },
    { "config_flags", "config.json", config_setup, NULL, config_run },
};
const int FUZZ_N_DATA_TARGETS = (int)(sizeof FUZZ_DATA_TARGETS / sizeof FUZZ_DATA_TARGETS[0]);
