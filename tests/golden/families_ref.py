#!/usr/bin/env python3
"""tests/golden/families_ref.py — helpers for the model-family fixtures (Llama 3.x rope_scaling
"llama3", Qwen2 / attention_bias biases) of tests/golden/regen.sh.

  tokens   --vocab V --batch B --len T --seed S --out tokens.json
           B rows of T random ids; targets = the next id, a few masked with -100.
  generate --model M [--adapter-dir A] --tokens tokens.json --prompt P --steps N --out gen.json
           greedy generation (argmax, first index on ties; full recompute per step, no KV cache)
           by shared/tools/torch_ref.py's Forward, from the first P ids of row 0, in float32 AND
           float64. Refuses (exit 1) a fixture whose two runs differ or whose smallest gap between
           the best and the second-best logit (float64) is below 1e-4: the C float and double
           builds must then produce exactly these ids. gen.json holds prompt_ids, generated_ids
           and min_margin.

torch_ref.py is imported as a library (TORCH_REF=path overrides ../../../shared/tools/torch_ref.py).
"""
import argparse
import importlib.util
import json
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get("TORCH_REF") or os.path.join(HERE, "..", "..", "..", "shared", "tools", "torch_ref.py")
_spec = importlib.util.spec_from_file_location("torch_ref", REF)
tr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tr)


def cmd_tokens(a):
    rng = random.Random(a.seed)
    inputs = [[rng.randrange(a.vocab) for _ in range(a.len)] for _ in range(a.batch)]
    targets = [row[1:] + [rng.randrange(a.vocab)] for row in inputs]
    for b, t in [(0, 0), (0, 5), (1 % a.batch, 2), (1 % a.batch, a.len - 1)]:
        targets[b][t] = -100
    with open(a.out, "w") as f:
        f.write(json.dumps({"inputs": inputs, "targets": targets}) + "\n")


def greedy(model, adapter, prompt, steps, dtype):
    """(ids, smallest top-1 minus top-2 logit gap) of greedy decoding in dtype"""
    m = model.to(dtype)
    ad = adapter.to(dtype) if adapter else tr.Adapter(tr.AdapterConfig(), {})
    ids, margin = list(prompt), float("inf")
    with torch.no_grad():
        for _ in range(steps):
            last = tr.Forward(m, ad)(torch.tensor([ids]))[0, -1]
            top2 = torch.topk(last, 2).values
            margin = min(margin, float(top2[0] - top2[1]))
            ids.append(int(torch.argmax(last)))
    return ids[len(prompt):], margin


def cmd_generate(a):
    model = tr.load_model(a.model)
    adapter = tr.load_adapter(model, a.adapter_dir) if a.adapter_dir else None
    with open(a.tokens) as f:
        prompt = json.load(f)["inputs"][0][:a.prompt]
    ids32, _ = greedy(model, adapter, prompt, a.steps, torch.float32)
    ids64, margin = greedy(model, adapter, prompt, a.steps, torch.float64)
    if ids32 != ids64 or margin < 1e-4:
        sys.exit(f"{a.model}: float32 and float64 greedy ids differ or a near tie (margin {margin:.2e}); "
                 "choose another seed")
    with open(a.out, "w") as f:
        f.write(json.dumps({"prompt_ids": prompt, "generated_ids": ids64, "min_margin": margin}) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tokens")
    for k in ("vocab", "batch", "len", "seed"):
        t.add_argument("--" + k, type=int, required=True)
    t.add_argument("--out", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--model", required=True)
    g.add_argument("--adapter-dir")
    g.add_argument("--tokens", required=True)
    g.add_argument("--prompt", type=int, default=8)
    g.add_argument("--steps", type=int, required=True)
    g.add_argument("--out", required=True)
    a = p.parse_args()
    {"tokens": cmd_tokens, "generate": cmd_generate}[a.cmd](a)


if __name__ == "__main__":
    main()
