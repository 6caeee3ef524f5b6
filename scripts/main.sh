#!/usr/bin/env bash
# The main job on a fresh machine: install, build (Release), and stylize the sample photos of
# ../shared/data/samples with the default model (models/default.safetensors). Writes out/:
#   out/<photo>_x_<style>.jpg   each sample photo painted in one sample style
#   out/contact_sheet.png       all 6 photos x 6 styles by the default method (styles across, photos down)
#   out/sheets/<method>.jpg     the same grid by multilevel and learned (earlier defaults), WCT and
#                               optimisation too; before_finishing.jpg: the default method without
#                               its finishing (the decoder's output: the default until 2026-12-04)
#   out/table.md                every method's scores on that grid (content, style, Gram, edge SSIM,
#                               identity, time)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DSTYLENET_BUILD_TESTS=OFF -DSTYLENET_BUILD_BENCH=OFF
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}"
stylenet="${STYLENET_BUILD_DIR:-$root/build}/apps/stylenet"
samples="$STYLENET_DATA/data/samples"
mkdir -p "$root/out"

contents=("$samples"/content_*.jpg)
styles=("$samples"/style_*.jpg)
for i in "${!contents[@]}"; do
  c="${contents[$i]}"
  s="${styles[$((i % ${#styles[@]}))]}"
  name="$(basename "${c%.*}")_x_$(basename "${s%.*}").jpg"
  "$stylenet" stylize --content "$c" --style "$s" --out "$root/out/$name" "$@"
done
# Optimisation runs 30 L-BFGS iterations per pair here (about 5 minutes on 2 cores for the grid).
"$stylenet" eval --methods learned-multilevel,multilevel,learned,wct,optimize --steps 30 --size 256 \
  --sheet "$root/out/contact_sheet.png" --sheets "$root/out/sheets" --table "$root/out/table.md" --quiet
# The default before the finishing steps (stylenet/finish.h): the same method, the decoder's output.
"$stylenet" eval --methods learned-multilevel --size 256 --smooth 0 --no-color-match \
  --sheet "$root/out/sheets/before_finishing.jpg" --table "$root/out/table_before_finishing.md" --quiet
echo "wrote $root/out/contact_sheet.png, $root/out/sheets/ and $root/out/table.md"
