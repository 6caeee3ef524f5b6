#!/usr/bin/env bash
# test_mpi_tcp: data-parallel training between two "hosts" over real TCP. Two network namespaces
# joined by a veth pair stand for two nodes; one rank runs in each, mpirun starts the remote one
# through a launcher that enters the other namespace (in place of ssh), and Open MPI is held to
# that link (--mca btl tcp,self, btl_tcp_if_include and oob_tcp_if_include on its subnet). The run
# must end as one process with the whole batch does (compare_runs.py, test_mpi's bounds), and its
# bytes must have crossed the link. No traffic leaves the namespaces this test makes.
# Reported skipped (exit 77) where namespaces cannot be made (not root, no CAP_SYS_ADMIN, no ip).
#   two_hosts.sh STYLENET_BINARY MPIRUN PYTHON WORK_DIR
set -uo pipefail
cli="$1" mpirun="$2" python="$3" work="$4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ns0="sn_host0_$$" ns1="sn_host1_$$" subnet=10.231.77
cleanup() { ip netns del "$ns0" 2>/dev/null; ip netns del "$ns1" 2>/dev/null; }
trap cleanup EXIT
skip() { echo "skipped: $1"; exit 77; }
fail() { echo "FAIL: $1" >&2; exit 1; }

command -v ip >/dev/null || skip "no 'ip' command (iproute2) to make network namespaces"
ip netns add "$ns0" 2>/dev/null || skip "cannot create network namespaces here (needs root or CAP_SYS_ADMIN)"
ip netns add "$ns1" || fail "second namespace"
ip link add link0 netns "$ns0" type veth peer name link1 netns "$ns1" 2>/dev/null || skip "cannot create a veth pair here"
ip -n "$ns0" addr add $subnet.1/24 dev link0 && ip -n "$ns1" addr add $subnet.2/24 dev link1 || fail "addresses"
for ns in "$ns0" "$ns1"; do ip -n "$ns" link set lo up || fail "lo up"; done
ip -n "$ns0" link set link0 up && ip -n "$ns1" link set link1 up || fail "link up"

rm -rf "$work" && mkdir -p "$work"
# What mpirun calls instead of ssh: `launcher HOST COMMAND...` runs COMMAND in HOST's namespace.
cat > "$work/launcher.sh" <<LAUNCHER
#!/bin/sh
host="\$1"; shift
case "\$host" in
  $subnet.1) ns=$ns0 ;;
  $subnet.2) ns=$ns1 ;;
  *) echo "launcher: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
LAUNCHER
chmod +x "$work/launcher.sh"

args=(--steps 20 --crop 32 --max-images 6 --decoder-width 0.125 --k 8 --warmup 2 --checkpoint-every 4
      --sample-every 0 --quiet --threads 1)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STYLENET_MPI_TIMEOUT=60
"$cli" train --run "$work/one" --batch 4 "${args[@]}" 2>"$work/one.err" || { cat "$work/one.err"; fail "single process"; }
timeout 300 ip netns exec "$ns0" "$mpirun" --allow-run-as-root -np 2 --host $subnet.1:1,$subnet.2:1 \
  --mca plm_rsh_agent "$work/launcher.sh" --mca btl tcp,self \
  --mca btl_tcp_if_include $subnet.0/24 --mca oob_tcp_if_include $subnet.0/24 \
  "$cli" train --run "$work/two" --batch 2 "${args[@]}" 2>"$work/two.err" || { cat "$work/two.err"; fail "two hosts"; }
grep -q "2 ranks, 1 on this node" "$work/two.err" || { cat "$work/two.err"; fail "the ranks did not run on two nodes"; }

sent=$(ip -n "$ns0" -s -j link show link0 | "$python" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["bytes"])')
echo "bytes sent from host 0 over the link: $sent"
# 20 steps of summed gradients (a few hundred KB a step for this small decoder).
[ "$sent" -gt 1000000 ] || fail "the gradients did not cross the link"
"$python" "$here/compare_runs.py" "$work/one" "$work/two" 1e-4 || fail "two hosts differ from one process"
echo "ok: two ranks on two hosts over TCP end as one process with the whole batch"
