#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of outside data (fuzz/targets.cpp), with libFuzzer,
# AddressSanitizer and UBSan (clang from Debian). Builds build-fuzz/ first.
#
#   scripts/fuzz.sh smoke          each target over its seeds and regressions, then a fixed number of
#                                  mutations (what CI runs; about a minute)
#   scripts/fuzz.sh long [RUNS]    each target for RUNS executions (default 1000000): the figures in
#                                  the README
#   scripts/fuzz.sh coverage       the line coverage of each target's parser sources that its corpus
#                                  (build-fuzz/corpus, grown by the runs above) reaches (llvm-cov)
#   scripts/fuzz.sh TARGET [ARGS]  one target with libFuzzer's own ARGS (e.g. -max_total_time=600)
#
# A finding (crash, sanitizer report, leak, timeout, out-of-memory) stops the run with status 1 and
# leaves its input in build-fuzz/findings/: add it to fuzz/regressions/<target>/ before fixing it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${STYLENET_FUZZ_BUILD:-$root/build-fuzz}"
mode="${1:-smoke}"
"$root/scripts/install-deps.sh" --fuzz
targets=(pth zip safetensors npy json model checkpoint image)

# The parser sources each target exercises (what `coverage` reports on).
declare -A sources=([pth]="weights/pth.cpp weights/pickle.cpp" [zip]="weights/zip_reader.cpp"
  [safetensors]="weights/safetensors.cpp" [npy]="weights/npy.cpp" [json]="weights/json.cpp"
  [model]="stylenet/style_model.cpp" [checkpoint]="weights/checkpoint.cpp training/train_options.cpp"
  [image]="vision/image.cpp")
if [ "$mode" = coverage ]; then
  cov="$build-cov"
  cmake -S "$root" -B "$cov" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DSTYLENET_FUZZ=ON -DSTYLENET_FUZZ_COVERAGE=ON -DSTYLENET_BUILD_TESTS=OFF -DSTYLENET_BUILD_BENCH=OFF >/dev/null
  ninja -C "$cov" -j"$(nproc)" "${targets[@]/#/fuzz_}" >/dev/null
  printf "%-12s %8s  %s\n" target inputs "line coverage of its parser sources"
  for t in "${targets[@]}"; do
    rm -f "$cov/$t".prof*
    LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/fuzz/fuzz_$t" -runs=0 -max_len=2000000 "$build/corpus/$t" >/dev/null 2>&1
    llvm-profdata merge -o "$cov/$t.profdata" "$cov/$t.profraw"
    files=()
    for f in ${sources[$t]}; do files+=("$root/$f"); done
    report=$(llvm-cov report "$cov/fuzz/fuzz_$t" -instr-profile="$cov/$t.profdata" "${files[@]}" |
             awk '$1 ~ /\.cpp$/ {n=split($1, p, "/"); printf "%s %s, ", p[n], $10}')
    printf "%-12s %8s  %s\n" "$t" "$(ls "$build/corpus/$t" | wc -l)" "${report%, }"
  done
  exit 0
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSTYLENET_FUZZ=ON -DSTYLENET_BUILD_TESTS=OFF -DSTYLENET_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" -j"$(nproc)" make_seeds "${targets[@]/#/fuzz_}" >/dev/null

mkdir -p "$build/findings"
# UBSan's reports stop a run, but for the two in Debian's stb 2.27 named in fuzz/ubsan.supp.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/fuzz/ubsan.supp"
rm -rf "$build/seeds" && "$build/fuzz/make_seeds" "$build/seeds"
# Runs one target; prints "target executions coverage features corpus seconds".
run_target() {  # name, libFuzzer args...
  local name="$1"; shift
  local corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  cp -n "$build/seeds/$name"/* "$corpus"/ 2>/dev/null || true
  [ -d "$root/fuzz/regressions/$name" ] && cp -n "$root/fuzz/regressions/$name"/* "$corpus"/
  local log="$build/findings/$name.log" t0=$SECONDS
  # Model files and checkpoints: inputs up to 64 KB, where the metadata seeds lie (the whole-file
  # seeds, 1.5 MB of weights, run in a pass of their own: `long`, or -max_len=2000000).
  local max_len=4096
  [[ $name == model || $name == checkpoint ]] && max_len=65536
  if ! "$build/fuzz/fuzz_$name" -max_len=$max_len -dict="$root/fuzz/dict/$name.dict" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/findings/$name-" -print_final_stats=1 "$@" "$corpus" >"$log" 2>&1; then
    echo "FINDING in $name (log: $log):" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5 >&2
    return 1
  fi
  local execs cov ft corp
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  printf "%-12s %12s %8s %9s %8s %8s\n" "$name" "$execs" "$cov" "$ft" "$corp" "$((SECONDS - t0))"
}

printf "%-12s %12s %8s %9s %8s %8s\n" target executions edges features corpus seconds
case "$mode" in
  smoke)
    for t in "${targets[@]}"; do
      runs=50000
      [[ $t == model || $t == checkpoint ]] && runs=3000
      run_target "$t" -runs=$runs -seed=1
    done ;;
  long)
    for t in "${targets[@]}"; do run_target "$t" -runs="${2:-1000000}"; done
    # Whole model files and checkpoints (megabytes each, about 150 inputs a second).
    for t in model checkpoint; do run_target "$t" -max_len=2000000 -runs=100000; done ;;
  *)
    run_target "$@" ;;
esac
echo "no findings (ASan, UBSan, leaks, timeouts of 10 s, 2 GiB memory limit)"
