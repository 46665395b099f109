#!/usr/bin/env python3
"""tests/golden/quant_ref.py — PyTorch reference for moetrain's quantised frozen base (QLoRA).

shared/tools/torch_ref.py (the project's oracle) is used as a library for the model, the adapters
(LoRA, Mo-LoRA, AdaMoE, moe-ffn), the forward / backward and the summary; this script only
replaces the base weights by what a quantised base holds, written from the definitions (QLoRA,
Dettmers et al. 2023; tensor/quant.h states the exact rules), not from our C code:

  which       the linear weights of the decoder layers ("model.layers.*.weight", 2-D; not the
              Mixtral router "block_sparse_moe.gate") are quantised; every other 2-D frozen
              matrix (embedding, LM head, router) is rounded to bf16; norms and biases stay f32.
              --expert-dtype gives the Mixtral experts (".experts.") their own storage.
  nf4         per block of 64 consecutive values of the row-major matrix (the last block may be
              short): a = max |w|, v = w / a (float32), code = the number of NF4 midpoints
              (q_k + q_k+1) / 2 (float32) strictly below v, w' = q_code · a.
  nf4 (dq)    the block scales a, centred by their mean mu (float64 mean, cast to float32), are
              stored per group of 256 blocks as round((a - mu) / d) with d = max |a - mu| / 127
              (round half to even, clamped to ±127; d = 0 gives 0): w' = q_code · (q·d + mu).
  int8        per row: s = max |w| / 127, w' = round(w / s) · s (half to even, clamped to ±127).
  All arithmetic float32, one operation at a time, as the C code does it.

  quant_ref.py forward-backward --model M --adapter-dir A --tokens tokens.json \
      --base-dtype nf4|nf4-nodq|int8|bf16 [--expert-dtype ...] --json-out out.json --grads-out grads.safetensors
TORCH_REF=path/to/torch_ref.py overrides the default ../../../shared/tools/torch_ref.py.
"""
import argparse
import importlib.util
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get("TORCH_REF") or os.path.join(HERE, "..", "..", "..", "shared", "tools", "torch_ref.py")
_spec = importlib.util.spec_from_file_location("torch_ref", REF)
tr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tr)

# QLoRA Appendix E: the NormalFloat-4 values
NF4 = torch.tensor([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=torch.float32)
MID = (NF4[:-1] + NF4[1:]) * 0.5


def bf16(w):
    return w.to(torch.bfloat16).to(torch.float32)


def double_quant(a):
    mu = a.double().mean().float()
    c = a - mu
    nb = a.numel()
    groups = (nb + 255) // 256
    cp = torch.cat([c, torch.zeros(groups * 256 - nb)]).view(groups, 256)
    d = cp.abs().amax(dim=1) / 127.0
    q = torch.where(d[:, None] > 0, torch.round(cp / torch.where(d > 0, d, torch.ones_like(d))[:, None]),
                    torch.zeros_like(cp)).clamp(-127, 127)
    return (q * d[:, None] + mu).view(-1)[:nb]


def nf4(w, dq):
    flat = w.reshape(-1).float()
    n = flat.numel()
    nb = (n + 63) // 64
    blocks = torch.cat([flat, torch.zeros(nb * 64 - n)]).view(nb, 64)
    a = blocks.abs().amax(dim=1)
    safe = torch.where(a > 0, a, torch.ones_like(a))
    v = torch.where(a[:, None] > 0, blocks / safe[:, None], torch.zeros_like(blocks))
    idx = (v.unsqueeze(-1) > MID).sum(-1)
    scale = double_quant(a) if dq else a
    return (NF4[idx] * scale[:, None]).view(-1)[:n].view(w.shape)


def int8(w):
    a = w.float().abs().amax(dim=1)
    s = a / 127.0
    safe = torch.where(s > 0, s, torch.ones_like(s))
    q = torch.where(s[:, None] > 0, torch.round(w / safe[:, None]), torch.zeros_like(w)).clamp(-127, 127)
    return q * s[:, None]


def store(w, dtype):
    if dtype == "nf4":
        return nf4(w, True)
    if dtype == "nf4-nodq":
        return nf4(w, False)
    if dtype == "int8":
        return int8(w)
    if dtype == "bf16":
        return bf16(w)
    assert dtype == "f32", dtype
    return w


def quantise_model(model, base, experts):
    quantised = base in ("nf4", "nf4-nodq", "int8")
    w = {}
    for name, t in model.w.items():
        layer_linear = (t.dim() == 2 and name.startswith("model.layers.") and name.endswith(".weight")
                        and ".block_sparse_moe.gate." not in name)
        if layer_linear and experts and ".experts." in name:
            w[name] = store(t, experts)
        elif layer_linear:
            w[name] = store(t, base)
        elif t.dim() == 2 and (quantised or base == "bf16"):
            w[name] = bf16(t)
        else:
            w[name] = t
    return tr.Model(model.cfg, w)


def cmd_forward_backward(args):
    model = quantise_model(tr.load_model(args.model), args.base_dtype, args.expert_dtype)
    adapter = tr.load_adapter(model, args.adapter_dir)
    inputs, targets = tr.load_tokens(args.tokens)
    losses, logits, grads = tr.run_forward_backward(model, adapter, inputs, targets, torch.float32)
    summary = tr.summary_dict(losses, logits, grads, inputs, targets)
    summary.update({"model": args.model, "adapter": adapter.cfg.kind, "dtype": "float32",
                    "base_dtype": args.base_dtype, "expert_dtype": args.expert_dtype,
                    "aux_coef": adapter.cfg.aux_coef})
    tr.write_safetensors(args.grads_out, {k: g.numpy() for k, g in grads.items()}, "F32")
    tr.write_json(args.json_out, summary)
    print(f"loss {summary['loss']:.9g} ({args.base_dtype})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("forward-backward")
    f.add_argument("--model", required=True)
    f.add_argument("--adapter-dir", required=True)
    f.add_argument("--tokens", required=True)
    f.add_argument("--base-dtype", required=True, choices=["f32", "bf16", "nf4", "nf4-nodq", "int8"])
    f.add_argument("--expert-dtype", default=None, choices=["f32", "bf16", "nf4", "nf4-nodq", "int8"])
    f.add_argument("--json-out", required=True)
    f.add_argument("--grads-out", required=True)
    args = p.parse_args()
    cmd_forward_backward(args)


if __name__ == "__main__":
    main()
