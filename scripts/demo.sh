#!/bin/bash
# make demo: assemble and run small eBPF programs on both engines of bext,
# showing the result and the speed of each. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
BEXT="$BUILD/tools/bext/bext"
OUT="$BUILD/demo"
mkdir -p "$OUT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Deterministic input: the first 4 KiB of a text every Debian machine has.
head -c 4096 /usr/share/common-licenses/GPL-3 >"$OUT/input.bin"

say "1. Assemble examples/sum.s (sum of the input's bytes) and show it"
"$BEXT" asm examples/sum.s -o "$OUT/sum.bin"
"$BEXT" disasm "$OUT/sum.bin"

say "2. Run it on the interpreter and on the x86-64 JIT (r1 = 4 KiB input, r2 = its size)"
"$BEXT" run "$OUT/sum.bin" --mem "$OUT/input.bin" --engine interp --repeat 2000
"$BEXT" run "$OUT/sum.bin" --mem "$OUT/input.bin" --engine jit --repeat 2000

say "3. Compile examples/checksum.bpf.c with clang -target bpf and run the ELF object"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c examples/checksum.bpf.c \
	-o "$OUT/checksum.bpf.o"
"$BEXT" run "$OUT/checksum.bpf.o" --mem "$OUT/input.bin" --engine interp --repeat 2000
"$BEXT" run "$OUT/checksum.bpf.o" --mem "$OUT/input.bin" --engine jit --repeat 2000

say "4. The same checksum computed natively by Python, for comparison"
python3 - "$OUT/input.bin" <<'PY' 2>/dev/null || echo "(python3 not available)"
import sys
d = open(sys.argv[1], 'rb').read()
s = sum((d[i] << 8) | (d[i + 1] if i + 1 < len(d) else 0) for i in range(0, len(d), 2))
while s >> 16:
    s = (s & 0xffff) + (s >> 16)
print("expected r0 = %#x" % (~s & 0xffff))
PY
