#!/usr/bin/env bash
# Everything a fresh machine needs to run every test: install, build (Release), ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh" --test
"$root/scripts/build.sh" -DSTYLENET_BUILD_TESTS=ON -DSTYLENET_BUILD_BENCH=ON
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}"
cd "${STYLENET_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 1200 -j "$(nproc)" "$@"
