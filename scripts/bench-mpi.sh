#!/usr/bin/env bash
# Data-parallel scaling on this machine, and a model of larger clusters built from what it measures.
#
#   scripts/bench-mpi.sh [STEPS]     (default 12 steps per run; the first 3 are not timed)
#
# For each training stage (decoder, fusion) runs `stylenet train` with one global batch of 4
# 128-px crops twice: 1 rank x 1 thread (--batch 4), then `mpirun -np 2` x 1 thread (--batch 2
# each); and 1 rank with --batch 2 alone, the compute a rank would need if it had the machine to
# itself. From rank 0's log (the clock fields: time, exchange_s, wait_s, exchange_bytes) it prints
# the median step time, the efficiency, the exchange's time and share per step, the bytes
# exchanged per step, and the modelled step time on 4, 16 and 64 nodes at 10 and 100 Gbit/s
# (bench/mpi_model.py states the assumptions). Builds build/ (Release, MPI) if needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steps="${1:-12}"
build="${STYLENET_BENCH_BUILD:-$root/build}"
"$root/scripts/install-deps.sh" --mpi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTYLENET_MPI=ON >/dev/null
ninja -C "$build" -j2 stylenet >/dev/null
cli="$build/apps/stylenet"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export STYLENET_DATA="${STYLENET_DATA:-$root/../shared}" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common=(--steps "$steps" --crop 128 --checkpoint-every 1000000 --sample-every 0 --quiet --threads 1)
for stage in decoder fusion; do
  "$cli" train --stage "$stage" --run "$work/$stage-1" --batch 4 "${common[@]}" 2>/dev/null
  "$cli" train --stage "$stage" --run "$work/$stage-half" --batch 2 "${common[@]}" 2>/dev/null
  mpirun --allow-run-as-root --oversubscribe -np 2 --bind-to core \
    "$cli" train --stage "$stage" --run "$work/$stage-2" --batch 2 "${common[@]}" 2>/dev/null
done
/usr/bin/python3 "$root/bench/mpi_model.py" "$work" decoder fusion
