#!/bin/sh
# SPDX-License-Identifier: MIT
# Pipes two conformance programs (ldxb.data and lddw.data, hand-encoded) through
# the plugin in one mode and checks the printed r0.  usage: plugin_test.sh PLUGIN MODE
set -u
plugin=$1 mode=$2 fail=0

check() { # name expected memory program-hex
	got=$(echo "$4" | "$plugin" "$3" "$mode" 2>&1)
	if [ "$got" = "$2" ]; then
		echo "ok   $1 $mode: $got"
	else
		echo "FAIL $1 $mode: expected '$2', got '$got'"
		fail=1
	fi
}

# ldxb %r0, [%r1+0x2]; exit   (mem aa bb 11 cc dd)
check ldxb 11 "aa bb 11 cc dd" "71 10 02 00 00 00 00 00 95 00 00 00 00 00 00 00"
# lddw %r0, 0x1122334455667788; exit   (no memory)
check lddw 1122334455667788 "" \
	"18 00 00 00 88 77 66 55 00 00 00 00 44 33 22 11 95 00 00 00 00 00 00 00"
# mov %r1, -1; mov %r2, 5; call %r2; mov %r0, 2; exit   (callx.data: helper 5 via callx)
check callx 2 "" "b7 01 00 00 ff ff ff ff b7 02 00 00 05 00 00 00 8d 02 00 00 00 00 00 00 b7 00 00 00 02 00 00 00 95 00 00 00 00 00 00 00"
# an unknown opcode must be an error with a non-zero exit status
if echo "ff 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00" | "$plugin" "" "$mode" >/dev/null 2>&1; then
	echo "FAIL bad opcode $mode: accepted"
	fail=1
else
	echo "ok   bad opcode $mode: rejected"
fi
exit $fail
