#!/usr/bin/env python3
"""tests/golden/variants_ref.py — PyTorch reference for moetrain's routing variants.

shared/tools/torch_ref.py (the project's oracle) knows top-k Mo-LoRA / AdaMoE only. This script
uses it as a library for the base model (file loading, RMSNorm, RoPE, attention, SwiGLU,
cross-entropy, the Eq. 6 / vanilla aux formula, safetensors) and replaces the routed linear with
its own implementation of the variants, written from the papers (design/REFERENCE.md §2-3) and
the semantics stated in nn/moe.h, not from our C code:

  routing (per Mo-LoRA / AdaMoE linear; p = softmax(x W_rᵀ) over n true + m null experts):
    topk           S = the k largest p (ties -> lower index); true-only: w_e = p_e / Σ_{S, true} p
                   and selected nulls keep raw p (AdaMoE option 2); all-selected: w = p / Σ_S p
    top_p          S = the smallest prefix of the descending p whose mass >= top_p (at least one
                   expert; true and null alike); w = raw p, no renormalisation (Huang et al. 2024;
                   their code keeps cumsum > thr: the two differ only at exact equality)
    dense          S = every expert, w = raw p (LoRAMoE)
    stochastic     the EVALUATION rule only (training draws a random expert): S = every true
                   expert, w = 1/n each, a constant (THOR's expected output)
    expert_choice  each true expert e takes the c = ceil(k·N/n) rows of the batch (N = B·T rows
                   seen by this linear) with the largest p_e (ties -> lower row); w = raw p; nulls
                   are never chosen (Zhou et al. 2022 with capacity factor k)
  output  y = x Wᵀ + Σ_{e∈S, e<n} w_e · s · B_e A_e x           (s = alpha / r of the layer)
              + Σ_{j∈S, j>=n} w_j · x              null_kind identity (only where in == out)
              + Σ_{j∈S, j>=n} w_j · v_j            null_kind constant (MoE++; V [out, m] trainable)
              + Σ_{i<n_shared} s · Bs_i As_i x     shared experts (DeepSeek-MoE), weight 1
  loss    CE + aux_coef · Σ_layers aux + entropy_coef · Σ_linears mean_t H(p_t)
          aux per layer: torch_ref.aux_loss_from_probs over the layer's linears pooled, with the
          variant's selection as the counts and f = c / (k T), k = the layer's top_k
  stats   per layer, pooled: Load = mean true experts per token, null fraction = null
          assignments / all assignments (= c/(kT) for top-k), bypass = tokens with no true expert
  per-layer lists: n_true, n_null, top_k and rank may differ by layer (adapter keys
          "layer_n_true", "layer_n_null", "layer_top_k", "layer_rank" in the "moe" object).
  pregate (Pre-gated MoE, Hwang et al. 2024; "pregate": true in the "moe" object): the router of
          module j (q, k, v, o, gate, up, down) in layer L >= 1 is evaluated on the input that
          module j had in layer L-1 of the same forward, p = softmax(x_{L-1,j} W_rᵀ), and selects
          the experts that then run on x_{L,j}; layer 0 routes on its own input. The gradient
          flows through x_{L-1,j} too (no detach).

The reference runs in float64 (routers too); a float32 run must make the same selections, and
every selection must keep a margin (`min_margin` in out.json, >= --min-margin) so that rounding
differences between implementations cannot flip a choice.

  variants_ref.py tokens --vocab V --seed S --out tokens.json
  variants_ref.py init-adapter --model M --out DIR [variant options] --seed S
  variants_ref.py forward-backward --model M --adapter-dir DIR --tokens tokens.json \
      --json-out out.json --grads-out grads.safetensors
TORCH_REF=path/to/torch_ref.py overrides the default ../../../shared/tools/torch_ref.py.
"""
import argparse
import importlib.util
import json
import math
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get("TORCH_REF") or os.path.join(HERE, "..", "..", "..", "shared", "tools", "torch_ref.py")
_spec = importlib.util.spec_from_file_location("torch_ref", REF)
tr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tr)

ROUTINGS = ("topk", "top_p", "dense", "stochastic", "expert_choice")
LAYER_KEYS = ("layer_n_true", "layer_n_null", "layer_top_k", "layer_rank")


