#!/usr/bin/env bash
# StyleNet's CUDA backend on a lent GPU machine, in one command: build, the CUDA tests, and the GPU
# benchmarks side by side with PyTorch; a markdown table last. Made for the H200 machine of the
# device tool (/work/.library/device/README.md); finishes in under 8 minutes there, build included.
#
# How to run it, from a session whose task has a device machine:
#   1. here (no device time):  scripts/device-prep.sh   (fills the git-ignored .device/: the build
#      dependencies as .debs, the sample photos, the commit; the machine there has no network)
#   2. the device tool:  run  command "bash scripts/device-check.sh"  carry [".device"]  timeout_s 540
#   The result comes back as $OUT/device-check-<UTC stamp>.md (and .log, -build.log); it is also
#   written to bench/results/ there, which is lost with the machine: copy the returned .md from
#   files_at into bench/results/ here.
#
# Steps, each under `timeout` and inside one overall budget (STYLENET_DEVICE_BUDGET_S, default 450 s):
#   configure + build build-cuda/ (Release, STYLENET_CUDA=ON; only the targets used here), then
#   ctest -L cuda; with STYLENET_DEVICE_EXTRA=1 also the CUDA tests under compute-sanitizer's four
#   tools and `stylenet stylize` of three sample pairs on the CPU and on the GPU (PSNR between the
#   two pictures; the GPU's come back in $OUT); then (unless STYLENET_DEVICE_BENCH=0) for fp32
#   (TF32 off on both) and then TF32 on both, for each workload,
#   StyleNet then PyTorch alternating per block of repetitions (one process each):
#     VGG16 features forward 224² batch 1 and batch 32; VGG16 to relu4_3 forward+backward 256²
#     batch 8 (bench-vs-torch's 'train'); stylize (learned-multilevel, the default; style 512²) at 1024² and 2048².
# A failing step is recorded (FAILED with its exit code, in the table) and the next step still runs;
# the exit status is 1 if anything failed or was skipped for time.
#
# Settings: STYLENET_DEVICE_BUDGET_S (450), STYLENET_DEVICE_BLOCKS (2: blocks per workload and
# precision; the 2048² stylize always 1), STYLENET_TORCH_PY (the python with torch; default the
# first of python3, /usr/bin/python3 that imports it), STYLENET_COMMIT (else git, else .device/COMMIT),
# STYLENET_DATA (else ../shared, else .device), STYLENET_CMAKE_ARGS (extra configure arguments),
# STYLENET_DEVICE_EXTRA (0), STYLENET_DEVICE_BENCH (1).
set -uo pipefail  # no -e: a failing step is recorded, not fatal
cd "$(dirname "$0")/.." || exit 2

BUILD=build-cuda
BUDGET="${STYLENET_DEVICE_BUDGET_S:-450}"
RESERVE=20  # seconds kept for the summary
BLOCKS="${STYLENET_DEVICE_BLOCKS:-2}"
STAMP="$(date -u +%Y-%m-%dT%H%MZ)"
NAME="device-check-$STAMP"
WORK="$(mktemp -d)"
STEPS="$WORK/steps.tsv"  # step, rc, seconds
RUNS="$WORK/runs.tsv"    # workload, precision, impl, block, rc, seconds, json line
: >"$STEPS"
: >"$RUNS"
NPROC="$(nproc)"
ORIG_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"  # PyTorch runs with the machine's own
SN_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"    # StyleNet's: plus the carried libraries, if used
LOG="$WORK/log"
[ -n "${OUT:-}" ] && mkdir -p "$OUT" && LOG="$OUT/$NAME.log"  # comes back even if the call is cut short

log() { echo "== $*"; }
left() { echo $((BUDGET - SECONDS - RESERVE)); }

