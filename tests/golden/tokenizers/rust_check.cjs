// tests/golden/tokenizers/rust_check.cjs — optional cross-check of the goldens against the Rust
// tokenizers (node binding @anush008/tokenizers, a prebuilt native module): counts the strings
// whose ids (no special tokens) differ from NAME.ids.  node rust_check.cjs REPO_DIR SHARED_DATA_DIR
const { Tokenizer } = require("@anush008/tokenizers");
const fs = require("fs");
const [repo, shared] = process.argv.slice(2);
(async () => {
  const strings = fs.readFileSync(`${repo}/tests/golden/tokenizers/strings.txt`, "utf8").trim().split("\n").map(l => JSON.parse(l));
  for (const name of ["gpt2", "llama3", "mistral", "qwen3"]) {
    const tok = Tokenizer.fromFile(`${shared}/tokenizers/${name}/tokenizer.json`);
    const gold = fs.readFileSync(`${repo}/tests/golden/tokenizers/${name}.ids`, "utf8").trim().split("\n");
    let bad = 0;
    for (let i = 0; i < strings.length; i++) {
      const enc = await tok.encode(strings[i], null, { addSpecialTokens: false });
      const ids = Array.from(enc.getIds()).join(" ");
      if (ids !== gold[i].split("|")[0]) { bad++; if (bad <= 4) console.log(name, JSON.stringify(strings[i]), "rust:", ids, "js:", gold[i].split("|")[0]); }
    }
    console.log(`${name}: Rust tokenizers vs the JS goldens: ${bad} of ${strings.length} differ`);
  }
})();