class Variant:
    """The adapter's routing configuration, with per-layer n, m, k, r."""

    def __init__(self, kind, targets, alpha, n, m, k, r, normalize, null_kind, routing, top_p,
                 entropy_coef, n_shared, aux, aux_coef, per_layer, pregate=False):
        self.kind, self.targets, self.alpha = kind, targets, alpha
        self.n, self.m, self.k, self.r = n, (m if kind == "adamoe" else [0] * len(n)), k, r
        self.normalize, self.null_kind, self.routing = normalize, null_kind, routing.replace("-", "_")
        self.top_p, self.entropy_coef, self.n_shared = top_p, entropy_coef, n_shared
        self.aux, self.aux_coef, self.per_layer = aux, aux_coef, per_layer
        self.pregate = bool(pregate)
        assert self.routing in ROUTINGS, routing

    def base_config(self):
        """torch_ref's AdapterConfig (sites, PEFT fields) with layer 0's sizes."""
        return tr.AdapterConfig(kind=self.kind, targets=self.targets, rank=self.r[0], alpha=self.alpha,
                                n_true=self.n[0], n_null=self.m[0], top_k=self.k[0], normalize=self.normalize,
                                null_kind=self.null_kind, aux=self.aux, aux_coef=self.aux_coef)

    def config_dict(self, mcfg, base_name):
        d = tr.adapter_config_dict(mcfg, self.base_config(), base_name)
        moe = d["moe"]
        moe.update({"routing": self.routing, "top_p": self.top_p, "entropy_coef": self.entropy_coef,
                    "n_shared": self.n_shared})
        if self.per_layer:
            for key, vals in zip(LAYER_KEYS, (self.n, self.m, self.k, self.r)):
                moe[key] = list(vals)
        if self.pregate:
            moe.update({"pregate": True, "router": "learned", "freeze_experts": False})
        moe["aux"] = moe.pop("aux")   # keep "aux" last, as the C writer does
        return d

    @staticmethod
    def from_dict(d, n_layers):
        moe = d["moe"]
        def layer(key, scalar):
            return list(moe[key]) if key in moe else [scalar] * n_layers
        short = {v.split(".")[1]: s for s, v in tr.LLAMA_TARGETS.items()}
        return Variant(moe["type"], [short[t] for t in d["target_modules"]], float(d["lora_alpha"]),
                       layer("layer_n_true", moe["n_true"]), layer("layer_n_null", moe["n_null"]),
                       layer("layer_top_k", moe["top_k"]), layer("layer_rank", d["r"]),
                       moe.get("normalize", "true_only"), moe.get("null_kind", "zero"), moe.get("routing", "topk"),
                       float(moe.get("top_p", 0.4)), float(moe.get("entropy_coef", 0.0)), int(moe.get("n_shared", 0)),
                       moe["aux"]["kind"], float(moe["aux"]["coef"]), "layer_n_true" in moe,
                       bool(moe.get("pregate", False)))


def key(site, what):
    return f"{tr.PEFT_PREFIX}{site}.{what}.weight"


def init_adapter(model, v, seed):
    """Every tensor nonzero (so every gradient path is exercised): A, As, router ~ U(±1/sqrt(in)),
    B, Bs ~ N(0, 0.02²), null constants ~ N(0, 0.05²). Float32 values."""
    g = torch.Generator().manual_seed(seed)
    def uniform(shape, fan_in):
        return ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)).float()
    def normal(shape, std):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).float()
    p = {}
    for site in tr.lora_sites(model.cfg, v.base_config()):
        out_f, in_f = model.w[site + ".weight"].shape
        L = tr.site_layer(site)
        n, m, r = v.n[L], v.m[L], v.r[L]
        for e in range(n):
            p[key(site, f"lora_A.{e}")] = uniform((r, in_f), in_f)
            p[key(site, f"lora_B.{e}")] = normal((out_f, r), 0.02)
        p[key(site, "router")] = uniform((n + m, in_f), in_f)
        for j in range(v.n_shared):
            p[key(site, f"shared_A.{j}")] = uniform((r, in_f), in_f)
            p[key(site, f"shared_B.{j}")] = normal((out_f, r), 0.02)
        if v.null_kind == "constant" and m > 0:
            p[key(site, "null_const")] = normal((out_f, m), 0.05)
    return p


