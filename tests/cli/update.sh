#!/bin/sh
# SPDX-License-Identifier: MIT
# `bext update` / `bext delete` on the maps of upd.bpf.o: exact `bext dump`
# output after each change, the flags (any/noexist/exist), per-CPU values
# written to every CPU, hex values of odd sizes, and bad input (wrong sizes,
# missing map, bad flag, frozen .rodata) with its message and exit status.
# usage: update.sh BEXT SRCDIR
set -u
bext=$1 src=$2
. "$src/lib.sh"
if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP: clang not found (needed to build the test object)"
	exit 77
fi
t=$(mktemp -d) || exit 1
st=/dev/shm/bext-update-$$
trap 'rm -rf "$t" "$st"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0

# run WANT_STATUS WANT_OUTPUT ARGS...: one command, its status and all its output
run() {
	want=$1 msg=$2
	shift 2
	out=$("$bext" "$@" --store "$st" 2>&1)
	same "bext $* -> $want" "$out [$?]" "$msg [$want]"
}

clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src/upd.bpf.c" \
	-o "$t/upd.bpf.o" || exit 1
"$bext" load "$t/upd.bpf.o" --no-attach --store "$st" >/dev/null 2>&1 || { echo "FAIL: load"; exit 1; }

# --- hash: flags and errors --------------------------------------------------
run 0 '' update counts 1 -5
run 1 'bext update: map counts: key exists (EEXIST)' update counts 1 7 noexist
run 1 'bext update: map counts: no such key (ENOENT)' update counts 2 hex:0100000000000000 exist
run 0 '' update counts 2 9 noexist
run 0 '' update counts 2 hex:0001000000000000 exist
run 1 'bext update: map counts: index out of range or map full (E2BIG)' update counts 3 9
same "dump counts" "$("$bext" dump counts --store "$st" 2>&1 | sort)" \
	'2 entries' 'key: (__u32)1  value: (__s64)-5' 'key: (__u32)2  value: (__s64)256' \
	'map 1 hash name counts key 4 value 8 max_entries 2'
run 0 '' delete counts 1
run 1 'bext delete: map counts: no such key (ENOENT)' delete counts 1
run 0 '' update 1 hex:03000000 -9223372036854775808 any
same "dump counts after delete" "$("$bext" dump counts --store "$st" 2>&1 | sort)" \
	'2 entries' 'key: (__u32)2  value: (__s64)256' \
	'key: (__u32)3  value: (__s64)-9223372036854775808' \
	'map 1 hash name counts key 4 value 8 max_entries 2'

# --- array of 3-byte values: hex only ----------------------------------------
run 0 '' update raw 1 hex:abCDef
run 2 "bext update: map raw: value '5' is 3 bytes: give it as hex:<6 hex digits> (value size 3)" \
	update raw 1 5
run 2 "bext update: map raw: value 'hex:abcd' needs 6 hex digits (3 bytes) (value size 3)" \
	update raw 1 hex:abcd
run 2 "bext update: map raw: value 'hex:abcdeg' is not hex (value size 3)" update raw 1 hex:abcdeg
run 1 'bext update: map raw: index out of range or map full (E2BIG)' update raw 2 hex:000000
run 1 'bext delete: map raw: invalid for this map (EINVAL)' delete raw 0
same "dump raw" "$("$bext" dump raw --store "$st" 2>&1)" \
	'map 2 array name raw key 4 value 3 max_entries 2' \
	'key: 00 00 00 00  value: 00 00 00' 'key: 01 00 00 00  value: ab cd ef' '2 entries'

# --- per-CPU: one value for every CPU ----------------------------------------
run 0 '' update pc 0 65535
run 2 "bext update: map pc: value '65536' is not an integer that fits (value size 2)" update pc 0 65536
got=$("$bext" dump pc --store "$st" 2>&1)
ncpu=$(echo "$got" | grep -c '^  cpu ')
nset=$(echo "$got" | grep -c '^  cpu [0-9]*: (__u16)65535$')
if [ "$ncpu" -ge 1 ] && [ "$ncpu" = "$nset" ]; then
	echo "ok   pc: 65535 on all $ncpu CPUs"
else
	echo "FAIL: pc: not 65535 on every CPU:"; echo "$got"; fail=1
fi

# --- bad input ----------------------------------------------------------------
run 1 'bext update: map upd.rodata: map is frozen or read-only (EPERM)' update upd.rodata 0 7
run 1 "bext update: no map nomap in $st" update nomap 1 1
run 1 "bext delete: no map 99 in $st" delete 99 1
# an id beyond 32 bits is no map (not map 4294967297 - 2^32 = 1, counts)
run 1 "bext update: no map 4294967297 in $st" update 4294967297 2 7
run 1 "bext delete: no map 18446744073709551617 in $st" delete 18446744073709551617 2
# hex digits only: strtoul would take leading white space ("\t1" = 1)
tab=$(printf 'hex:\t1000000')
run 2 "bext update: map counts: key '$tab' is not hex (key size 4)" update counts "$tab" 7
run 2 "bext update: bad flag 'sometimes' (any, noexist or exist)" update counts 1 2 sometimes
run 2 "bext update: map counts: key 'x' is not an integer that fits (key size 4)" update counts x 1
run 2 "bext update: map counts: key '4294967296' is not an integer that fits (key size 4)" \
	update counts 4294967296 1
run 2 'usage: bext update MAP KEY VALUE [any|noexist|exist] [--store DIR]' update counts 1
run 2 'usage: bext delete MAP KEY [--store DIR]' delete counts
out=$("$bext" update counts 1 1 --store /nonexistent/store 2>&1)
same "no store" "$out [$?]" "bext: no store at /nonexistent/store [1]"
same "dump counts unchanged by the bad input" "$("$bext" dump counts --store "$st" 2>&1 | sort)" \
	'2 entries' 'key: (__u32)2  value: (__s64)256' \
	'key: (__u32)3  value: (__s64)-9223372036854775808' \
	'map 1 hash name counts key 4 value 8 max_entries 2'
same "dump .rodata unchanged" "$("$bext" dump upd.rodata --store "$st" 2>&1)" \
	'map 4 array name upd.rodata key 4 value 4 max_entries 1' 'limit = (int)5' \
	'1 variable in .rodata'

# --- a loader default, as libbpf's: perf event array without max_entries --
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src/pe.bpf.c" \
	-o "$t/pe.bpf.o" || exit 1
possible=$(sed 's/.*-//' /sys/devices/system/cpu/possible)
possible=$((possible + 1))
out=$("$bext" load "$t/pe.bpf.o" --store "$st.pe" 2>&1)
same "load perf event array without max_entries" "$(echo "$out" | tail -n +2)" 'map 1 events' \
	'prog 2 pe_send'
has "one slot per possible CPU ($possible)" \
	"^1: map perf_event_array name events key 4 value 4 max_entries $possible " \
	"$("$bext" list --store "$st.pe" 2>&1)"
rm -rf "$st.pe"

[ $fail -eq 0 ] && echo "update: all checks passed"
exit $fail
