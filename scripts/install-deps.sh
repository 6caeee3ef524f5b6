#!/usr/bin/env bash
# Installs the Debian packages StyleNet needs, only those missing. Usage:
#   scripts/install-deps.sh          build dependencies (compiler, CMake, Eigen, OpenBLAS, oneTBB, stb…)
#   scripts/install-deps.sh --test   plus the test-only oracle (Debian's PyTorch, NumPy) and the
#                                    sanitizer/fuzzer toolchain (clang and its runtimes)
#   scripts/install-deps.sh --fuzz   build dependencies and the fuzzer toolchain only
#   scripts/install-deps.sh --mpi    build dependencies and OpenMPI (data-parallel training over
#                                    mpirun/srun; --test installs it too)
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config libeigen3-dev libopenblas-dev libtbb-dev
          libstb-dev doctest-dev libbenchmark-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3-torch python3-numpy python3-torchvision)
fi
if [[ "${1:-}" == "--test" || "${1:-}" == "--mpi" ]]; then
  packages+=(openmpi-bin libopenmpi-dev iproute2)
fi
if [[ "${1:-}" == "--test" || "${1:-}" == "--fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing missing Debian packages: ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
