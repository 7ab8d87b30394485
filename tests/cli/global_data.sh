#!/bin/sh
# SPDX-License-Identifier: MIT
# `bext dump` of global data maps (.data, .rodata, .bss, .data.*): loaded
# with `bext load`, each variable printed by name with its typed value
# through the map's BTF (the object's DATASEC, fixed up by the loader), before
# and after a run of gdata_target under `bext start` whose probe changes them.
# Then the odd objects: one whose DATASEC names a variable with no symbol
# (renamed in the ELF string table) and one built without -g (no .BTF) both
# still load, and their data maps are dumped as bytes.
# usage: global_data.sh BEXT SRCDIR TARGET ELF_RENAME_SYM
set -u
bext=$1 src=$2 target=$3 rename=$4
. "$src/lib.sh"
if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP: clang not found (needed to build the test objects)"
	exit 77
fi
t=$(mktemp -d) || exit 1
st=/dev/shm/bext-gdata-$$
trap 'rm -rf "$t" "$st"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0


BPFCC="clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -c $src/gdata.bpf.c"
$BPFCC -g -o "$t/gdata.bpf.o" || exit 1
$BPFCC -o "$t/gdnobtf.bpf.o" || exit 1
"$rename" "$t/gdata.bpf.o" "$t/gdnosym.bpf.o" counter countex || exit 1

# --- typed, as loaded -----------------------------------------------------
out=$("$bext" load "$t/gdata.bpf.o" --store "$st" 2>&1) || { echo "FAIL: load: $out"; exit 1; }
echo "$out"
clean "load" "$out"
out=$("$bext" list --store "$st" 2>&1)
clean "list" "$out"
has "list .data" '^1: map array name gdata.data key 4 value 25 max_entries 1 flags 0x0 entries 1 ' "$out"
has "list .rodata" '^2: map array name gdata.rodata key 4 value 10 max_entries 1 flags 0x80 entries 1 ' "$out"
has "list .bss" '^4: map array name gdata.bss key 4 value 20 max_entries 1 flags 0x0 entries 1 ' "$out"
has "list .data.extra" '^3: map array name gdata.data.extr key 4 value 4 max_entries 1 flags 0x0 entries 1 ' "$out"

same "dump .data" "$("$bext" dump gdata.data --store "$st" 2>&1)" \
	'map 1 array name gdata.data key 4 value 25 max_entries 1' \
	'counter = (int)42' \
	"name = (char[8])['a','b','c',]" \
	"where = (struct pt){.x = (int)-7,.y = (short)300,.tag = (char[3])['h','i',],}" \
	'small = (unsigned char)200' \
	'4 variables in .data'
same "dump .rodata (frozen)" "$("$bext" dump gdata.rodata --store "$st" 2>&1)" \
	'map 2 array name gdata.rodata key 4 value 10 max_entries 1' \
	'step = (int)1000' \
	"greet = (char[6])['h','e','l','l','o',]" \
	'2 variables in .rodata'
same "dump .bss (zeros)" "$("$bext" dump 4 --store "$st" 2>&1)" \
	'map 4 array name gdata.bss key 4 value 20 max_entries 1' \
	'hits = (long)0' \
	'last = (struct pt){.x = (int)0,.y = (short)0,.tag = (char[3])[],}' \
	'2 variables in .bss'
same "dump .data.extra" "$("$bext" dump 3 --store "$st" 2>&1)" \
	'map 3 array name gdata.data.extr key 4 value 4 max_entries 1' \
	'extra = (int)7' \
	'1 variable in .data.extra'

# --- after a run: tick(1), tick(2), tick(3) --------------------------------
res=$("$bext" start --store "$st" -- "$target" 2>&1)
if [ "$res" != "gdata_target sum 12" ]; then
	echo "FAIL: target run: $res"; cat "$st/agent.log" 2>/dev/null; fail=1
fi
same "dump .data after the run" "$("$bext" dump gdata.data --store "$st" 2>&1)" \
	'map 1 array name gdata.data key 4 value 25 max_entries 1' \
	'counter = (int)3042' \
	"name = (char[8])['a','b','c','d',]" \
	"where = (struct pt){.x = (int)-7,.y = (short)300,.tag = (char[3])['h','i',],}" \
	'small = (unsigned char)197' \
	'4 variables in .data'
same "dump .bss after the run" "$("$bext" dump gdata.bss --store "$st" 2>&1)" \
	'map 4 array name gdata.bss key 4 value 20 max_entries 1' \
	'hits = (long)3' \
	"last = (struct pt){.x = (int)6,.y = (short)301,.tag = (char[3])['h','o',],}" \
	'2 variables in .bss'
same "dump .rodata after the run" "$("$bext" dump gdata.rodata --store "$st" 2>&1)" \
	'map 2 array name gdata.rodata key 4 value 10 max_entries 1' \
	'step = (int)1000' \
	"greet = (char[6])['h','e','l','l','o',]" \
	'2 variables in .rodata'
same "dump .data.extra after the run" "$("$bext" dump 3 --store "$st" 2>&1)" \
	'map 3 array name gdata.data.extr key 4 value 4 max_entries 1' \
	'extra = (int)10' \
	'1 variable in .data.extra'
rm -rf "$st"

# --- a DATASEC variable without its symbol: loads, .data in bytes ---------
out=$(BEXT_VERBOSE=1 "$bext" load "$t/gdnosym.bpf.o" --no-attach --store "$st" 2>&1) ||
	{ echo "FAIL: load of gdnosym: $out"; fail=1; }
clean "load of gdnosym" "$out"
has "no-symbol load says why" \
	'map .data: its BTF DATASEC does not describe the section, created without BTF' "$out"
same "no-symbol .data in bytes" "$("$bext" dump gdnosym.data --store "$st" 2>&1)" \
	'map 1 array name gdnosym.data key 4 value 25 max_entries 1' \
	'key: 00 00 00 00  value: 2a 00 00 00 61 62 63 00 00 00 00 00 f9 ff ff ff 2c 01 68 69 00 00 00 00 c8' \
	'1 entry'
# the other sections' DATASECs are still fine
same "no-symbol .rodata typed" "$("$bext" dump gdnosym.rodata --store "$st" 2>&1)" \
	'map 2 array name gdnosym.rodata key 4 value 10 max_entries 1' \
	'step = (int)1000' \
	"greet = (char[6])['h','e','l','l','o',]" \
	'2 variables in .rodata'
rm -rf "$st"

# --- no .BTF at all: loads, every data map in bytes -----------------------
out=$(BEXT_VERBOSE=1 "$bext" load "$t/gdnobtf.bpf.o" --no-attach --store "$st" 2>&1) ||
	{ echo "FAIL: load of gdnobtf: $out"; fail=1; }
clean "load of gdnobtf" "$out"
same "no-BTF .bss in bytes" "$("$bext" dump gdnobtf.bss --store "$st" 2>&1)" \
	'map 4 array name gdnobtf.bss key 4 value 20 max_entries 1' \
	'key: 00 00 00 00  value: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00' \
	'1 entry'
same "no-BTF .rodata in bytes" "$("$bext" dump gdnobtf.rodata --store "$st" 2>&1)" \
	'map 2 array name gdnobtf.rodata key 4 value 10 max_entries 1' \
	'key: 00 00 00 00  value: e8 03 00 00 68 65 6c 6c 6f 00' \
	'1 entry'

[ $fail -eq 0 ] && echo "global_data: all checks passed"
exit $fail
