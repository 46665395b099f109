#!/bin/sh
# tests/golden/regen.sh — regenerates the golden parity fixtures of tests/nn/test_golden_parity.c.
# For every fixture: ./train make-tiny builds a tiny random model + LoRA adapter from the options
# in NAME/args (deterministic in --seed), a small tokens.json is written, and PyTorch
# (shared/tools/torch_ref.py forward-backward) computes loss, logits summary and gradients.
# Only args, tokens.json, out.json and grads.safetensors are kept; the test rebuilds the model
# from args with the same C code (make_tiny_write) and compares its own forward-backward.
# Usage (from anywhere): tests/golden/regen.sh [variants|families|export|quant]   Needs /usr/bin/python3 with torch + numpy.
# "variants" regenerates only the routing-variant fixtures (variant_*, see below), "families" only
# the model-family fixtures (llama3_*, qwen2_*, family_torch_*).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PY=${PYTHON:-/usr/bin/python3}
REF=${TORCH_REF:-$ROOT/../shared/tools/torch_ref.py}
[ -f "$REF" ] || { echo "regen.sh: torch_ref.py not found at $REF (set TORCH_REF)" >&2; exit 1; }
make -j2 train >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Routing-variant fixtures (tests/nn/test_golden_variants.c): ./train make-tiny writes the model
# (only its options are kept, in NAME/args, as above); tests/golden/variants_ref.py (our own
# PyTorch reference for the variants, on top of torch_ref.py) writes the adapter (kept in
# NAME/adapter: the C reader is tested on a file it did not write), the tokens (distinct ids) and
# out.json + grads.safetensors (float64 reference, gradients stored as F32).
# variant_fixture NAME TOKEN_SEED "MAKE_TINY_ARGS" VARIANTS_REF_INIT_ADAPTER_ARGS...
VREF=$ROOT/tests/golden/variants_ref.py
variant_fixture() {
    name=$1; tseed=$2; margs=$3; shift 3
    dir=tests/golden/$name
    rm -rf "$dir"; mkdir -p "$dir"
    echo "$margs" > "$dir/args"
    echo "$*" > "$dir/adapter_args"
    ./train make-tiny --out "$TMP/$name" $margs >/dev/null
    vocab=$(echo "$margs" | sed -n 's/.*--vocab \([0-9]*\).*/\1/p')
    TORCH_REF=$REF "$PY" "$VREF" tokens --vocab "$vocab" --seed "$tseed" --out "$dir/tokens.json"
    TORCH_REF=$REF "$PY" "$VREF" init-adapter --model "$TMP/$name" --out "$dir/adapter" "$@"
    TORCH_REF=$REF "$PY" "$VREF" forward-backward --model "$TMP/$name" --adapter-dir "$dir/adapter" \
        --tokens "$dir/tokens.json" --json-out "$dir/out.json" --grads-out "$dir/grads.safetensors" >/dev/null
    echo "$name: $(grep '"loss"' "$dir/out.json") $(grep '"min_margin"' "$dir/out.json")"
}
variant_fixtures() {
    V="--format hf --dim 8 --layers 2 --heads 2 --kv-heads 1 --hidden 16 --vocab 32"
    variant_fixture variant_topp_const_entropy 41 "$V --seed 41" --adapter adamoe --experts 3 --null 2 \
        --routing top-p --top-p 0.5 --entropy-coef 0.01 --null-kind constant --targets q,v,down --aux eq6 \
        --aux-coef 0.05 --seed 1
    variant_fixture variant_dense_identity_shared 42 "$V --seed 42" --adapter adamoe --experts 2 --null 2 \
        --routing dense --null-kind identity --shared-experts 1 --targets q,k,o,up --aux vanilla --aux-coef 0.05 --seed 2
    variant_fixture variant_topk_const_shared 43 "$V --seed 43" --adapter adamoe --experts 3 --null 2 --top-k 3 \
        --null-kind constant --shared-experts 2 --targets q,gate,down --aux eq6 --aux-coef 0.05 --seed 3
    variant_fixture variant_layers_allsel_const 44 "$V --seed 44" --adapter adamoe --experts 2,4 --null 1,3 \
        --top-k 1,3 --rank 2,4 --normalize all-selected --null-kind constant --shared-experts 1 --targets q,o,down \
        --aux eq6 --aux-coef 0.05 --seed 4
    variant_fixture variant_layers_topp_molora 45 "$V --seed 45" --adapter molora --experts 2,3 --top-k 1,2 \
        --rank 4,2 --routing top-p --top-p 0.6 --targets k,v,gate --aux vanilla --aux-coef 0.05 --seed 5
    variant_fixture variant_expert_choice 46 "$V --seed 46" --adapter adamoe --experts 5 --null 2 --top-k 2 \
        --routing expert-choice --null-kind constant --targets q,o,up --aux eq6 --aux-coef 0.05 --seed 6
    variant_fixture variant_expert_choice_layers 47 "$V --seed 47" --adapter molora --experts 4,2 --top-k 1,2 \
        --routing expert-choice --shared-experts 1 --targets v,down --aux none --seed 7
    variant_fixture variant_stochastic_eval 48 "$V --seed 48" --adapter adamoe --experts 3 --null 1 --top-k 2 \
        --routing stochastic --null-kind constant --shared-experts 1 --targets q,up --aux eq6 --aux-coef 0.05 --seed 8
    V3="--format hf --dim 8 --layers 3 --heads 2 --kv-heads 1 --hidden 16 --vocab 32"
    variant_fixture variant_pregate_adamoe 49 "$V3 --seed 49" --adapter adamoe --experts 3 --null 2 --top-k 2 \
        --pregate --targets q,k,v,o,gate,up,down --aux eq6 --aux-coef 0.05 --seed 9
    variant_fixture variant_pregate_topp_layers 50 "$V3 --seed 50" --adapter molora --experts 2,3,2 --top-k 1,2,1 \
        --rank 2,4,2 --routing top-p --top-p 0.6 --pregate --shared-experts 1 --targets q,o,down --aux vanilla \
        --aux-coef 0.05 --seed 10
}
if [ "${1:-}" = variants ]; then
    variant_fixtures
    exit 0