def select(p, v, L):
    """Boolean selection [N, E] (a constant) and the smallest selection margin of this router."""
    p = p.detach()
    N, E = p.shape
    n, k = v.n[L], v.k[L]
    sel = torch.zeros(N, E, dtype=torch.bool)
    margin = math.inf
    if v.routing in ("topk", "top_p"):
        order = torch.sort(-p, dim=-1, stable=True).indices
        ps = torch.gather(p, 1, order).double()
        if v.routing == "topk":
            cnt = torch.full((N,), k, dtype=torch.long)
        else:
            before = torch.cumsum(ps, -1) - ps            # mass of the experts ahead of each one
            cnt = (before < v.top_p).sum(-1).clamp(min=1)  # expert i is kept while the mass before it < top_p
            cum = torch.cumsum(ps, -1)
            for t in range(N):
                c = int(cnt[t])
                if c > 1: margin = min(margin, v.top_p - float(cum[t, c - 2]))
                if c < E: margin = min(margin, float(cum[t, c - 1]) - v.top_p)
        for t in range(N):
            c = int(cnt[t])
            sel[t, order[t, :c]] = True
            if c < E: margin = min(margin, float(ps[t, c - 1] - ps[t, c]))
    elif v.routing == "dense":
        sel[:] = True
    elif v.routing == "stochastic":
        sel[:, :n] = True
    else:                                                  # expert choice
        c = min(N, math.ceil(k * N / n))
        for e in range(n):
            order = torch.sort(-p[:, e], stable=True).indices   # ties -> lower row
            sel[order[:c], e] = True
            if c < N: margin = min(margin, float(p[order[c - 1], e] - p[order[c], e]))
    return sel, margin


def weights(p, sel, v, L):
    """Mixing weights [N, E], differentiable in p (0 outside the selection)."""
    n = v.n[L]
    is_true = torch.arange(p.shape[1]) < n
    if v.routing == "stochastic":
        return (sel & is_true).to(p.dtype) / n
    if v.routing != "topk":
        return p * sel
    norm_set = sel & is_true if v.normalize == "true_only" else sel
    denom = (p * norm_set).sum(-1, keepdim=True)
    denom = torch.where(denom > 0, denom, torch.ones_like(denom))
    return torch.where(norm_set, p / denom, p * sel)      # true-only: selected nulls keep raw p


class VariantForward(tr.Forward):
    """torch_ref's forward with the routed linear replaced by the variants above."""

    def __init__(self, model, params, v):
        super().__init__(model, tr.Adapter(v.base_config(), params))
        self.v = v
        self.margin = math.inf
        self.probs = []                                    # every router's p (entropy loss)
        self.prev_in = {}                                  # pregate: module -> (layer, its input there)

    def linear(self, site, x):
        W = self.m.w[site + ".weight"]
        y = x @ W.t()
        if site not in self.lora_sites:
            return y
        a, v, L = self.a.p, self.v, tr.site_layer(site)
        n, m, s = v.n[L], v.m[L], v.alpha / v.r[L]
        x2 = x.reshape(-1, x.shape[-1])
        xr = x2                                            # the router's input
        if v.pregate:
            module = site.rsplit(".", 1)[1]
            prev = self.prev_in.get(module)
            if prev is not None and prev[0] == L - 1:
                xr = prev[1]
            self.prev_in[module] = (L, x2)
        p = torch.softmax(xr @ a[key(site, "router")].t(), dim=-1)
        sel, margin = select(p, v, L)
        self.margin = min(self.margin, margin)
        self.log.record(L, p, sel, n, m, v.k[L])
        self.probs.append(p)
        w = weights(p, sel, v, L)
        def lora(A, B):
            return s * ((x2 @ a[A].t()) @ a[B].t())
        delta = torch.zeros(x2.shape[0], W.shape[0], dtype=x.dtype)
        for e in range(n):
            delta = delta + w[:, e:e + 1] * lora(key(site, f"lora_A.{e}"), key(site, f"lora_B.{e}"))
        if v.null_kind == "identity" and m > 0 and W.shape[0] == W.shape[1]:
            delta = delta + w[:, n:].sum(-1, keepdim=True) * x2
        if v.null_kind == "constant" and m > 0:
            delta = delta + w[:, n:] @ a[key(site, "null_const")].t()
        for j in range(v.n_shared):
            delta = delta + lora(key(site, f"shared_A.{j}"), key(site, f"shared_B.{j}"))
        return y + delta.reshape(*x.shape[:-1], W.shape[0])


