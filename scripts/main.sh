#!/usr/bin/env bash
# The main job on a fresh machine: install, build (Release), and run StyleNet on the sample images.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DSTYLENET_BUILD_TESTS=OFF -DSTYLENET_BUILD_BENCH=OFF
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}"
mkdir -p "$root/out"
"${STYLENET_BUILD_DIR:-$root/build}/apps/stylenet" demo --out "$root/out/demo.png" "$@"
