#!/bin/bash
# make demo: an eBPF extension inside running programs. examples/malloc_count.bpf.c
# (eBPF C, libbpf headers) counts malloc() calls per process; `bext load` puts it
# in a store, `bext start` runs real programs with the agent inside, and `bext
# dump` reads the counts back. Then the same VM alone, interpreter vs JIT.
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
BEXT="$BUILD/tools/bext/bext"
OUT="$BUILD/demo"
STORE="$OUT/store"
mkdir -p "$OUT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# "key: 7b 06 00 00  value: ..." lines of `bext dump` -> "PID VALUE": a little-endian
# number (dump_num) or a NUL-terminated string (dump_str)
# Maps created with BTF print typed ("key: (__u32)1234  value: (__u64)56" or
# "value: (char[16])['l','s',]"); both forms are read.
dump_num() {
	"$BEXT" dump "$1" --store "$STORE" | grep '^key:' | while read -r _ k0 k1 k2 k3 _ v; do
		local n=0 b
		if [ "${k0#(}" != "$k0" ]; then
			echo "${k0#*)} ${k2#*)}"
			continue
		fi
		for b in $(echo "$v" | tr ' ' '\n' | tac); do n=$((n * 256 + 16#$b)); done
		echo "$((16#$k3$k2$k1$k0)) $n"
	done
}
dump_str() {
	"$BEXT" dump "$1" --store "$STORE" | grep '^key:' | while read -r _ k0 k1 k2 k3 _ v; do
		local str="" b
		if [ "${k0#(}" != "$k0" ]; then
			printf '%s %s\n' "${k0#*)}" "$(echo "${k2#*)}" | tr -d "[]',")"
			continue
		fi
		for b in $v; do
			[ "$b" == 00 ] && break
			str+="\\x$b"
		done
		printf '%s %b\n' "$((16#$k3$k2$k1$k0))" "$str"
	done
}

say "1. Compile examples/malloc_count.bpf.c with clang -O2 -g -target bpf"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c examples/malloc_count.bpf.c \
	-o "$OUT/malloc_count.bpf.o"
echo "$OUT/malloc_count.bpf.o: SEC(\"uprobe/libc.so.6:malloc\") -> maps counts, bytes, comms"

say "2. bext load: maps, the verified program and its uprobe link go into the store"
rm -rf "$STORE"
"$BEXT" load "$OUT/malloc_count.bpf.o" --store "$STORE"

say "3. bext start: a real program with the agent inside (sh | ls -R /usr/include | wc)"
"$BEXT" start --store "$STORE" -- sh -c 'ls -R /usr/include | wc -l | sed "s/^/lines: /"'
"$BEXT" log --agent --store "$STORE"

say "4. bext list, bext dump counts"
"$BEXT" list --store "$STORE"
"$BEXT" dump counts --store "$STORE"

say "5. malloc calls per process, read back from the maps"
dump_str comms | sort >"$OUT/comms"
dump_num counts | sort >"$OUT/counts"
dump_num bytes | sort >"$OUT/bytes"
printf '%8s  %-10s %10s %14s\n' pid command mallocs bytes
join "$OUT/comms" "$OUT/counts" | join - "$OUT/bytes" | sort -k3 -n -r |
	awk '{ printf "%8s  %-10s %10s %14s\n", $1, $2, $3, $4 }'

say "6. bext detach: the program and its link leave the store (live in running targets)"
"$BEXT" detach "$("$BEXT" list --store "$STORE" | awk '$2 == "prog" { sub(":", "", $1); print $1 }')" \
	--store "$STORE"
"$BEXT" start --store "$STORE" -- ls /usr >/dev/null
echo "counts entries after detaching and running ls again: $(dump_num counts | wc -l) (unchanged)"

say "7. The VM alone: examples/sum.s on the interpreter and the x86-64 JIT"
head -c 4096 /usr/share/common-licenses/GPL-3 >"$OUT/input.bin"
"$BEXT" asm examples/sum.s -o "$OUT/sum.bin"
"$BEXT" run "$OUT/sum.bin" --mem "$OUT/input.bin" --engine interp --repeat 2000
"$BEXT" run "$OUT/sum.bin" --mem "$OUT/input.bin" --engine jit --repeat 2000