fi

# Model-family fixtures (Llama 3.x rope_scaling "llama3", Qwen2 / Llama attention_bias biases):
# tests/nn/test_golden_parity.c (llama3_*, qwen2_*: rebuilt from args) and
# tests/nn/test_golden_families.c (every family fixture's greedy generation, gen.json; and the
# family_torch_* ones, whose model/ and adapter/ torch_ref.py wrote and which are kept).
# Sequences are longer than original_max_position_embeddings (64 here), and with head_dim 16 and
# theta 500000 the wavelengths 2*pi*theta^(2j/16) = 6.3, 32.5, 168, ... fall in all three llama3
# regimes (< 64/4 unchanged, 16..64 smoothed, > 64 divided by the factor). families_ref.py (next to
# this script) writes the tokens and generates greedily in float32 and float64 (refusing near ties).
FREF=$ROOT/tests/golden/families_ref.py
# family_fixture NAME TOKEN_SEED T STEPS MAKE_TINY_ARGS...
family_fixture() {
    name=$1; tseed=$2; len=$3; steps=$4; shift 4
    dir=tests/golden/$name; work=$TMP/$name
    rm -rf "$dir" "$work"; mkdir -p "$dir" "$work"
    echo "$*" > "$dir/args"
    ./train make-tiny --out "$work/model" --adapter-out "$work/adapter" "$@" >/dev/null
    vocab=$(echo "$*" | sed -n 's/.*--vocab \([0-9]*\).*/\1/p')
    TORCH_REF=$REF "$PY" "$FREF" tokens --vocab "$vocab" --batch 2 --len "$len" --seed "$tseed" --out "$dir/tokens.json"
    cp "$dir/tokens.json" "$work/tokens.json"
    (cd "$work" && "$PY" "$REF" forward-backward --model model --adapter-dir adapter --tokens tokens.json \
        --json-out out.json --grads-out grads.safetensors --grads-dtype f32 >/dev/null &&
     TORCH_REF=$REF "$PY" "$FREF" generate --model model --adapter-dir adapter --tokens tokens.json \
        --steps "$steps" --out gen.json)
    cp "$work/out.json" "$work/grads.safetensors" "$work/gen.json" "$dir/"
    echo "$name: $(grep '"loss"' "$dir/out.json") $(cat "$dir/gen.json" | sed 's/.*min_margin/min_margin/')"
}
# family_torch_fixture NAME TOKEN_SEED T STEPS "TORCH_MAKE_TINY_ARGS" "INIT_ADAPTER_ARGS"
family_torch_fixture() {
    name=$1; tseed=$2; len=$3; steps=$4; margs=$5; aargs=$6
    dir=tests/golden/$name
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && "$PY" "$REF" make-tiny --out model $margs >/dev/null &&
     "$PY" "$REF" init-adapter --model model --out adapter $aargs >/dev/null)
    vocab=$(echo "$margs" | sed -n 's/.*--vocab \([0-9]*\).*/\1/p')
    TORCH_REF=$REF "$PY" "$FREF" tokens --vocab "$vocab" --batch 2 --len "$len" --seed "$tseed" --out "$dir/tokens.json"
    (cd "$dir" && "$PY" "$REF" forward-backward --model model --adapter-dir adapter --tokens tokens.json \
        --json-out out.json --grads-out grads.safetensors --grads-dtype f32 >/dev/null &&
     TORCH_REF=$REF "$PY" "$FREF" generate --model model --adapter-dir adapter --tokens tokens.json \
        --steps "$steps" --out gen.json)
    echo "$name (torch-written): $(grep '"loss"' "$dir/out.json") $(cat "$dir/gen.json" | sed 's/.*min_margin/min_margin/')"
}
family_fixtures() {
    L3="--format hf --dim 64 --layers 2 --heads 4 --kv-heads 2 --hidden 128 --vocab 256 --seq-len 128 \
        --rope-theta 500000 --rope-scaling llama3 --rope-low 1 --rope-high 4 --rope-orig 64"
    family_fixture llama3_lora_f32 61 72 64 $L3 --rope-factor 32 --seed 61 --rank 8 --alpha 16 \
        --targets q,k,v,o,gate,up,down --nonzero-b
    family_fixture llama3_adamoe_bias 62 72 64 $L3 --rope-factor 8 --attention-bias --seed 62 --rank 4 \
        --alpha 8 --targets q,k,v,o,gate,up,down --nonzero-b --adapter adamoe --experts 3 --null 2 --top-k 3 \
        --aux eq6 --aux-coef 0.05
    family_fixture qwen2_lora_hd20 63 40 32 --format hf --arch qwen2 --rope-theta 1000000 --tied --head-dim 20 \
        --dim 48 --layers 2 --heads 4 --kv-heads 2 --hidden 96 --vocab 211 --seq-len 64 --seed 63 --rank 4 \
        --alpha 8 --targets q,k,v,o,gate,up,down --nonzero-b
    family_fixture qwen2_adamoe_bf16 64 40 32 --format hf --dtype bf16 --arch qwen2 --rope-theta 1000000 \
        --dim 32 --layers 2 --heads 4 --kv-heads 1 --hidden 64 --vocab 150 --seq-len 64 --seed 64 --rank 2 \
        --alpha 4 --targets q,k,v,o,up,down --nonzero-b --adapter adamoe --experts 2 --null 2 --top-k 2 \
        --normalize all-selected --aux eq6 --aux-coef 0.05
    family_torch_fixture family_torch_qwen2_lora 65 40 32 \
        "--arch qwen2 --rope-theta 1000000 --dim 16 --layers 2 --heads 4 --kv-heads 2 --head-dim 6 --hidden 24 --vocab 32 --seq-len 64 --seed 65" \
        "--adapter-kind lora --targets q,k,v,o,gate,up,down --rank 2 --alpha 4 --nonzero-b --seed 5"
    family_torch_fixture family_torch_llama3_adamoe 66 72 64 \
        "--arch llama --attention-bias --rope-theta 500000 --rope-scaling llama3 --rope-factor 32 --rope-low 1 --rope-high 4 --rope-orig 64 --dim 16 --layers 2 --heads 2 --kv-heads 1 --head-dim 16 --hidden 24 --vocab 32 --seq-len 128 --seed 66" \
        "--adapter-kind adamoe --experts 3 --null 2 --top-k 3 --targets q,k,v,o,gate,up,down --rank 2 --alpha 4 --aux-coef 0.05 --nonzero-b --seed 6"
}
if [ "${1:-}" = families ]; then
    family_fixtures
    exit 0
