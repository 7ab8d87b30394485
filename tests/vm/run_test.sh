#!/bin/sh
# SPDX-License-Identifier: MIT
# `bext run` on an assembler file with a memory file, on both engines, checking the
# printed r0; and a program calling an unregistered helper must fail clearly (exit 1).
# usage: run_test.sh BEXT SRCDIR
set -u
bext=$1 dir=$2 fail=0
for engine in interp jit; do
	out=$("$bext" run "$dir/run_example.s" --mem "$dir/run_example.mem" --engine $engine --repeat 5 2>&1)
	if echo "$out" | grep -qx 'r0 = 0x3f2 (1010)'; then
		echo "ok   $engine: r0 = 1010"
	else
		echo "FAIL $engine: expected 'r0 = 0x3f2 (1010)' in:"; echo "$out"; fail=1
	fi
	out=$("$bext" run "$dir/run_example.s" --engine $engine 2>&1)
	if echo "$out" | grep -qx 'r0 = 0x3e8 (1000)'; then
		echo "ok   $engine without memory: r0 = 1000"
	else
		echo "FAIL $engine without memory: expected 'r0 = 0x3e8 (1000)' in:"; echo "$out"; fail=1
	fi
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
printf 'call 6\nexit\n' > "$tmp/helper.s"
out=$("$bext" run "$tmp/helper.s" 2>&1); rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q 'unknown helper 6'; then
	echo "ok   unknown helper rejected: $out"
else
	echo "FAIL unknown helper: rc=$rc out=$out"; fail=1
fi
exit $fail
