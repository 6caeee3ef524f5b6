#!/usr/bin/env bash
# StyleNet vs PyTorch on the same VGG16 workloads, side by side in one run.
#
#   scripts/bench-vs-torch.sh [REPS]        (default 5 timed repetitions after 3 warm-ups)
#
# The VGG16 workloads get three warm-ups on both sides (STYLENET_BENCH_WARMUP; stylize one):
# StyleNet's weight cache keeps a layer's transformed weights from their second use on
# (tensor/cpu/weight_cache.h), so with one warm-up the first timed forward still transformed and
# cached them all, and the next one or two ran on memory this VM had only just mapped (1 thread:
# 0.12-0.15 s against 0.08-0.09 s from the fourth call on).
#
# Builds build-bench/ (Release) if needed, then for each workload runs StyleNet
# (bench/vgg_bench.cpp) and PyTorch (bench/vgg_torch.py, via /usr/bin/python3 which has torch),
# alternating one process each, and prints the medians, StyleNet/PyTorch ratios and each process's
# peak RSS. Workloads:
#   forward 224x224 batch 1, 1 thread and 2 threads   (VGG16 features, inference)
#   train   256x256 batch 4, 2 threads                (VGG16 to relu4_3, forward + backward)
#   stylize 512x512 and 1024x1024, 2 threads          (the default model, style 512x512:
#           bench/stylize_bench.cpp vs bench/stylize_torch.py; the learned single-level method,
#           the default before December 2026, multilevel, the default from then, and
#           learned-multilevel, the default since the decoder was tuned on fused features)
# Also prints the SGEMM ratio to OpenBLAS on VGG-shaped GEMMs (bench/bench_gemm.cpp).
# The machine may be shared: compare the ratios, which are measured in the same run.
# STYLENET_BENCH_PAIRS=N (default 1) runs each workload as N StyleNet/PyTorch pairs, every other
# one PyTorch first, and prints the medians over them and the median and range of the N pairs'
# ratios: on this VM the host's load changes within minutes, and one pair's ratio moved by up to
# 1.5x between runs.
# STYLENET_BENCH_ONLY=forward|train|stylize runs only that workload (and skips the SGEMM part);
# STYLENET_BENCH_STYLIZE_THREADS sets the stylize workloads' threads (default 2);
# STYLENET_BENCH_METHODS the stylize methods (default "learned multilevel learned-multilevel"); a
# method written M/unfinished runs without the finishing (stylenet/finish.h) on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${1:-5}"
WARMUP="${STYLENET_BENCH_WARMUP:-3}"
BUILD="${STYLENET_BENCH_BUILD:-build-bench}"
PY=/usr/bin/python3