fi

# Export fixtures (tests/nn/test_export.c): ./train make-tiny builds a model + LoRA adapter from
# NAME/args, ./train export merges them (HF, f32), and torch_ref.py forward-backward computes the
# loss of the EXPORTED model alone (no adapter) on NAME/tokens.json; the test checks that C's
# base + adapter and C's reload of its own export both give that loss. rsLoRA is covered here even
# though torch_ref.py cannot read use_rslora: PyTorch only sees the merged weights.
# export_fixture NAME TOKEN_SEED MAKE_TINY_ARGS...
export_fixture() {
    name=$1; tseed=$2; shift 2
    dir=tests/golden/$name; work=$TMP/$name
    rm -rf "$dir" "$work"; mkdir -p "$dir" "$work"
    echo "$*" > "$dir/args"
    ./train make-tiny --out "$work/model" --adapter-out "$work/adapter" "$@" >/dev/null
    vocab=$(echo "$*" | sed -n 's/.*--vocab \([0-9]*\).*/\1/p')
    TORCH_REF=$REF "$PY" "$ROOT/tests/golden/families_ref.py" tokens --vocab "$vocab" --batch 2 --len 16 \
        --seed "$tseed" --out "$dir/tokens.json"
    ./train export --model "$work/model" --adapter-dir "$work/adapter" --out "$work/merged" >/dev/null
    "$PY" "$REF" forward-backward --model "$work/merged" --tokens "$dir/tokens.json" --json-out "$dir/out.json" >/dev/null
    echo "$name: $(grep '"loss"' "$dir/out.json")"
}
export_fixtures() {
    export_fixture export_hf_rslora 71 --format hf --dtype f32 --seed 71 --dim 48 --layers 2 --heads 4 \
        --kv-heads 2 --hidden 96 --vocab 211 --rank 4 --alpha 8 --rslora --targets q,k,v,o,gate,up,down --nonzero-b
    export_fixture export_llama2c_qv_down 72 --format llama2c --version 0 --seed 72 --dim 64 --layers 2 \
        --heads 4 --kv-heads 2 --hidden 128 --vocab 300 --rank 8 --alpha 16 --targets q,v,down --nonzero-b
}
if [ "${1:-}" = export ]; then
    export_fixtures
    exit 0