def layer_stats(p, sel, n):
    true_count = sel[:, :n].sum(-1).double()
    c = sel.sum(0).double()
    pd = p.detach().double()
    return {"load": true_count.mean().item(), "null_fraction": (c[n:].sum() / c.sum()).item(),
            "bypass_fraction": (true_count == 0).double().mean().item(),
            "router_entropy": -(pd * torch.log(pd)).sum(-1).mean().item()}


def run(model, params, v, inputs, targets, dtype):
    m = model.to(dtype)
    a = {k: t.detach().to(dtype).requires_grad_(True) for k, t in params.items()}
    fwd = VariantForward(m, a, v)
    logits = fwd(inputs)
    ce = tr.cross_entropy(logits, targets)
    aux, stats = [], []
    for L, recs in enumerate(fwd.log.layers):
        p = torch.cat([r[0] for r in recs])
        sel = torch.cat([r[1] for r in recs])
        aux.append(tr.aux_loss_from_probs(p, sel, v.n[L], v.m[L], v.k[L], v.aux))
        stats.append(layer_stats(p, sel, v.n[L]))
    aux_sum = torch.stack(aux).sum()
    entropy = sum(-(p * torch.log(p)).sum(-1).mean() for p in fwd.probs)
    total = ce + v.aux_coef * aux_sum + v.entropy_coef * entropy
    total.backward()
    grads = {k: t.grad.detach() for k, t in a.items()}
    sels = [torch.cat([r[1] for r in recs]) for recs in fwd.log.layers]
    return {"total": total, "ce": ce, "aux": aux, "aux_sum": aux_sum, "entropy": entropy, "stats": stats,
            "logits": logits.detach(), "grads": grads, "sels": sels, "margin": fwd.margin}


def summary(res, v, inputs, targets, f32_grad_diff):
    st, grads = res["stats"], res["grads"]
    return {
        "loss": res["total"].item(), "ce": res["ce"].item(),
        "aux_per_layer": [x.item() for x in res["aux"]], "aux_sum": res["aux_sum"].item(),
        "entropy_loss": float(res["entropy"]), "entropy_coef": v.entropy_coef,
        "load_per_layer": [s["load"] for s in st],
        "null_fraction_per_layer": [s["null_fraction"] for s in st],
        "bypass_fraction_per_layer": [s["bypass_fraction"] for s in st],
        "router_entropy_per_layer": [s["router_entropy"] for s in st],
        "logits_pos0_first8": res["logits"][0, 0, :8].tolist(), "logits_sum": res["logits"].sum().item(),
        "n_tokens": int(inputs.numel()), "n_target_tokens": int((targets != tr.IGNORE_INDEX).sum()),
        "grad_global_norm": math.sqrt(sum(float((g ** 2).sum()) for g in grads.values())),
        "grad_norms": {k: float(g.norm()) for k, g in sorted(grads.items())},
        "routing": v.routing, "min_margin": res["margin"] if math.isfinite(res["margin"]) else None, "f32_vs_f64_worst_grad": f32_grad_diff,
        "adapter": v.kind, "dtype": "float64", "aux_coef": v.aux_coef,
    }


def cmd_init_adapter(args):
    model = tr.load_model(args.model)
    L = model.cfg.n_layers
    def per_layer(s):
        vals = [int(x) for x in str(s).split(",")]
        return vals if len(vals) == L else vals * L if len(vals) == 1 else sys.exit(f"{s}: need 1 or {L} values")
    targets = [t for t in args.targets.split(",") if t]
    lists = [per_layer(x) for x in (args.experts, args.null, args.top_k, args.rank)]
    v = Variant(args.adapter, targets, args.alpha, *lists, args.normalize.replace("-", "_"), args.null_kind,
                args.routing, args.top_p, args.entropy_coef, args.shared_experts, args.aux, args.aux_coef,
                any("," in str(x) for x in (args.experts, args.null, args.top_k, args.rank)), args.pregate)
    params = init_adapter(model, v, args.seed)
    os.makedirs(args.out, exist_ok=True)
    tr.write_safetensors(os.path.join(args.out, "adapter_model.safetensors"),
                         {k: t.numpy() for k, t in params.items()}, "F32")
    tr.write_json(os.path.join(args.out, "adapter_config.json"), v.config_dict(model.cfg, args.base_name))


