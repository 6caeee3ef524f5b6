#!/usr/bin/env bash
# The ThreadSanitizer run: builds build-tsan/ (gcc, -fsanitize=thread) and runs the ctest label
# tsan (the suites that exercise threads: kernels on 2 threads, parallel_for, the workspace pool,
# the prefetching loader, training and stylization). Any report fails the run (halt_on_error).
# Extra arguments go to ctest. About 15 minutes on 2 cores (7 of them building).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${STYLENET_TSAN_BUILD:-$root/build-tsan}"
"$root/scripts/install-deps.sh" --test
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTYLENET_TSAN=ON \
  -DSTYLENET_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" -j"$(nproc)" stylenet_tests stylenet
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
cd "$build"
ctest -L tsan --output-on-failure --timeout 3600 "$@"