fi

# Quantised-base fixtures (tests/nn/test_golden_quant.c): ./train make-tiny builds the model +
# adapter from NAME/args; tests/golden/quant_ref.py (our own PyTorch reference of NF4 / int8 storage,
# on top of torch_ref.py) quantises the base as NAME/base_args says and computes loss and adapter
# gradients; the test rebuilds the model in C, loads it with the same --base-dtype and compares.
# quant_fixture NAME TOKEN_SEED "BASE_ARGS" MAKE_TINY_ARGS...
quant_fixture() {
    name=$1; tseed=$2; bargs=$3; shift 3
    dir=tests/golden/$name; work=$TMP/$name
    rm -rf "$dir" "$work"; mkdir -p "$dir" "$work"
    echo "$*" > "$dir/args"
    echo "$bargs" > "$dir/base_args"
    ./train make-tiny --out "$work/model" --adapter-out "$work/adapter" "$@" >/dev/null
    vocab=$(echo "$*" | sed -n 's/.*--vocab \([0-9]*\).*/\1/p')
    TORCH_REF=$REF "$PY" "$ROOT/tests/golden/families_ref.py" tokens --vocab "$vocab" --batch 2 --len 16 \
        --seed "$tseed" --out "$dir/tokens.json"
    TORCH_REF=$REF "$PY" "$ROOT/tests/golden/quant_ref.py" forward-backward --model "$work/model" \
        --adapter-dir "$work/adapter" --tokens "$dir/tokens.json" $bargs --json-out "$dir/out.json" \
        --grads-out "$dir/grads.safetensors" >/dev/null
    echo "$name: $(grep '"loss"' "$dir/out.json")"
}
quant_fixtures() {
    quant_fixture quant_nf4_hf_lora 81 "--base-dtype nf4" --format hf --dtype f32 --seed 81 --dim 64 \
        --layers 2 --heads 4 --kv-heads 2 --hidden 96 --vocab 200 --rank 4 --alpha 8 \
        --targets q,k,v,o,gate,up,down --nonzero-b
    quant_fixture quant_nf4nodq_llama2c_adamoe 82 "--base-dtype nf4-nodq" --format llama2c --version 0 \
        --seed 82 --dim 48 --layers 2 --heads 4 --kv-heads 2 --hidden 80 --vocab 150 --rank 4 --alpha 8 \
        --targets q,v,o,down --nonzero-b --adapter adamoe --experts 3 --null 2 --top-k 2 --aux eq6 --aux-coef 0.05
    quant_fixture quant_int8_hf_bf16_lora 83 "--base-dtype int8" --format hf --dtype bf16 --seed 83 --dim 32 \
        --layers 2 --heads 4 --kv-heads 1 --hidden 64 --vocab 120 --tied --rank 8 --alpha 16 \
        --targets q,k,v,o,gate,up,down --nonzero-b
    quant_fixture quant_mixtral_nf4_experts_int8 84 "--base-dtype nf4 --expert-dtype int8" --format hf \
        --arch mixtral --model-experts 4 --model-top-k 2 --seed 84 --dim 32 --layers 2 --heads 4 --kv-heads 2 \
        --hidden 64 --vocab 100 --rank 2 --alpha 4 --targets q,v --nonzero-b
}
if [ "${1:-}" = quant ]; then
    quant_fixtures
    exit 0