def cmd_forward_backward(args):
    torch.set_num_threads(1)
    model = tr.load_model(args.model)
    with open(os.path.join(args.adapter_dir, "adapter_config.json")) as f:
        v = Variant.from_dict(json.load(f), model.cfg.n_layers)
    st = tr.read_safetensors(os.path.join(args.adapter_dir, "adapter_model.safetensors"))
    params = {k: torch.from_numpy(a.astype("float32")) for k, a in st.items()}
    want = set(init_adapter(model, v, 0))
    if set(params) != want:
        sys.exit(f"{args.adapter_dir}: keys differ from the variant's: {sorted(set(params) ^ want)[:4]}")
    inputs, targets = tr.load_tokens(args.tokens)
    res = run(model, params, v, inputs, targets, torch.float64)
    r32 = run(model, params, v, inputs, targets, torch.float32)
    if any(not torch.equal(a, b) for a, b in zip(res["sels"], r32["sels"])):
        sys.exit("float32 and float64 make different selections: choose another seed")
    if not res["margin"] >= args.min_margin:
        sys.exit(f"selection margin {res['margin']:.3g} < {args.min_margin}: choose another seed")
    diff = max(float((r32["grads"][k].double() - g).abs().max() / g.abs().max()) for k, g in res["grads"].items()
               if g.abs().max() > 0)
    out = summary(res, v, inputs, targets, diff)
    tr.write_safetensors(args.grads_out, {k: g.numpy() for k, g in res["grads"].items()}, "F32")
    tr.write_json(args.json_out, out)
    print(json.dumps({k: out[k] for k in ("loss", "ce", "aux_sum", "entropy_loss", "load_per_layer", "min_margin",
                                          "f32_vs_f64_worst_grad")}))


def cmd_tokens(args):
    """B = 2 sequences of T = 12 DISTINCT ids (no two rows of the first layer's q/k/v input are
    equal, so expert choice never meets an exact tie between rows), 5 targets masked."""
    rng = random.Random(args.seed)
    B, T = 2, 12
    ids = rng.sample(range(args.vocab), B * T)
    inputs = [ids[b * T:(b + 1) * T] for b in range(B)]
    targets = [row[1:] + [rng.randrange(args.vocab)] for row in inputs]
    for b, t in [(0, 0), (0, 5), (1, 2), (1, 3), (1, 11)]:
        targets[b][t] = -100
    with open(args.out, "w") as f:
        f.write(json.dumps({"inputs": inputs, "targets": targets}) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tokens")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_tokens)
    p = sub.add_parser("init-adapter")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--base-name", default="model")
    p.add_argument("--adapter", default="adamoe", choices=["molora", "adamoe"])
    p.add_argument("--targets", default="q,k,v,o,gate,up,down")
    p.add_argument("--alpha", type=float, default=4.0)
    for name, default in (("experts", "3"), ("null", "2"), ("top-k", "2"), ("rank", "2")):
        p.add_argument("--" + name, default=default, help="one value or one per layer")
    p.add_argument("--normalize", default="true_only")
    p.add_argument("--null-kind", default="zero", choices=["zero", "identity", "constant"])
    p.add_argument("--routing", default="topk")
    p.add_argument("--top-p", type=float, default=0.4)
    p.add_argument("--entropy-coef", type=float, default=0.0)
    p.add_argument("--shared-experts", type=int, default=0)
    p.add_argument("--pregate", action="store_true")
    p.add_argument("--aux", default="eq6", choices=["eq6", "vanilla", "none"])
    p.add_argument("--aux-coef", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_init_adapter)
    p = sub.add_parser("forward-backward")
    p.add_argument("--model", required=True)
    p.add_argument("--adapter-dir", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--json-out", required=True)
    p.add_argument("--grads-out", required=True)
    p.add_argument("--min-margin", type=float, default=1e-5)
    p.set_defaults(fn=cmd_forward_backward)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
