#!/usr/bin/env bash
# Everything a fresh machine needs to run every test: install, build (Release, with the CUDA
# backend when the toolkit is installed), ctest; then the
# fuzz smoke run (scripts/fuzz.sh smoke: each parser's fuzz target, ASan + UBSan, a fixed number of
# inputs). The ThreadSanitizer run is scripts/tsan.sh (too long for CI).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh" --test
# The CUDA backend is compiled wherever the toolkit is (CI has it, and no GPU: there the `cuda`
# tests report themselves skipped); a machine without nvcc builds and tests the CPU-only library.
cuda=OFF
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then cuda=ON; fi
"$root/scripts/build.sh" -DSTYLENET_BUILD_TESTS=ON -DSTYLENET_BUILD_BENCH=ON -DSTYLENET_CUDA=$cuda
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}"
(cd "${STYLENET_BUILD_DIR:-$root/build}" && ctest --output-on-failure --timeout 1200 -j "$(nproc)" "$@")
"$root/scripts/fuzz.sh" smoke
