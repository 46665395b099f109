#!/bin/sh
# bench/compare.sh — `make bench-compare`: every training-step mode at 1 and 2 threads, ours
# (`./train bench --mode M --json`) next to PyTorch (../shared/tools/bench_torch/torch_llama.py, the
# same keys and FLOP formula), run one after the other per (mode, threads) so both see the same
# machine; then the Load-vs-time ratios (`--expert-time`, loss on all tokens and on the answer
# only), rendered as Markdown into README.md between the bench-compare markers.
# PyTorch runs when /usr/bin/python3 can import torch (Debian: apt-get install -y python3-torch
# python3-numpy), in the tuned environment of bench_torch/README.md (jemalloc when installed);
# otherwise its columns say "not run" and a note says why.
# % of peak = achieved GFLOP/s / (threads x one core's FMA peak loop in CPU time), the hardware
# ceiling even when other processes share the machine; measured by each of our runs just before and
# after its timed steps (the better of the two: the clock this VM gives moves by ~10 % over minutes,
# 254-285 GFLOP/s seen), and PyTorch's % uses the peak of our run of the same configuration.
# Ours runs BENCH_REPEAT times (3) per configuration, the repetitions one after the other over all
# modes; the table takes the run of median step time of each (a single run moves by +-3-5 % on a
# shared 2-vCPU machine, as much as the Load limits' margins). PyTorch runs once.
# Environment: TRAIN (./train), TORCH_DIR, BENCH_STEPS (12), BENCH_WARMUP (3), BENCH_THREADS ("1 2"),
# BENCH_REPEAT (3), BENCH_MODES, BENCH_OUT (runs/bench-compare), README (README.md; "-" = do not edit it),
# BENCH_RENDER_ONLY=1 (render the table again from the JSON lines already in BENCH_OUT).
set -eu
TRAIN=${TRAIN:-./train}
TORCH_DIR=${TORCH_DIR:-../shared/tools/bench_torch}
STEPS=${BENCH_STEPS:-12}
WARMUP=${BENCH_WARMUP:-3}
THREADS=${BENCH_THREADS:-"1 2"}
REPEAT=${BENCH_REPEAT:-3}
MODES=${BENCH_MODES:-"full lora molora adamoe moe moe_null"}
OUT=${BENCH_OUT:-runs/bench-compare}
README=${README:-README.md}
PY=/usr/bin/python3

mkdir -p "$OUT"
render_only=${BENCH_RENDER_ONLY:-0}
[ "$render_only" = 1 ] || { : > "$OUT/ours.jsonl"; : > "$OUT/torch.jsonl"; }
torch_note=""
if [ -f "$TORCH_DIR/torch_llama.py" ] && [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then
    have_torch=1
else
    have_torch=0
    torch_note="PyTorch not run: $PY cannot import torch or $TORCH_DIR/torch_llama.py is missing (apt-get install -y python3-torch python3-numpy)."
    echo "bench-compare: $torch_note" >&2
fi
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2

run_torch() {   # mode threads
    if [ -f "$JEMALLOC" ]; then
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_PRELOAD="$JEMALLOC" \
            MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 GOMP_SPINCOUNT=10000 OPENBLAS_THREAD_TIMEOUT=4 \
            "$PY" "$TORCH_DIR/torch_llama.py" --mode "$1" --batch 8 --seq 128 --threads "$2" \
            --warmup "$WARMUP" --steps "$STEPS"
    else
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE GOMP_SPINCOUNT=10000 OPENBLAS_THREAD_TIMEOUT=4 \
            "$PY" "$TORCH_DIR/torch_llama.py" --mode "$1" --batch 8 --seq 128 --threads "$2" \
            --warmup "$WARMUP" --steps "$STEPS"
    fi
}

if [ "$render_only" = 1 ]; then
    load_before=$(cat "$OUT/load" 2>/dev/null || echo "?")
    load_after=""
    THREADS=""
else
    "$TRAIN" bench --peak --json > "$OUT/peak.jsonl"
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
fi
for t in $THREADS; do
    for r in $(seq "$REPEAT"); do
        for m in $MODES; do
            echo "bench-compare: $m, $t thread(s), run $r of $REPEAT" >&2
            "$TRAIN" bench --mode "$m" --threads "$t" --warmup "$WARMUP" --steps "$STEPS" --expert-time --json \
                >> "$OUT/ours.jsonl"
            if [ "$have_torch" = 1 ] && [ "$r" = 1 ]; then
                run_torch "$m" "$t" 2>> "$OUT/torch.err" | tail -n 1 >> "$OUT/torch.jsonl" ||
                    echo "bench-compare: PyTorch $m at $t thread(s) failed (see $OUT/torch.err)" >&2
            fi
        done
        for m in $MODES; do
            case $m in molora|adamoe|moe|moe_null) ;; *) continue ;; esac
            "$TRAIN" bench --mode "$m" --threads "$t" --warmup "$WARMUP" --steps "$STEPS" --expert-time \
                --loss-on answer --json >> "$OUT/ours.jsonl"
        done
    done
