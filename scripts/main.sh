#!/usr/bin/env bash
# The main job on a fresh machine: install, build (Release), and stylize the sample photos of
# ../shared/data/samples with the default model (models/default.safetensors). Writes out/:
#   out/<photo>_x_<style>.jpg   each sample photo painted in one sample style
#   out/contact_sheet.png       all 6 photos x 6 styles (styles across, photos down)
#   out/table.md                the model's content loss, style loss and edge SSIM on that grid
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
"$stylenet" eval --methods learned --size 256 --sheet "$root/out/contact_sheet.png" \
  --table "$root/out/table.md" --quiet
echo "wrote $root/out/contact_sheet.png and $root/out/table.md"
