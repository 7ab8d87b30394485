#!/bin/sh
# SPDX-License-Identifier: MIT
# Static initialisation of prog arrays and maps of maps by `bext load`
# (libbpf's `__array(values, ...)` with `.values = { [i] = &x }`):
# tailinit.bpf.o loads with jmp[0] = prog_a, jmp[2] = prog_b, outer[1] = in2,
# outer[2] = in1, houter{0: in1, 3: in2}, checked with `bext dump` and the
# references in `bext list`; under `bext start` the probe's tail calls reach
# prog_a/prog_b from the first hit (results map); the slot keeps a detached
# program alive. Then malformed initialisers (-DBAD=N) are refused with a
# message naming the map, leaving nothing in the store.
# usage: tail_init.sh BEXT SRCDIR TARGET
set -u
bext=$1 src=$2 target=$3
. "$src/lib.sh"
if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP: clang not found (needed to build the test objects)"
	exit 77
fi
t=$(mktemp -d) || exit 1
st=/dev/shm/bext-tailinit-$$
trap 'rm -rf "$t" "$st"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0


for b in 0 1 2 3 4 5 6; do
	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -DBAD=$b \
		-c "$src/tailinit.bpf.c" -o "$t/bad$b.bpf.o" || exit 1
done
cp "$t/bad0.bpf.o" "$t/tailinit.bpf.o"

# --- load: maps in .maps order; the two templates (4, 6) are gone again ----
out=$("$bext" load "$t/tailinit.bpf.o" --store "$st" 2>&1) || { echo "FAIL: load: $out"; exit 1; }
clean "load" "$out"
same "load output" "$(echo "$out" | tail -n +2)" \
	'map 1 jmp' 'map 2 in2' 'map 3 in1' 'map 5 outer' 'map 7 houter' 'map 8 results' \
	'prog 9 prog_a' 'prog 10 prog_b' 'prog 11 on_tick' \
	'link 12 prog 11 uprobe:tailinit_target:tick+0x0'

same "dump jmp (program ids 9, 10)" "$("$bext" dump jmp --store "$st" 2>&1)" \
	'map 1 prog_array name jmp key 4 value 4 max_entries 4' \
	'key: (__u32)0  value: 09 00 00 00' \
	'key: (__u32)2  value: 0a 00 00 00' \
	'2 entries'
same "dump outer (map ids 2, 3)" "$("$bext" dump outer --store "$st" 2>&1)" \
	'map 5 array_of_maps name outer key 4 value 4 max_entries 3' \
	'key: (__u32)1  value: 02 00 00 00' \
	'key: (__u32)2  value: 03 00 00 00' \
	'2 entries'
same "dump houter (map ids 3, 2)" "$("$bext" dump houter --store "$st" 2>&1 | sort)" \
	'2 entries' \
	'key: (__u32)0  value: 03 00 00 00' \
	'key: (__u32)3  value: 02 00 00 00' \
	'map 7 hash_of_maps name houter key 4 value 4 max_entries 4'

out=$("$bext" list --store "$st" 2>&1)
clean "list" "$out"
has "list jmp: 2 slots" '^1: map prog_array name jmp key 4 value 4 max_entries 4 flags 0x0 entries 2 ' "$out"
has "list outer: 2 slots" '^5: map array_of_maps name outer key 4 value 4 max_entries 3 flags 0x0 entries 2 inner_map 4 ' "$out"
has "list houter: 2 elements" '^7: map hash_of_maps name houter key 4 value 4 max_entries 4 flags 0x0 entries 2 inner_map 6 ' "$out"
# creation + 3 programs + outer + houter
has "list in1: slot references" '^3: map array name in1 .* refs 6 ' "$out"
has "list in2: slot references" '^2: map array name in2 .* refs 6 ' "$out"
# creation + jmp's slot
has "list prog_a: slot reference" '^9: prog kprobe name prog_a .* refs 2 ' "$out"
has "list prog_b: slot reference" '^10: prog kprobe name prog_b .* refs 2 ' "$out"
has "list on_tick: link reference" '^11: prog kprobe name on_tick .* refs 2 ' "$out"
has "list: templates removed" '^10 objects$' "$out"

# --- run: tick(0) -> prog_a, tick(1) empty slot, tick(2) x2 -> prog_b, tick(7) out of range
res=$("$bext" start --store "$st" -- "$target" 2>&1)
if [ "$res" != "tailinit_target sum 17" ]; then
	echo "FAIL: target run: $res"; cat "$st/agent.log" 2>/dev/null; fail=1
fi
got=$("$bext" dump results --store "$st" 2>&1)
# the agent loads prog_a/prog_b for the tail calls: they have no link of their own
same "dump results: the tail calls ran from the first hit" "$got" \
	'map 8 array name results key 4 value 8 max_entries 4' \
	'key: (__u32)0  value: (__u64)5' \
	'key: (__u32)1  value: (__u64)1' \
	'key: (__u32)2  value: (__u64)2' \
	'key: (__u32)3  value: (__u64)2' \
	'4 entries'
