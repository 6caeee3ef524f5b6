#!/usr/bin/env bash
# Gathers, on this machine (no GPU, no device time), what scripts/device-check.sh needs on the lent
# GPU machine and cannot fetch there (it has no network):
#   .device/debs/    the build dependencies as Debian .debs (Eigen, OpenBLAS, oneTBB, stb, doctest,
#                    Google Benchmark, pkgconf); device-check.sh unpacks them into /tmp only if the
#                    machine lacks one of them, and leaves / alone
#   .device/data/    the sample photos (../shared/data/samples): stylenet_stylize_bench reads one
#   .device/COMMIT   the commit and whether the tree had uncommitted changes (the copy there has no .git)
# .device/ is git-ignored through .git/info/exclude (never committed) and about 18 MB; the device
# call carries it:  run  command "bash scripts/device-check.sh"  carry [".device"]  timeout_s 540
#
#   scripts/device-prep.sh        (idempotent: downloads only the .debs not yet there)
set -euo pipefail
cd "$(dirname "$0")/.."
D=.device
DATA="${STYLENET_DATA:-../shared}"

mkdir -p .git/info "$D/debs" "$D/data"
grep -qxF "/$D/" .git/info/exclude 2>/dev/null || echo "/$D/" >>.git/info/exclude

# Debian 12 (bookworm) builds; they run on the GPU machine's newer glibc and libstdc++.
packages=(libeigen3-dev libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libopenblas0
          libgfortran5 libquadmath0 libtbb-dev libtbb12 libtbbmalloc2 libtbbbind-2-5 libstb-dev
          doctest-dev libbenchmark-dev libbenchmark1debian pkgconf pkgconf-bin libpkgconf3)
need=()
for p in "${packages[@]}"; do
  compgen -G "$D/debs/${p}_*.deb" >/dev/null || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "downloading: ${need[*]}"
  (cd "$D/debs" && apt-get download -q "${need[@]}") 2>&1 | grep -v "unsandboxed as root" || true
fi
for p in "${packages[@]}"; do
  compgen -G "$D/debs/${p}_*.deb" >/dev/null || { echo "missing $D/debs/${p}_*.deb" >&2; exit 1; }
done

if [ -d "$DATA/data/samples" ]; then
  rm -rf "$D/data/samples" && cp -r "$DATA/data/samples" "$D/data/"
else
  echo "warning: no $DATA/data/samples: stylenet_stylize_bench will fail there" >&2
fi

commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
[ -n "$( git status --porcelain 2>/dev/null)" ] && commit="$commit (plus uncommitted changes)"
echo "$commit" >"$D/COMMIT"

echo "$D/: $(du -sh "$D" | cut -f1); commit $commit"
echo 'device tool: run  command "bash scripts/device-check.sh"  carry [".device"]  timeout_s 540'
