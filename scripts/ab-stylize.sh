#!/usr/bin/env bash
# Whole-process A/B of `stylenet stylize`: two binaries, alternated (ABBA), one-shot runs as a user
# meets them (a fresh process each time, --style-cache off).
#
#   scripts/ab-stylize.sh ROUNDS SIZE BINARY_A BINARY_B [extra stylize options...]
#
# Stylizes $STYLENET_DATA/data/content/adain_golden_gate.jpg (short side SIZE) in the style of
# adain_la_muse.jpg on 2 threads, and prints per binary the medians of wall time, CPU time (user +
# sys), peak RSS, and the transparent huge pages faulted in (thp_fault_alloc in /proc/vmstat, whose
# zeroing dominates a one-shot run's kernel time on these VMs; a shared counter, so only
# meaningful on an otherwise idle machine), then every run's wall time. The outputs of the last
# round are compared byte for byte.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,12p "$0"; exit 2; }
rounds=$1 size=$2 a=$3 b=$4
shift 4
extra=("$@")
data=${STYLENET_DATA:-../shared}
content=$data/data/content/adain_golden_gate.jpg style=$data/data/style/adain_la_muse.jpg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

thp() { awk '/^thp_fault_alloc /{print $2}' /proc/vmstat; }
one() {  # binary label
  local before after
  before=$(thp)
  /usr/bin/time -o "$tmp/time" -f "%e %U %S %M" "$1" stylize --content "$content" --style "$style" --size "$size" \
    --out "$tmp/$2.png" --threads 2 --style-cache off "${extra[@]}" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  after=$(thp)
  echo "$2 $(cat "$tmp/time") $((after - before))"
}

for ((i = 0; i < rounds; i++)); do
  if ((i % 2 == 0)); then one "$a" A; one "$b" B; else one "$b" B; one "$a" A; fi
done | python3 -c '
import statistics as st, sys
runs = {}
for line in sys.stdin:
    label, wall, user, sys_, rss, thp = line.split()
    runs.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss) / 1024, int(thp)))
names = {"A": sys.argv[1], "B": sys.argv[2]}
for label in sorted(runs):
    r = runs[label]
    med = lambda i: st.median(x[i] for x in r)
    print(f"{names[label]}: wall {med(0):.3f} s, cpu {med(1):.3f} s, peak RSS {med(2):.0f} MB, "
          f"THP faults {med(3):.0f}; walls {[x[0] for x in r]}")
' "$a" "$b"
if cmp -s "$tmp/A.png" "$tmp/B.png"; then echo "outputs: identical"; else echo "outputs: differ"; fi