if [ ! -x "$BUILD/bench/stylenet_vgg_bench" ] || [ "${STYLENET_BENCH_REBUILD:-1}" = 1 ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTYLENET_BUILD_TESTS=OFF -DSTYLENET_BUILD_BENCH=ON >/dev/null
  ninja -C "$BUILD" -j2 stylenet_vgg_bench stylenet_stylize_bench stylenet_bench_gemm >/dev/null
fi

OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
ONLY="${STYLENET_BENCH_ONLY:-}"
PAIRS="${STYLENET_BENCH_PAIRS:-1}"
run_pair() {  # workload size batch threads [method]
  if [ -n "$ONLY" ] && [ "$1" != "$ONLY" ]; then return; fi
  # Every other pair starts with PyTorch: the second process of a pair can run slower (by up to
  # 15 % on this VM for two StyleNet binaries), and neither side should always be second.
  for ((pair = 0; pair < PAIRS; ++pair)); do
    if ((pair % 2)); then run_once pytorch "$@" && run_once stylenet "$@"; else run_once stylenet "$@" && run_once pytorch "$@"; fi
  done
}
run_once() {  # stylenet|pytorch workload size batch threads [method]
  local side=$1
  shift
  local args=(--workload "$1" --size "$2" --batch "$3" --threads "$4" --reps "$REPS" --warmup "$WARMUP")
  local ours="$BUILD/bench/stylenet_vgg_bench" theirs=bench/vgg_torch.py
  if [ "$1" = stylize ]; then
    args=(--size "$2" --threads "$4" --reps "$REPS" --warmup 1 --method "${5%%/*}" --finish on)
    [ "${5#*/}" = unfinished ] && args[-1]=off
    ours="$BUILD/bench/stylenet_stylize_bench" theirs=bench/stylize_torch.py
  fi
  if [ "$side" = stylenet ]; then "$ours" "${args[@]}" >>"$OUT"; else OMP_NUM_THREADS="$4" "$PY" "$theirs" "${args[@]}" >>"$OUT"; fi
}
echo "running (reps=$REPS) ..." >&2
run_pair forward 224 1 1
run_pair forward 224 1 2
run_pair train 256 4 2
ST="${STYLENET_BENCH_STYLIZE_THREADS:-2}"
for method in ${STYLENET_BENCH_METHODS:-learned multilevel learned-multilevel}; do
  run_pair stylize 512 1 "$ST" "$method"
  run_pair stylize 1024 1 "$ST" "$method"
done

"$PY" - "$OUT" <<'PYEOF'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda r: (r["workload"], r["size"], r["batch"], r["threads"])
sn, pt = {}, {}  # key -> that side's runs, one per pair, in order
for r in rows:
    (sn if r["impl"] == "stylenet" else pt).setdefault(key(r), []).append(r)
med = statistics.median
print(f"{'workload':<34}{'StyleNet s':>11}{'PyTorch s':>11}{'ratio':>8}{'SN RSS MB':>11}{'PT RSS MB':>11}"
      f"{'SN GMAC':>9}{'of peak':>9}{'pair ratios':>15}")
for k in sn:
    s, p = sn[k], pt[k]
    ratios = [a["median_s"] / b["median_s"] for a, b in zip(s, p)]
    name = f"{k[0]} {k[1]}x{k[1]} b{k[2]} {k[3]}thr"
    arith = f"{s[0]['gmacs']:>9.2f}{med(r['of_peak'] for r in s):>9.0%}" if "gmacs" in s[0] else f"{'':>18}"
    spread = f"{min(ratios):>9.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""
    print(f"{name:<34}{med(r['median_s'] for r in s):>11.3f}{med(r['median_s'] for r in p):>11.3f}"
          f"{med(ratios):>8.2f}{max(r['peak_rss_mb'] for r in s):>11.0f}{max(r['peak_rss_mb'] for r in p):>11.0f}"
          f"{arith}{spread}")
print("ratio = median over the pairs of StyleNet median / PyTorch median (lower is better), each")
print("side's median of its timed repetitions (with STYLENET_BENCH_PAIRS > 1: the medians over the")
print("pairs, and the pairs' range of ratios);")
print("SN GMAC = multiply-adds StyleNet's kernels do (Winograd counted as done); of peak = their rate over")
print("the FMA peak measured in the same process, same ISA and threads (bench/fma_peak.h);")
print(f"StyleNet ISA: {next(iter(sn.values()))[0]['isa']}; torch {next(iter(pt.values()))[0]['torch']}")
PYEOF

[ -n "$ONLY" ] && exit 0
echo
echo "SGEMM on VGG-shaped im2col GEMMs (M=Cout, N=H*W, K=Cin*9), 2 threads, own AVX-512 vs OpenBLAS:"
"$BUILD/bench/stylenet_bench_gemm" --benchmark_filter='BM_Sgemm/conv[2-4]_2/(own_avx512|openblas)/threads:2' \
  --benchmark_repetitions=3 --benchmark_min_time=0.2 --benchmark_format=json 2>/dev/null >"$OUT.gemm" || true
"$PY" - "$OUT.gemm" <<'PYEOF'
import json, sys, statistics, collections
try:
    runs = json.load(open(sys.argv[1]))["benchmarks"]
except Exception as e:
    print("  (gemm benchmark did not run:", e, ")"); sys.exit(0)
t = collections.defaultdict(list)
for r in runs:
    if r.get("run_type") == "iteration":
        t[r["run_name"]].append(r["real_time"])
print(f"  {'shape':<10}{'own ms':>10}{'OpenBLAS ms':>13}{'OpenBLAS/own':>14}")
for name in sorted(t):
    if "/own_avx512/" not in name:
        continue
    other = name.replace("/own_avx512/", "/openblas/")
    if other not in t:
        continue
    own, ob = statistics.median(t[name]), statistics.median(t[other])
    print(f"  {name.split('/')[1]:<10}{own:>10.2f}{ob:>13.2f}{ob/own:>14.2f}")
print("  OpenBLAS/own > 1 means our SGEMM is faster (target >= 0.95 x OpenBLAS speed)")
PYEOF
rm -f "$OUT.gemm"
