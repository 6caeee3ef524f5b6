#!/usr/bin/env bash
# The held-out protocol (issue: choose the default by measurement): every feed-forward method on
# 10 x 10 pairs of photos and artworks no shipped decoder trained on (`stylenet eval --heldout`:
# every 10th file of $STYLENET_DATA/data/content and data/style, 10 of each evenly spaced), at
# 256 and 512 px. Writes out/heldout_<size>.md and prints them (docs/heldout_<size>.md keep the
# dated tables the README quotes, with what each one measured; copy a new table there by hand).
# Usage: scripts/heldout.sh [extra eval options, e.g. --model M --threads 2]
# About 35 minutes on 2 cores (most of it the 512 px grid).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}"
stylenet="${STYLENET_BUILD_DIR:-$root/build}/apps/stylenet"
[ -x "$stylenet" ] || "$root/scripts/build.sh"
methods=learned,adain,wct,multilevel,learned-multilevel
mkdir -p "$root/out"
for size in 256 512; do
  "$stylenet" eval --heldout 10 --size "$size" --methods "$methods" --table "$root/out/heldout_$size.md" "$@"
done
