#!/usr/bin/python3
"""Loops with FMAs that also move vectors to or from the stack, in compiled objects.

    scripts/loop-spills.py [MIN_FMAS] OBJECT...
    scripts/loop-spills.py build/tensor/CMakeFiles/sn_tensor.dir/cpu/*avx*.cpp.o

For each backward branch (a loop) of each function, counts the FMAs in its body and the vector
stores to (and loads from) addresses relative to %rsp; prints the loops with at least MIN_FMAS
FMAs (default 4) and any stack stores, innermost loops first by size. A register-blocked kernel's
k loop should have none: GCC 12 kept the AVX2 GEMM tile's accumulators in memory and stored all 12
every k step (an `_mm256_broadcast_ss(p)` in the loop, whose pointer it could not see through),
and the AVX2 SGEMM ran at half its peak for months before this kind of scan found it
(docs/measuring.md). Loops that work on a buffer on the stack by design (the Winograd transforms'
tile buffers) show up too: read the disassembly (`objdump -d -C`) before concluding.
"""
import re
import subprocess
import sys

FMA = re.compile(r"^vf(n?)m(add|sub)")
MOVE = ("vmovaps", "vmovups", "vmovdqa", "vmovdqu", "vmovdqa32", "vmovdqa64", "vmovdqu32", "vmovdqu64")
STACK_STORE = re.compile(r",\s*-?(0x[0-9a-f]+)?\(%rsp\)$")


def functions(obj):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", obj], capture_output=True, text=True,
                         check=True).stdout
    name, body = None, []
    for line in out.splitlines():
        if m := re.match(r"^([0-9a-f]+) <(.*)>:$", line):
            if name:
                yield name, body
            name, body = m.group(2), []
        elif name and (m := re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)):
            body.append((int(m.group(1), 16), m.group(2), m.group(3)))
    if name:
        yield name, body


def loops(body):
    for addr, op, args in body:
        m = re.match(r"([0-9a-f]+) <", args)
        if op.startswith("j") and op != "jmp" and m and int(m.group(1), 16) < addr:
            start = int(m.group(1), 16)
            yield start, [ins for ins in body if start <= ins[0] <= addr]


def main():
    args = sys.argv[1:]
    min_fmas = int(args.pop(0)) if args and args[0].isdigit() else 4
    if not args:
        sys.exit(__doc__)
    found = 0
    for obj in args:
        for name, body in functions(obj):
            for start, loop in sorted(loops(body), key=lambda sl: len(sl[1])):
                fmas = sum(1 for _, op, _ in loop if FMA.match(op))
                stores = sum(1 for _, op, a in loop if op in MOVE and STACK_STORE.search(a))
                if fmas >= min_fmas and stores:
                    found += 1
                    print(f"{obj.split('/')[-1]}  {name[:100]}  loop at {start:#x}: {fmas} FMAs, "
                          f"{stores} vector stores to the stack")
    print(f"{found} loop(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
