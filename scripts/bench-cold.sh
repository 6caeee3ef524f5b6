#!/usr/bin/env bash
# Cold start, as a one-shot user meets it, side by side with PyTorch in one run.
#
#   scripts/bench-cold.sh [REPS]        (default 5 runs of each, alternating processes)
#
# 1. `stylenet features --weights vgg16_legacy.pth --image 224x224 --layers relu5_3` and the same
#    with --layers relu1_1, as whole processes. Peer: bench/cold_torch.py in a fresh process, timed
#    after `import torch` (torch.load, torchvision's vgg16, the same image and layers, np.save).
#    And the cold forward pass itself: the first VGG16 forward (224x224, to pool5) in a fresh
#    process, after the weights are loaded (first-call weight transforms and fresh memory
#    included): stylenet_vgg_bench --warmup 0 --reps 1 against cold_torch.py's own timing of its
#    forward call. (Earlier versions took relu5_3 minus relu1_1 of the whole processes; PyTorch's
#    4.5 s torch.load of the legacy file varies by more than the forward pass takes.)
#    The weight file is torchvision.models.vgg16()'s state_dict in the legacy container (the
#    official file's), as tests/vgg/gen_vgg.py writes it; made once under the build folder.
# 2. `stylenet stylize` of a 64x64 photo with the default model and method (whole process),
#    with the default style size (auto: twice the photo's short side, here 128 px), with a 512 px
#    style (the default before 2026-12-05) and with a 64 px one, each with no style cache
#    (--style-cache off: the style encoded, as on a first run), and with the default style's
#    statistics in the style cache (every run after the first with that style).
# Each PyTorch run is waited for to its exit (a process substitution let the next timed command
# start while PyTorch still freed its gigabytes: +0.1 s on this VM). The first process after a
# PyTorch run still meets memory the kernel has to hand out afresh (by hand on this VM: the cold
# forward 0.15-0.18 s right after PyTorch, 0.10-0.12 s in a second process).
# 2 threads; medians. Builds build/ (Release) if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${1:-5}"
BUILD="${STYLENET_BUILD_DIR:-build}"
PY=/usr/bin/python3
STYLENET_DATA="${STYLENET_DATA:-$(cd .. && pwd)/shared}"
export STYLENET_THREADS=2
[ -x "$BUILD/apps/stylenet" ] && [ -x "$BUILD/bench/stylenet_vgg_bench" ] ||
  STYLENET_BUILD_DIR="$BUILD" scripts/build.sh -DSTYLENET_BUILD_BENCH=ON >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

weights="$BUILD/bench-data/vgg16_legacy.pth"
if [ ! -f "$weights" ]; then
  mkdir -p "$(dirname "$weights")"
  "$PY" -c "import torch, torchvision; torch.manual_seed(0); torch.save(torchvision.models.vgg16().state_dict(), '$weights.tmp', _use_new_zipfile_serialization=False)"
  mv "$weights.tmp" "$weights"
fi
photo="$STYLENET_DATA/data/samples/content_tubingen.jpg"
style="$STYLENET_DATA/data/samples/style_starry_night.jpg"
"$PY" -c "from PIL import Image; im = Image.open('$photo').convert('RGB'); im.resize((224, 224)).save('$tmp/i224.png'); im.resize((64, 64)).save('$tmp/i64.png')"

wall() {  # seconds of one command, its output discarded
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  printf '%d.%09d\n' $(((t1 - t0) / 1000000000)) $(((t1 - t0) % 1000000000))
}
declare -A runs
# The cached runs' cache, filled once beforehand.
"$BUILD/apps/stylenet" stylize --content "$tmp/i64.png" --style "$style" --out "$tmp/o.png" --style-cache "$tmp/styles" >/dev/null
# The stylize rows as arguments after the common ones; taken in a rotating order, so that none is
# always the first process after a PyTorch run (see above).
declare -A stylize_args=([st_auto]="--style-cache off" [st_512]="--style-size 512 --style-cache off"
                         [st_64]="--style-size 64 --style-cache off" [st_cached]="--style-cache $tmp/styles")
stylize_rows=(st_auto st_512 st_64 st_cached)
for rep in $(seq "$REPS"); do
  for layer in relu1_1 relu5_3; do
    runs[sn_$layer]+=" $(wall "$BUILD/apps/stylenet" features --weights "$weights" --image "$tmp/i224.png" --layers "$layer" --out "$tmp/f.npy")"
    read -r total _ <<<"$("$PY" bench/cold_torch.py --weights "$weights" --image "$tmp/i224.png" --layer "$layer" --out "$tmp/f.npy" --threads 2)"
    runs[pt_$layer]+=" $total"
  done
  runs[sn_first]+=" $("$BUILD/bench/stylenet_vgg_bench" --threads 2 --warmup 0 --reps 1 | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["median_s"])')"
  read -r _ forward <<<"$("$PY" bench/cold_torch.py --weights "$weights" --image "$tmp/i224.png" --layer pool5 --out "$tmp/f.npy" --threads 2)"
  runs[pt_first]+=" $forward"
  for i in 0 1 2 3; do
    row=${stylize_rows[$(((rep + i) % 4))]}
    # shellcheck disable=SC2086  # the row's arguments split on purpose
    runs[$row]+=" $(wall "$BUILD/apps/stylenet" stylize --content "$tmp/i64.png" --style "$style" --out "$tmp/o.png" ${stylize_args[$row]})"
  done
done

"$PY" - "${runs[sn_relu1_1]}" "${runs[sn_relu5_3]}" "${runs[pt_relu1_1]}" "${runs[pt_relu5_3]}" "${runs[sn_first]}" \
  "${runs[pt_first]}" "${runs[st_auto]}" "${runs[st_512]}" "${runs[st_64]}" "${runs[st_cached]}" <<'PYEOF'
import statistics, sys
med = [statistics.median(float(x) for x in a.split()) for a in sys.argv[1:]]
sn1, sn5, pt1, pt5, sn_first, pt_first, st_auto, st512, st64, st_cached = med
print(f"{'cold, 2 threads (medians)':<52}{'StyleNet s':>11}{'PyTorch s':>11}{'ratio':>8}")
print(f"{'features 224x224 to relu1_1 (whole process)':<52}{sn1:>11.3f}{pt1:>11.3f}{sn1 / pt1:>8.2f}")
print(f"{'features 224x224 to relu5_3 (whole process)':<52}{sn5:>11.3f}{pt5:>11.3f}{sn5 / pt5:>8.2f}")
print(f"{'  relu5_3 minus relu1_1 (noisy: see above)':<52}{sn5 - sn1:>11.3f}{pt5 - pt1:>11.3f}{(sn5 - sn1) / (pt5 - pt1):>8.2f}")
print(f"{'the cold forward pass (first call, 224x224 to pool5)':<52}{sn_first:>11.3f}{pt_first:>11.3f}{sn_first / pt_first:>8.2f}")
print(f"{'stylize 64x64 photo, default style size (whole process)':<52}{st_auto:>11.3f}")
print(f"{'stylize 64x64 photo, 512 px style (whole process)':<52}{st512:>11.3f}")
print(f"{'stylize 64x64 photo, 64 px style (whole process)':<52}{st64:>11.3f}")
print(f"{'stylize 64x64 photo, its style in the style cache':<52}{st_cached:>11.3f}")
print("PyTorch times start after `import torch` (the interpreter and the import are not counted).")
PYEOF