[ $fail -ne 0 ] && { echo "--- agent log:"; cat "$st/agent.log"; }

# --- short-lived targets: the agent never ends a process holding the store's lock
rec=0
for i in $(seq 40); do
	"$bext" start --store "$st" -- "$target" >/dev/null 2>&1 &
	"$bext" start --store "$st" -- "$target" >/dev/null 2>&1
	wait
	"$bext" list --store "$st" 2>&1 | grep -q 'recovering registry' && rec=$((rec + 1))
done
same "80 short runs, two at a time: no registry left to recover" "$rec" 0

# --- a slot filled while the target runs: the agent loads the new program --
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
	-c "$src/tailinit_late.bpf.c" -o "$t/late.bpf.o" || exit 1
out=$("$bext" load "$t/late.bpf.o" --store "$st" 2>&1) || { echo "FAIL: load late: $out"; fail=1; }
same "load late (no link)" "$(echo "$out" | tail -n +2)" 'map 13 late_hits' 'prog 14 prog_late'
"$bext" start --store "$st" -- "$target" --wait "$t/go" > "$t/live.out" 2>&1 &
live=$!
for i in $(seq 100); do [ -e "$t/go.ready" ] && break; sleep 0.1; done
out=$("$bext" update jmp 1 14 --store "$st" 2>&1) || { echo "FAIL: update jmp 1 14: $out"; fail=1; }
for i in $(seq 100); do
	grep -q 'loaded program 14 for tail calls (prog array jmp \[1\])' "$st/agent.log" && break
	sleep 0.1
done
has "agent loaded the late program" 'loaded program 14 for tail calls (prog array jmp \[1\])' \
	"$(cat "$st/agent.log")"
touch "$t/go"
wait $live || { echo "FAIL: live target:"; cat "$t/live.out" "$st/agent.log"; fail=1; }
same "live target" "$(cat "$t/live.out")" 'tailinit_target waited ok'
same "dump late_hits: the tail call reached it" "$("$bext" dump late_hits --store "$st" 2>&1)" \
	'map 13 array name late_hits key 4 value 8 max_entries 1' \
	'key: (__u32)0  value: (__u64)1' \
	'1 entry'
out=$("$bext" update jmp 1 0 --store "$st" 2>&1)
same "update jmp 1 with no program: EBADF" "$out" \
	'bext update: map jmp: no live object with that id (EBADF)'
"$bext" delete jmp 1 --store "$st" >/dev/null 2>&1 || { echo "FAIL: delete jmp 1"; fail=1; }

# --- a detached program stays while a slot holds it -------------------------
out=$("$bext" detach 9 --store "$st" 2>&1) || { echo "FAIL: detach 9: $out"; fail=1; }
out=$("$bext" list --store "$st" 2>&1)
has "detached prog_a kept by jmp's slot" '^9: prog kprobe name prog_a .* refs 1 ' "$out"
same "dump jmp after the detach" "$("$bext" dump jmp --store "$st" 2>&1)" \
	'map 1 prog_array name jmp key 4 value 4 max_entries 4' \
	'key: (__u32)0  value: 09 00 00 00' \
	'key: (__u32)2  value: 0a 00 00 00' \
	'2 entries'
rm -rf "$st"

# --- malformed initialisers: refused with the map named, nothing created ----
bad() { # bad N MESSAGE
	out=$("$bext" load "$t/bad$1.bpf.o" --store "$st" 2>&1)
	rc=$?
	clean "bad$1" "$out"
	same "bad$1: exit 1 and message" "$rc $out" "1 bext load: $t/bad$1.bpf.o: $2"
}
bad 1 'map jmp: initialiser slot [4] is out of range (max_entries 4)'
bad 2 "map jmp: slot [1] is map 'in1', but a prog array holds programs"
bad 3 "map jmp: slot [1] refers to the undefined symbol 'not_here' (an extern?)"
bad 4 "map outer: slot [0] is program 'prog_b', but a map of maps holds maps"
bad 6 "map hwide: initialiser slot [1] needs 4-byte keys, but the key size is 8"
if [ -e "$st" ]; then
	echo "FAIL: a refused object created the store"; fail=1
else
	echo "ok   refused objects created no store"
fi
out=$("$bext" load "$t/bad5.bpf.o" --store "$st" 2>&1)
rc=$?
clean "bad5" "$out"
same "bad5: map of maps without its inner definition" "$rc $out" \
	"1 bext load: $t/bad5.bpf.o: map noinner: a map of maps needs its inner map definition (__array(values, struct inner))"
has "bad5: nothing left in the store" '^0 objects$' "$("$bext" list --store "$st" 2>&1)"

[ $fail -ne 0 ] && exit 1
echo "tail_init: all checks passed"