# step NAME CAP_S OUTFILE CMD...: runs CMD under timeout (CAP_S, or what is left of the budget),
# its output to OUTFILE (appended; - for ours), and records it.
step() {
  local name="$1" cap="$2" outfile="$3" t0=$SECONDS rc
  shift 3
  if [ "$(left)" -lt 10 ]; then
    log "$name: SKIPPED (out of time)"
    printf '%s\t%s\t%s\n' "$name" skipped 0 >>"$STEPS"
    return 1
  fi
  [ "$cap" -gt "$(left)" ] && cap="$(left)"
  log "$name (timeout ${cap}s)"
  if [ "$outfile" = - ]; then
    timeout -k 10 "$cap" "$@"
  else
    timeout -k 10 "$cap" "$@" >>"$outfile" 2>&1
  fi
  rc=$?
  log "$name: rc $rc, $((SECONDS - t0)) s"
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" >>"$STEPS"
  return "$rc"
}

pick_python() {
  local p
  for p in ${STYLENET_TORCH_PY:-} python3 /usr/bin/python3; do
    command -v "$p" >/dev/null && timeout 60 "$p" -c 'import torch' 2>/dev/null && { command -v "$p"; return; }
  done
  command -v python3 || echo python3
}

# The build dependencies: the machine's own, or else the .debs scripts/device-prep.sh put in
# .device/debs, unpacked into /tmp/sn-deps (never into /) and put on the search paths.
deps() {
  local missing=() inc=/usr/include p=/tmp/sn-deps f m
  [ -f $inc/eigen3/Eigen/Core ] || missing+=(eigen3)
  [ -f $inc/stb/stb_image.h ] || missing+=(stb)
  [ -f $inc/doctest/doctest.h ] || missing+=(doctest)
  [ -f $inc/benchmark/benchmark.h ] || missing+=(benchmark)
  compgen -G "/usr/lib/*/cmake/TBB/TBBConfig.cmake" >/dev/null || compgen -G "/usr/lib/cmake/TBB/TBBConfig.cmake" >/dev/null ||
    missing+=(tbb)
  { command -v pkg-config >/dev/null && pkg-config --exists openblas; } || missing+=(openblas/pkg-config)
  if [ ${#missing[@]} -eq 0 ]; then
    echo "build dependencies: the machine's own"
    return 0
  fi
  echo "build dependencies missing here: ${missing[*]}"
  if ! compgen -G ".device/debs/*.deb" >/dev/null; then
    echo "no .device/debs (run scripts/device-prep.sh here and carry .device): configure will likely fail"
    return 1
  fi
  mkdir -p "$p"
  for f in .device/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$f" "$p" || return 1
    else  # a .deb is an ar archive holding data.tar.*
      m="$(ar t "$f" | grep '^data\.tar')" && (cd "$WORK" && ar x "$OLDPWD/$f" "$m" && tar -xf "$m" -C "$p" && rm -f "$m") ||
        return 1
    fi
  done
  sed -i "s|/usr/|$p/usr/|g" "$p"/usr/lib/x86_64-linux-gnu/openblas-pthread/pkgconfig/*.pc
  sed -i "s|\"/usr\"|\"$p/usr\"|" "$p"/usr/lib/cmake/doctest/doctestTargets.cmake
  local lib="$p/usr/lib/x86_64-linux-gnu"
  export CMAKE_PREFIX_PATH="$p/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PKG_CONFIG_PATH="$lib/openblas-pthread/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export CPATH="$p/usr/include${CPATH:+:$CPATH}"  # stb has no CMake package: found as <stb/...>
  export LIBRARY_PATH="$lib:$lib/openblas-pthread${LIBRARY_PATH:+:$LIBRARY_PATH}"
  SN_LD_LIBRARY_PATH="$lib:$lib/openblas-pthread${ORIG_LD_LIBRARY_PATH:+:$ORIG_LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$SN_LD_LIBRARY_PATH"  # the build, ctest and StyleNet; PyTorch gets the original
  command -v pkg-config >/dev/null || export PATH="$PATH:$p/usr/bin"
  echo "build dependencies: carried .debs unpacked into $p"
}

header() {
  local commit="${STYLENET_COMMIT:-}"
  [ -z "$commit" ] && commit="$(git rev-parse HEAD 2>/dev/null)"
  [ -z "$commit" ] && [ -f .device/COMMIT ] && commit="$(cat .device/COMMIT) (from .device/COMMIT)"
  echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -n 4 | paste -sd ';')"
  echo "commit: ${commit:-unknown}"
  echo "host: $NPROC cores, $(uname -r)"
  echo "nvcc: $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'not found')"
  echo "cmake: $(cmake --version 2>/dev/null | head -n 1 || echo 'not found'); ninja: $(ninja --version 2>/dev/null || echo 'not found')"
  echo "python: $PY; torch: $(timeout 60 "$PY" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -n 1)"
  echo "data: $DATA_DIR"
}

# Configure, then build the targets this script uses; a target the project lacks is recorded as
# FAILED (rc missing) and the others are still built.
build() {
  local blog="$WORK/build.log" t targets=()
  # shellcheck disable=SC2086  # STYLENET_CMAKE_ARGS: several arguments
  step configure 120 "$blog" cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTYLENET_CUDA=ON \
    -DSTYLENET_BUILD_TESTS=ON -DSTYLENET_BUILD_BENCH=ON -DSTYLENET_TORCH_PYTHON="$PY" \
    -DSTYLENET_DATA_DEFAULT="$DATA_DIR" ${STYLENET_CMAKE_ARGS:-} || tail -n 40 "$blog"
  for t in stylenet_cuda_tests stylenet stylenet_vgg_bench stylenet_stylize_bench; do
    if [ ! -f "$BUILD/build.ninja" ] || grep -q "^build $t: phony" "$BUILD/build.ninja"; then
      targets+=("$t")
    else
      log "target $t: not in $BUILD/build.ninja"
      printf '%s\t%s\t%s\n' "target $t" missing 0 >>"$STEPS"
    fi
  done
  if step build 330 "$blog" cmake --build "$BUILD" -j "$NPROC" --target "${targets[@]}"; then
    tail -n 2 "$blog"
  else
    grep -E -m 30 'error|FAILED' "$blog"
    tail -n 20 "$blog"
  fi
  [ -n "${OUT:-}" ] && cp "$blog" "$OUT/$NAME-build.log"
}

# one IMPL WORKLOAD PRECISION BLOCK CAP_S CMD...: one benchmark process; its JSON line goes to RUNS.
one() {
  local impl="$1" workload="$2" prec="$3" block="$4" cap="$5" out="$WORK/one.out" t0=$SECONDS rc json
  shift 5
  if [ "$(left)" -lt 10 ]; then
    log "$impl $workload $prec block $block: SKIPPED (out of time)"
    printf '%s\t%s\t%s\t%s\tskipped\t0\t\n' "$workload" "$prec" "$impl" "$block" >>"$RUNS"
    return
  fi
  [ "$cap" -gt "$(left)" ] && cap="$(left)"
  timeout -k 10 "$cap" "$@" >"$out"
  rc=$?
  json="$(grep '^{' "$out" | tail -n 1)"
  cat "$out"
  log "$impl $workload $prec block $block: rc $rc, $((SECONDS - t0)) s"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$prec" "$impl" "$block" "$rc" "$((SECONDS - t0))" "$json" >>"$RUNS"
}

# pair NAME KIND SIZE BATCH WARMUP REPS CAP_S BLOCKS TF32: StyleNet then PyTorch, BLOCKS times.
pair() {
  local name="$1" kind="$2" size="$3" batch="$4" warmup="$5" reps="$6" cap="$7" blocks="$8" tf32="$9" b
  local prec=fp32 sn=stylenet_vgg_bench py=bench/vgg_torch.py
  local args=(--workload "$kind" --size "$size" --batch "$batch")
  [ "$tf32" = on ] && prec=tf32
  if [ "$kind" = stylize ]; then
    sn=stylenet_stylize_bench py=bench/stylize_torch.py
    args=(--size "$size" --style-size 512 --method learned-multilevel)
  fi
  args+=(--threads "$NPROC" --reps "$reps" --warmup "$warmup" --device cuda --tf32 "$tf32")
  for ((b = 1; b <= blocks; b++)); do
    [ "$b" -gt 1 ] && [ "$(left)" -lt 90 ] && { log "$name $prec: block $b left out (time)"; break; }
    LD_LIBRARY_PATH="$SN_LD_LIBRARY_PATH" one stylenet "$name" $prec $b "$cap" "$BUILD/bench/$sn" "${args[@]}"
    LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" OMP_NUM_THREADS="$NPROC" one pytorch "$name" $prec $b "$cap" \
      "$PY" "$py" "${args[@]}"
  done
}

benches() {
  local tf32
  for tf32 in off on; do
    #    name                 kind    size batch warmup reps cap_s blocks
    pair forward_224_b1       forward 224  1     3      20   60    "$BLOCKS" $tf32
    pair forward_224_b32      forward 224  32    1      5    60    "$BLOCKS" $tf32
    pair train_relu4_3_256_b8 train   256  8     1      5    60    "$BLOCKS" $tf32
    pair stylize_1024         stylize 1024 1     1      5    90    "$BLOCKS" $tf32
    pair stylize_2048         stylize 2048 1     1      3    120   1         $tf32
  done
}

# The CUDA tests under compute-sanitizer (out-of-bounds and misaligned accesses, leaks), and the
# command users run: three sample pairs stylized on the CPU and on the GPU, compared by PSNR.
extra() {
  local tests="$BUILD/tests/stylenet_cuda_tests" sn="$BUILD/apps/stylenet" dir="$WORK/pictures" i c s
  step "cuda tests (counts)" 60 - "$tests"
  # API errors are not reported: one test asks for more memory than the card has on purpose (its
  # cudaMalloc error is the point). No leak check: the allocator's cache, the pinned staging buffer
  # and the cuBLAS handle live as long as the process, by design.
  # racecheck (shared-memory hazards) checks only our own kernels (mangled names in sn::cuda):
  # with cuBLAS's kernels instrumented too the suite ran past 120 s.
  local tool skip
  for tool in memcheck racecheck initcheck synccheck; do
    skip=()
    [ "$tool" = racecheck ] && skip=(--kernel-name kns=2sn4cuda)
    step "compute-sanitizer $tool" 240 - compute-sanitizer --tool "$tool" "${skip[@]}" \
      --report-api-errors no --error-exitcode 1 "$tests"
  done
  mkdir -p "$dir"
  local contents=("$DATA_DIR"/data/samples/content_*.jpg) styles=("$DATA_DIR"/data/samples/style_*.jpg)
  for i in 0 1 2; do
    c="${contents[$i]}" s="${styles[$i]}"
    for d in cpu cuda; do
      step "stylize $(basename "$c") x $(basename "$s") on $d" 60 - "$sn" stylize --content "$c" --style "$s" \
        --size 512 --style-cache off --device "$d" --out "$dir/pair$i-$d.png"
    done
  done
  step "pictures: cpu against cuda" 30 - "$PY" - "$dir" "${OUT:-}" <<'PYEOF'
import sys, glob
import numpy as np
from PIL import Image
d, out = sys.argv[1], sys.argv[2]
worst = 99.0
for cpu in sorted(glob.glob(f"{d}/pair*-cpu.png")):
    gpu = cpu.replace("-cpu.png", "-cuda.png")
    a = np.asarray(Image.open(cpu), dtype=np.float64)
    b = np.asarray(Image.open(gpu), dtype=np.float64)
    mse = ((a - b) ** 2).mean()
    psnr = 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    worst = min(worst, psnr)
    print(f"{gpu}: {a.shape}, PSNR against the CPU's {psnr:.1f} dB, max |diff| {np.abs(a - b).max():.0f}")
    if out:
        Image.open(gpu).convert("RGB").save(f"{out}/{gpu.split('/')[-1][:-4]}.jpg", quality=92)
sys.exit(0 if worst >= 35.0 else 1)  # float32 reorderings only: far above 35 dB
PYEOF
}

main() {
  log "StyleNet device check $STAMP (budget ${BUDGET}s)"
  header
  log "dependencies"
  deps
  build
  step "ctest -L cuda" 150 - ctest --test-dir "$BUILD" -L cuda --output-on-failure --no-tests=error --timeout 120
  [ "${STYLENET_DEVICE_EXTRA:-0}" = 1 ] && extra
  [ "${STYLENET_DEVICE_BENCH:-1}" = 1 ] && benches
  log "done in $SECONDS s"
}

# The table (stdout) from STEPS and RUNS; exits 1 if anything failed or was skipped.
summarize() {
  "$PY" - "$STEPS" "$RUNS" <<'PYEOF'
import json, statistics, sys
bad = False
def status(rc):
    if rc == "skipped":
        return "SKIPPED (out of time)"
    if rc == "missing":
        return "FAILED (no such target)"
    return f"FAILED (rc {rc}{', timeout' if rc in ('124', '137') else ''})"
print("| step | status | seconds |\n| --- | --- | --- |")
for line in open(sys.argv[1]):
    name, rc, secs = line.rstrip("\n").split("\t")
    bad |= rc != "0"
    print(f"| {name} | {'ok' if rc == '0' else status(rc)} | {secs} |")
runs = {}
for line in open(sys.argv[2]):
    w, prec, impl, block, rc, secs, js = (line.rstrip("\n").split("\t") + [""])[:7]
    runs.setdefault((w, prec), {}).setdefault(impl, []).append((rc, js))
def cell(blocks):  # -> (median s or None, text, peak bytes or None)
    times, peak = [], None
    for rc, js in blocks or [("missing", "")]:
        if rc != "0":
            return None, status(rc), None
        try:
            r = json.loads(js)
        except ValueError:
            return None, "FAILED (rc 0, no JSON line)", None
        if r.get("device", "cuda") != "cuda":
            return None, f"FAILED (ran on {r['device']})", None
        times += r["times"]
        if "peak_gpu_bytes" in r:
            peak = max(peak or 0, r["peak_gpu_bytes"])
    if not times:
        return None, "FAILED (no timed repetitions)", None
    m = statistics.median(times)
    return m, f"{m * 1e3:.2f} ms ({len(times)} reps, {len(blocks)} proc)", peak
def mib(b):
    return "n/a" if b is None else f"{b / 2**20:.0f} MiB"
print("\n| workload | precision | StyleNet median | PyTorch median | ratio | StyleNet peak GPU | PyTorch peak GPU |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (w, prec), by in runs.items():
    sm, st, sp = cell(by.get("stylenet"))
    pm, pt, pp = cell(by.get("pytorch"))
    bad |= sm is None or pm is None
    ratio = f"{sm / pm:.2f}" if sm is not None and pm else "n/a"
    print(f"| {w} | {prec} | {st} | {pt} | {ratio} | {mib(sp)} | {mib(pp)} |")
print("\nratio = StyleNet median / PyTorch median (lower is better), medians over every timed repetition of "
      "every process; fp32 = TF32 off on both (torch matmul and cuDNN), tf32 = on on both; peak GPU = "
      "the largest peak_gpu_bytes of a process (torch.cuda.max_memory_allocated / StyleNet's own).")
sys.exit(1 if bad else 0)
PYEOF
}

PY="$(pick_python)"
for d in "${STYLENET_DATA:-}" ../shared .device; do
  [ -n "$d" ] && [ -d "$d/data" ] && { DATA_DIR="$(cd "$d" && pwd)"; break; }
done
DATA_DIR="${DATA_DIR:-$PWD/../shared}"
export STYLENET_DATA="$DATA_DIR"
[ -d /usr/local/cuda/bin ] && export PATH="$PATH:/usr/local/cuda/bin"
PATH="$PATH:$(dirname "$PY")"  # a venv's cmake and ninja, if the image has them only there

main 2>&1 | tee "$LOG"
summarize >"$WORK/table.md"
status=$?

mkdir -p bench/results
{
  echo "# StyleNet device check, $STAMP"
  echo
  echo "Written by scripts/device-check.sh (exit status $status)."
  echo
  grep -E '^(date \(UTC\)|gpu|commit|host|nvcc|cmake|python|data):' "$LOG" | sed 's/^/- /'
  echo
  cat "$WORK/table.md"
  echo
  echo "## Full output"
  echo
  echo '```text'
  cat "$LOG"
  echo '```'
} >"bench/results/$NAME.md"
[ -n "${OUT:-}" ] && cp "bench/results/$NAME.md" "$OUT/"
echo
echo "written: bench/results/$NAME.md${OUT:+ and \$OUT/$NAME.md}"
echo
cat "$WORK/table.md"
exit $status