fi

# fixture NAME TOKEN_SEED MAKE_TINY_ARGS...
fixture() {
    name=$1; tseed=$2; shift 2
    dir=tests/golden/$name
    work=$TMP/$name
    mkdir -p "$dir" "$work"
    echo "$*" > "$dir/args"
    ./train make-tiny --out "$work/model" --adapter-out "$work/adapter" "$@" >/dev/null
    # B = 2 sequences of T = 12 ids below the vocabulary, a few targets masked with -100
    "$PY" - "$dir/tokens.json" "$tseed" "$@" <<'PYEOF'
import json, random, sys
out, seed, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
vocab = int(args[args.index("--vocab") + 1]) if "--vocab" in args else 300
rng = random.Random(seed)
B, T = 2, 12
inputs = [[rng.randrange(vocab) for _ in range(T)] for _ in range(B)]
targets = [row[1:] + [rng.randrange(vocab)] for row in inputs]
for b, t in [(0, 0), (0, 5), (1, 2), (1, 3), (1, 11)]:
    targets[b][t] = -100
with open(out, "w") as f:
    f.write(json.dumps({"inputs": inputs, "targets": targets}) + "\n")
PYEOF
    cp "$dir/tokens.json" "$work/tokens.json"
    (cd "$work" && "$PY" "$REF" forward-backward --model model --adapter-dir adapter --tokens tokens.json \
        --json-out out.json --grads-out grads.safetensors --grads-dtype f32 >/dev/null)
    cp "$work/out.json" "$work/grads.safetensors" "$dir/"
    echo "$name: $(grep '"loss"' "$dir/out.json")"
}

