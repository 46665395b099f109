// tests/golden/tokenizers/regen.mjs — writes the golden token ids of the real tokenizer.json
// files with the reference implementation, @huggingface/tokenizers (the Hugging Face tokenizers
// in JavaScript). Not needed to build or test; see README.md in this folder for how to run it.
//   node regen.mjs SHARED_DATA_DIR OUT_DIR
// Writes OUT_DIR/strings.txt (one JSON string per line) and OUT_DIR/NAME.ids for each
// tokenizer, line i for string i:  IDS|PRE;POST|DECODE
//   IDS     encode(text, {add_special_tokens: false}).ids, space-separated
//   PRE;POST  the ids encode(text, {add_special_tokens: true}) adds before / after IDS
//   DECODE  decode(IDS, {skip_special_tokens: true, clean_up_tokenization_spaces: false}),
//           "=" when it equals the text, else a JSON string
// The tokenizer_config.json is not passed (config {}): only tokenizer.json is exercised.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";

const [shared, out] = process.argv.slice(2);
if (!shared || !out) {
  console.error("usage: node regen.mjs SHARED_DATA_DIR OUT_DIR");
  process.exit(1);
}
const read = (p) => fs.readFileSync(path.join(shared, p), "utf8");
const jsonl = (p) => read(p).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));

// ---- the strings ---------------------------------------------------------------------------
const strings = [];
const add = (s) => { if (typeof s === "string") strings.push(s); };

// all of RTE dev: sentence1 and sentence2 of the 277 rows (canonical GLUE TSV, no quoting)
for (const line of read("glue/RTE/dev.tsv").split("\n").slice(1)) {
  const f = line.split("\t");
  if (f.length >= 3) { add(f[1]); add(f[2]); }
}
// commonsense questions
for (const r of jsonl("commonsense/commonsense_qa/valid.jsonl").slice(0, 150)) {
  add(r.question.stem);
  add("Question: " + r.question.stem + "\n" + r.question.choices.map((c) => c.label + ". " + c.text).join("\n") + "\nAnswer:");
}
for (const r of jsonl("commonsense/openbookqa/dev.jsonl").slice(0, 100)) add(r.question.stem);
for (const r of jsonl("commonsense/social_iqa/dev.jsonl").slice(0, 100)) add(r.context + " " + r.question);
for (const r of JSON.parse(read("commonsense/ARC-Challenge/test.llm_adapters.json")).slice(0, 40)) add(r.instruction);

// hand-picked: scripts, emoji, whitespace, contractions, numbers, punctuation, marks, specials
const hand = [
  "", " ", "  ", "a", " a", "a ", "Hello world", "Hello  world", "Hello   world  ", "hello\nworld",
  "\n", "\n\n", "\r\n", " \n", "\n ", "\t", "\tx", "x\t\ty", "a \t\n b", "line one\n\nline two\n",
  "  leading", "trailing   ", "   \n   x", "x\n\n\n", ".\n\n", "end.\r\n\r\nNext", "a\u000bb\u000cc",
  "no\u00a0break", "\u00a0x", "ideo\u3000space", "x\u3000\u3000y", "nel\u0085x", "bom\ufeffx",
  "\ufeffstart", "ls\u2028ps\u2029x", "thin\u2009space", "en\u2002quad", "\u200bzero\u200cwidth\u200d",
  "don't", "don\u2019t", "I'M", "I'm", "we'll", "WE'LL", "they've", "she'd", "it's", "It'S", "you're",
  "YOU'RE", "'s", "'sam", "'", "''", "'''", "rock 'n' roll", "O'Neil's", "l'\u00e9t\u00e9", "'x",
  "\u2018quoted\u2019", "\u201cdouble\u201d", "\u00abguillemets\u00bb",
  "1", "12", "123", "1234", "1234567", "12345678901234567890", "3.14", "3.14159", "1,000,000",
  "-42", "+7", "1e10", "0x1F", "v2.0.1", "\u00a3265m", " (\u00a3265m)", "$100", "\u20ac5", "50%",
  "10:30am", "2024-01-31", "\u0661\u0662\u0663", "\u0966\u0967\u0968", "\u00bd\u00b2\u00b3", "\u2160\u2161\u2162",
  "\u2460\u2461", "\uff11\uff12\uff13", "x1y2z3", "abc123def",
  "...", "!!!", "?!", "\u2026", "\u2026and", "wait\u2026and", "--", "\u2014", "a\u2014b", "(hello)",
  "[x]", "{y}", "<tag>", "</tag>", "a/b\\c", "#hash @at", "a+b=c", "~`^|", "***bold***", "::",
  "\"quoted\"", "x.y.z", "e.g.", "U.S.A.", "http://example.com/a?b=c&d=e", "user@example.com",
  "\u4e2d\u6587\u6d4b\u8bd5\uff0c\u4f60\u597d\uff01", "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8",
  "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
  "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629\u064b",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u0401\u0436\u0438\u043a",
  "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c", "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a",
  "\uc548\ub155\ud558\uc138\uc694", "\u1100\u1161\u11a8", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
  "\u05e9\u05dc\u05d5\u05dd", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5", "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0",
  "\u1e9b\u0323", "\u00e9", "e\u0301", "caf\u00e9", "cafe\u0301", "e\u0301\u0301", "a\u0323\u0301",
  "a\u0301\u0323", "\u1e69", "s\u0323\u0307", "s\u0307\u0323", "\u212b", "\u2126", "A\u030a", "\u0344",
  "\u0958", "\u0915\u093c", "\ufb2c", "\u1f82", "\u0301start", " \u0301", "\u2260", "=\u0338",
  "\uac00", "\u1100\u1161", "\u1100\u1161\u11a8x", "\u00c5ngstr\u00f6m", "na\u00efve", "nai\u0308ve",
  "\ud83d\ude00", "emoji \ud83d\ude00 and \ud83c\udf89!", "\ud83d\udc4d\ud83c\udffd",
  "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66", "\ud83c\uddfa\ud83c\uddf8",
  "\u2764\ufe0f", "\ud83e\udd16 robots \ud83e\udd16\ud83e\udd16", "\u0031\ufe0f\u20e3", "\ud83d\udc41\u200d\ud83d\udde8",
  "\u2603", "\ud834\udd1e", "\ud800\udf48", "\u{1D160}", "\u{20000}\u{2A6D6}",
  "<s>", "</s>", "<unk>", "<s> hi", "hi</s>", "<s><s>", "a<s>b", "<|endoftext|>", "x<|endoftext|>y",
  "<|endoftext|><|endoftext|>", "<|begin_of_text|>Hello", "<|end_of_text|>", "<|eot_id|>",
  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|reserved_special_token_5|>",
  "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "<think>\n\n</think>\n\n", "<tool_call>x</tool_call>",
  "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "<|im_start", "<|endoftext", "< s>", "<|vision_start|><|image_pad|>",
  " <s> ", "\u00e9<|endoftext|>e\u0301", "<think>\u0338", "Answer: A", "Answer:", "Answer: B",
  "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "camelCaseWord snake_case_word",
  "def f(x):\n    return x * 2\n", "if (a && b) { return; }", "    indented\n\tcode", "#include <stdio.h>",
  "SELECT * FROM t WHERE id = 1;", "x = [1, 2, 3]", "\u00bfQu\u00e9 tal?", "\u00a1Hola!",
  "Stra\u00dfe", "\u0130stanbul", "\u017fong s", "'\u017f", "\u212a", "Mix: \u00dcn\u00efc\u00f6d\u00e9 \u00f1 \u00df \u4e2d\u6587 \ud83d\ude42",
];
for (const s of hand) add(s);