done
if [ "$render_only" != 1 ]; then
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "$load_before -> $load_after" > "$OUT/load"
    load_after=""
fi

awk -v note="$torch_note" -v cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    -v ncpu="$(nproc)" -v load="$load_before$load_after" -v steps="$STEPS" -v warmup="$WARMUP" -v repeat="$REPEAT" '
function get(line, key,    v) {
    if (!match(line, "\"" key "\": *(\"[^\"]*\"|[^,}]*)")) return ""
    v = substr(line, RSTART, RLENGTH); sub(/^[^:]*: */, "", v); gsub(/"/, "", v); return v
}
FILENAME ~ /peak/ { core = get($0, "cpu_gflops_per_core"); next }
{
    k = get($0, "mode") SUBSEP get($0, "threads")
    if (FILENAME ~ /torch/) { T[k] = $0; next }
    lo = get($0, "loss_on"); if (lo == "") lo = "all"
    R[k, lo, ++nr[k, lo]] = $0    # every repetition; O[k, lo] = the one of median step time (END)
    if (lo == "all") { if (!(get($0, "threads") in seen)) { seen[get($0, "threads")] = 1; th[++nth] = get($0, "threads") } }
}
function peak_of(line,    p) {   # ours: the peak loop measured beside the run itself; else the one at the start
    p = get(line, "peak_cpu_gflops_per_core")
    if (p != "" && p + 0 > 0) { p += 0; if (pmin == "" || p < pmin) pmin = p; if (p > pmax) pmax = p; return p }
    return core
}
function pct(line, t, c) { return c > 0 ? sprintf("%.0f", 100 * get(line, "achieved_gflops") / (t * c)) : "?" }
function pct_cpu(line, t,    c) {   # ours at 1 thread: the same FLOPs over the process CPU time of the step
    c = peak_of(line)
    if (t != 1 || get(line, "step_cpu_ms_median") == "" || c <= 0) return "-"
    return sprintf("%.0f", 100 * get(line, "model_gflop_per_step") / (get(line, "step_cpu_ms_median") * 1e-3) / c)
}
function ms(line) { return sprintf("%.0f", get(line, "step_ms_median")) }
function clockms(line, t) {   # 1 thread: CPU time; more: critical-path CPU time (wall when absent)
    if (t == 1) return get(line, "step_cpu_ms_median")
    return get(line, "step_critical_ms_median") != "" ? get(line, "step_critical_ms_median") : get(line, "step_ms_median")
}
function ratio_row(base, mode, lo, t,    b, a, load, er, sr, share, target, wr) {
    b = O[base SUBSEP t, lo]; a = O[mode SUBSEP t, lo]
    if (b == "" || a == "") return
    load = get(a, "true_experts_per_token")
    er = get(a, "expert_ms") / get(b, "expert_ms")
    sr = clockms(a, t) / clockms(b, t)
    share = get(b, "expert_ms") / clockms(b, t)
    target = 1 - share * (1 - load / 2) + 0.02
    wr = get(a, "step_ms_median") / get(b, "step_ms_median")
    printf "| %s / %s | %s | %d | %.3f | %.3f | %.3f %s | %.1f %% | %.3f | %.3f %s | %.3f |\n", mode, base, lo, t, load / 2,
        1.05 * load / 2, er, (er <= 1.05 * load / 2 ? "met" : "NOT met"), 100 * share, target, sr,
        (sr <= target ? "met" : "NOT met"), wr
}
function median_runs(    key, n, i, j, tmp, parts) {
    for (key in nr) {
        n = nr[key]
        for (i = 1; i <= n; i++) idx[i] = i
        for (i = 2; i <= n; i++)   # insertion sort of the runs by step time
            for (j = i; j > 1 && get(R[key, idx[j]], "step_ms_median") + 0 < get(R[key, idx[j - 1]], "step_ms_median") + 0; j--) {
                tmp = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = tmp
            }
        split(key, parts, SUBSEP)
        O[parts[1], parts[2], parts[3]] = R[key, idx[int((n + 1) / 2)]]
    }
}
END {
    median_runs()
    nm = split("full lora molora adamoe moe moe_null", modes, " ")
    printf "| mode | threads | ours ms | ours %% of peak (in CPU time) | PyTorch ms | PyTorch %% of peak | speed-up | peak RSS ours / PyTorch (MB) |\n"
    printf "|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= nth; i++) for (j = 1; j <= nm; j++) {
        t = th[i]; k = modes[j] SUBSEP t; o = O[k, "all"]
        if (o == "") continue
        p = T[k]
        if (p != "") {
            printf "| %s | %d | %s | %s (%s) | %s | %s | %.2fx | %.0f / %.0f |\n", modes[j], t, ms(o), pct(o, t, peak_of(o)),
                pct_cpu(o, t), ms(p), pct(p, t, peak_of(o)), get(p, "step_ms_median") / get(o, "step_ms_median"),
                get(o, "peak_rss_mb"), get(p, "peak_rss_mb")
        } else {
            printf "| %s | %d | %s | %s (%s) | not run | | | %.0f / - |\n", modes[j], t, ms(o), pct(o, t, peak_of(o)), pct_cpu(o, t),
                get(o, "peak_rss_mb")
        }
    }
    printf "\nRouted-expert time and whole step against the Load (ours; 1 thread: CPU time, 2 threads: critical-path\n"
    printf "CPU time, each parallel region counted as its longest part (tensor/threads.h); expert time = the routed\n"
    printf "experts\x27 forward work + the backward of their tape entries; the last column is the wall-clock step ratio):\n\n"
    printf "| pair | loss on | threads | Load/2 | limit 1.05·Load/2 | expert-time ratio | expert share of the baseline step | step limit 1 − share·(1 − Load/2) + 0.02 | step ratio | step ratio, wall |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= nth; i++) for (l = 1; l <= 2; l++) {
        lo = l == 1 ? "all" : "answer"
        ratio_row("molora", "adamoe", lo, th[i]); ratio_row("moe", "moe_null", lo, th[i])
    }
    printf "\nMeasured by `make bench-compare` (%s, %d vCPU; FMA peak loop %.0f GFLOP/s per core in CPU time at the start", cpu, ncpu, core
    if (pmax > 0) printf ", %.0f-%.0f beside our runs (their %% of peak is against their own)", pmin, pmax
    printf ";\n"
    printf "stories15M shape, batch 8 x 128, median of %d steps after %d warm-up steps; ours: the run of median step time\n", steps, warmup
    printf "of %d per configuration; load average %s).\n", repeat, load
    if (note != "") printf "%s\n", note
}' "$OUT/peak.jsonl" "$OUT/ours.jsonl" "$OUT/torch.jsonl" > "$OUT/speed.md"
cat "$OUT/speed.md"

if [ "$README" != "-" ] && [ -f "$README" ] && grep -q '<!-- bench-compare:begin -->' "$README"; then
    awk -v f="$OUT/speed.md" '
        /<!-- bench-compare:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- bench-compare:end -->/ { skip = 0 }
        !skip { print }' "$README" > "$README.tmp" && mv "$README.tmp" "$README"
    echo "bench-compare: $README updated between the bench-compare markers" >&2
fi