fixture llama2c_v0_gqa_untied 1 --format llama2c --version 0 --seed 11 --dim 64 --layers 2 --heads 4 \
    --kv-heads 2 --hidden 160 --vocab 300 --rank 8 --alpha 16 --targets q,k,v,o,gate,up,down --nonzero-b
fixture hf_f32_gqa3_tied 2 --format hf --dtype f32 --tied --seed 12 --dim 48 --layers 2 --heads 6 \
    --kv-heads 2 --hidden 128 --vocab 257 --rank 8 --alpha 16 --targets q,k,v,o,gate,up,down --nonzero-b
fixture hf_bf16_mha 3 --format hf --dtype bf16 --seed 13 --dim 32 --layers 3 --heads 4 --kv-heads 4 \
    --hidden 96 --vocab 200 --rank 4 --alpha 8 --targets q,k,v,o,gate,up,down --nonzero-b
fixture llama2c_v1_qv_zero_b 4 --format llama2c --version 1 --tied --seed 14 --dim 64 --layers 2 --heads 4 \
    --kv-heads 1 --hidden 160 --vocab 300 --rank 4 --alpha 8 --targets q,v
fixture hf_f32_qv_r16 5 --format hf --dtype f32 --seed 15 --dim 64 --layers 2 --heads 8 --kv-heads 2 \
    --hidden 112 --vocab 300 --rank 16 --alpha 8 --targets q,v --nonzero-b
fixture hf_f32_molora_e3k2 6 --format hf --dtype f32 --seed 16 --dim 48 --layers 2 --heads 4 --kv-heads 2 \
    --hidden 96 --vocab 211 --rank 4 --alpha 8 --targets q,k,v,o,gate,up,down --nonzero-b \
    --adapter molora --experts 3 --top-k 2 --aux vanilla --aux-coef 0.01
fixture llama2c_adamoe_m4k4_eq6 7 --format llama2c --version 0 --seed 17 --dim 64 --layers 2 --heads 4 \
    --kv-heads 2 --hidden 128 --vocab 300 --rank 4 --alpha 8 --targets q,k,v,o,gate,up,down --nonzero-b \
    --adapter adamoe --experts 4 --null 4 --top-k 4 --aux eq6 --aux-coef 0.05
fixture hf_adamoe_allsel_identity 8 --format hf --dtype f32 --seed 18 --dim 32 --layers 3 --heads 4 \
    --kv-heads 2 --hidden 64 --vocab 150 --rank 2 --alpha 4 --targets q,o,up,down --nonzero-b \
    --adapter adamoe --experts 2 --null 3 --top-k 3 --normalize all-selected --null-kind identity \
    --aux eq6 --aux-coef 0.1