// random mixtures of tricky fragments (seeded, deterministic)
const pieces = ["a", "Z", "the", " the", "ing", " ", "  ", "\n", "\n\n", "\t", "\r\n", "0", "7", "42",
  "1234", ".", ",", "'", "'s", "'LL", "\u2019", "\u2026", "(", ")", "-", "\u00e9", "e\u0301", "\u00a0",
  "\u3000", "\u4e2d", "\u6587", "\u0939\u093f", "\u0645", "\u0416", "\u30c6", "\ud55c", "\u0e01",
  "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\u200d", "\ufe0f", "\u00a3", "$", "!", "?", "<s>",
  "<|endoftext|>", "<|im_end|>", "<think>", "\u0085", "\ufeff", "\u0301", "\u0323", "\u1100", "\u1161"];
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor((seed / 2147483648) * n); };
for (let t = 0; t < 250; t++) {
  let s = "";
  const len = 1 + rnd(24);
  for (let i = 0; i < len; i++) s += pieces[rnd(pieces.length)];
  add(s);
}

// ---- the goldens ---------------------------------------------------------------------------
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "strings.txt"), strings.map((s) => JSON.stringify(s)).join("\n") + "\n");

function golden(name, tokJson) {
  const tok = new Tokenizer(tokJson, {});
  const lines = strings.map((s) => {
    const ids = tok.encode(s, { add_special_tokens: false }).ids;
    const all = tok.encode(s, { add_special_tokens: true }).ids;
    // the with-specials ids are PRE + IDS + POST (for an empty IDS all of them count as PRE)
    let pre = ids.length ? -1 : all.length;
    for (let p = 0; pre < 0 && p + ids.length <= all.length; p++)
      if (all.slice(p, p + ids.length).join() === ids.join()) pre = p;
    if (pre < 0) throw new Error(`${name}: specials do not wrap the ids of ${JSON.stringify(s)}`);
    const post = all.slice(pre + ids.length);
    const dec = ids.length ? tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : "";
    return `${ids.join(" ")}|${all.slice(0, pre).join(" ")};${post.join(" ")}|${dec === s ? "=" : JSON.stringify(dec)}`;
  });
  fs.writeFileSync(path.join(out, name + ".ids"), lines.join("\n") + "\n");
  console.log(`${name}: ${strings.length} strings`);
}

const load = (p) => JSON.parse(read(p));
for (const name of ["gpt2", "llama3", "mistral", "qwen3"]) golden(name, load(`tokenizers/${name}/tokenizer.json`));
// Variants: a real file with one top-level key replaced by the JSON file VARIANT.json of this
// folder (the C test makes the same replacement): Llama 3 with the post_processor of later Meta
// revisions (BOS by a TemplateProcessing inside a Sequence), GPT-2 with a ByteLevel
// pre-tokenizer that adds a prefix space, and one without the regex.
const here = path.dirname(new URL(import.meta.url).pathname);
const variants = [["llama3_bos", "llama3", "post_processor"], ["gpt2_prefix", "gpt2", "pre_tokenizer"],
                  ["gpt2_noregex", "gpt2", "pre_tokenizer"]];
for (const [name, base, key] of variants) {
  const json = load(`tokenizers/${base}/tokenizer.json`);
  json[key] = JSON.parse(fs.readFileSync(path.join(here, name + ".json"), "utf8"));
  golden(name, json);
}