# Mixtral fixtures (tests/nn/test_golden_mixtral.c): model and adapter come from torch_ref.py itself
# (make-tiny --arch mixtral, init-adapter --adapter-kind moe-ffn) and are kept (a few tens of KB).
# mixtral_fixture NAME TOKEN_SEED "MAKE_TINY_ARGS" ["INIT_ADAPTER_ARGS"]
mixtral_fixture() {
    name=$1; tseed=$2; margs=$3; aargs=${4:-}
    dir=tests/golden/$name
    rm -rf "$dir"; mkdir -p "$dir"
    "$PY" "$REF" make-tiny --arch mixtral --out "$dir/model" $margs >/dev/null
    "$PY" - "$dir/tokens.json" "$tseed" <<'PYEOF'
import json, random, sys
rng = random.Random(int(sys.argv[2]))
B, T, V = 2, 12, 32
inputs = [[rng.randrange(V) for _ in range(T)] for _ in range(B)]
targets = [row[1:] + [rng.randrange(V)] for row in inputs]
targets[0][0] = targets[1][3] = -100
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"inputs": inputs, "targets": targets}) + "\n")
PYEOF
    ad=""
    if [ -n "$aargs" ]; then
        "$PY" "$REF" init-adapter --model "$dir/model" --out "$dir/adapter" $aargs >/dev/null
        ad="--adapter-dir $dir/adapter --grads-out $dir/grads.safetensors --grads-dtype f32"
    fi
    "$PY" "$REF" forward-backward --model "$dir/model" --tokens "$dir/tokens.json" --json-out "$dir/out.json" $ad >/dev/null
    echo "$name: $(grep '"loss"' "$dir/out.json")"
}
# the same, but model + adapter written by the C code (./train make-tiny --arch mixtral)
mixtral_c_fixture() {
    name=$1; tseed=$2; shift 2
    mixtral_fixture "$name" "$tseed" "--dim 16 --layers 1 --heads 2 --kv-heads 2 --hidden 8 --vocab 32" >/dev/null   # tokens.json
    rm -rf "tests/golden/$name/model"
    ./train make-tiny --out "tests/golden/$name/model" --adapter-out "tests/golden/$name/adapter" "$@" >/dev/null
    "$PY" "$REF" forward-backward --model "tests/golden/$name/model" --adapter-dir "tests/golden/$name/adapter" \
        --tokens "tests/golden/$name/tokens.json" --json-out "tests/golden/$name/out.json" \
        --grads-out "tests/golden/$name/grads.safetensors" --grads-dtype f32 >/dev/null
    echo "$name (C-written): $(grep '"loss"' "tests/golden/$name/out.json")"
}
MIX="--dim 16 --layers 2 --heads 4 --kv-heads 2 --hidden 24 --vocab 32 --experts 4 --top-k 2"
mixtral_fixture mixtral_base_e4k2 21 "$MIX --seed 21"
mixtral_fixture mixtral_moeffn_m3k3_random 22 "$MIX --seed 22" \
    "--adapter-kind moe-ffn --targets q,gate,up,down --rank 2 --alpha 4 --null 3 --top-k 3 --gate2-init random --aux-coef 0.1 --nonzero-b --seed 5"
mixtral_fixture mixtral_moeffn_m2k3_allsel_identity 23 "$MIX --seed 23 --tied" \
    "--adapter-kind moe-ffn --targets gate,down --rank 2 --alpha 4 --null 2 --top-k 3 --normalize all-selected --null-kind identity --gate2-init random --aux vanilla --aux-coef 0.05 --nonzero-b --seed 6"
mixtral_c_fixture mixtral_c_lora_q_gate_down 24 --format hf --arch mixtral --model-experts 4 --model-top-k 2 \
    --dim 16 --layers 2 --heads 4 --kv-heads 2 --hidden 24 --vocab 32 --seed 3 --targets q,gate,down --rank 2 \
    --alpha 4 --nonzero-b
mixtral_c_fixture mixtral_c_moeffn_copy_m5k4 25 --format hf --arch mixtral --model-experts 4 --model-top-k 2 \
    --dim 16 --layers 2 --heads 4 --kv-heads 2 --hidden 24 --vocab 32 --seed 4 --adapter moe-ffn --null 5 \
    --top-k 4 --gate2-init copy --targets v,up --rank 2 --alpha 4 --nonzero-b --aux-coef 0.05

variant_fixtures
family_fixtures
export_fixtures
quant_fixtures

echo "torch: $("$PY" -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)')"
du -sh tests/golden
