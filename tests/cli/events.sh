#!/bin/sh
# SPDX-License-Identifier: MIT
# `bext events MAP`: events.bpf.o, probed on events_target's emit(kind, x),
# writes a ring buffer (rb) and a perf event array (pe). Checked: the
# records of a run, exactly and in order (a discarded reservation skipped);
# a second read prints nothing (consumed); --count without --follow leaves
# the rest; --follow --count 3 gets records written by the target while it
# waits (with a 60 s slice, only the ring's cross-process wake-up brings them
# in time) and leaves the 4th; SIGINT / SIGTERM end --follow with status 0
# and the summary; --timeout; perf rings by index, the perf padding, lost
# samples of a full ring; errors (no map, a hash map, bad options, no store).
# usage: events.sh BEXT SRCDIR TARGET
set -u
bext=$1 src=$2 target=$3
. "$src/lib.sh"
if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP: clang not found (needed to build the test object)"
	exit 77
fi
t=$(mktemp -d) || exit 1
st=/dev/shm/bext-events-$$
pids=
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$t" "$st"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0

clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src/events.bpf.c" \
	-o "$t/events.bpf.o" || exit 1
out=$("$bext" load "$t/events.bpf.o" --store "$st" 2>&1) || { echo "FAIL: load: $out"; exit 1; }
clean "load" "$out"
same "load output" "$(echo "$out" | tail -n +2)" \
	'map 1 rb' 'map 2 pe' 'map 3 counts' 'map 4 big' 'prog 5 on_emit' \
	'link 6 prog 5 uprobe:events_target:emit+0x0'

# run TARGET-ARGS...: the target under the agent, its output checked
run() {
	res=$("$bext" start --store "$st" -- "$target" "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: target $*: status $rc: $res"; cat "$st/agent.log"; fail=1
	fi
}

# events ARGS...: `bext events ARGS --store $st`, stdout in $out, stderr in $err, status in $rc
events() {
	"$bext" events "$@" --store "$st" > "$t/out" 2> "$t/err"
	rc=$?
	out=$(cat "$t/out") err=$(cat "$t/err")
	clean "events $*" "$out$err"
}

# wait_lines FILE N: until FILE has N lines (10 s at most)
wait_lines() {
	for i in $(seq 100); do
		[ "$(wc -l < "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_exit PID: until PID has exited (15 s at most); its status in $rc, 124 if it was killed
wait_exit() {
	for i in $(seq 150); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"; wait "$1"; rc=124
	else
		wait "$1"; rc=$?
	fi
}

# --- ring buffer: a run's records, in order; the discarded one skipped ------
run rb
same "target rb" "$res" 'events_target rb 4 calls'
events rb
same "events rb: status, records" "$rc
$out" 0 \
	'size 8  01 00 00 00 03 00 00 00' \
	'size 5  02 03 04 05 06' \
	'size 8  02 01 00 00 06 03 00 00'
same "events rb: summary" "$err" '3 records'
events rb
same "events rb again: consumed, nothing printed" "$rc [$out] $err" '0 [] 0 records'
events 1
same "events by id: nothing left" "$rc [$out] $err" '0 [] 0 records'

# --- --count without --follow leaves the rest --------------------------------
run rb
events rb --count 2
same "events rb --count 2" "$rc
$out
$err" 0 'size 8  01 00 00 00 03 00 00 00' 'size 5  02 03 04 05 06' '2 records'
events rb --count=5
same "events rb --count=5: the one left" "$rc
$out
$err" 0 'size 8  02 01 00 00 06 03 00 00' '1 record'

# --- --follow --count 3: records written while it waits ----------------------
BEXT_EVENTS_SLICE_MS=60000 "$bext" events rb --follow --count 3 --store "$st" \
	> "$t/f.out" 2> "$t/f.err" &
fol=$!
pids="$pids $fol"
"$bext" start --store "$st" -- "$target" wait "$t/go" > "$t/w.out" 2>&1 &
tgt=$!
pids="$pids $tgt"
wait_lines "$t/f.out" 1 || { echo "FAIL: follow: no first record"; fail=1; }
touch "$t/go" # the target writes 3 more records now
wait "$tgt" || { echo "FAIL: target wait:"; cat "$t/w.out" "$st/agent.log"; fail=1; }
same "target wait" "$(cat "$t/w.out")" 'events_target waited ok'
wait_exit $fol
same "follow --count 3: woken across processes, exactly 3 records" "$rc
$(cat "$t/f.out")
$(cat "$t/f.err")" 0 \
	'size 8  07 00 00 00 15 00 00 00' \
	'size 5  10 11 12 13 14' \
	'size 8  08 00 00 00 18 00 00 00' \
	'3 records'
events rb
same "events rb: the 4th record stayed" "$rc
$out
$err" 0 'size 8  09 00 00 00 1b 00 00 00' '1 record'

# --- --follow until SIGINT ---------------------------------------------------
"$bext" events rb --follow --store "$st" > "$t/i.out" 2> "$t/i.err" &
fol=$!
pids="$pids $fol"
run rb
wait_lines "$t/i.out" 3 || { echo "FAIL: follow: 3 records not seen"; fail=1; }
kill -INT $fol
wait_exit $fol
same "follow, SIGINT: status 0, records, summary" "$rc
$(cat "$t/i.out")
$(cat "$t/i.err")" 0 \
	'size 8  01 00 00 00 03 00 00 00' \
	'size 5  02 03 04 05 06' \
	'size 8  02 01 00 00 06 03 00 00' \
	'3 records'

# --- --timeout: seconds without records ---------------------------------------
events rb --follow --timeout 0.3
same "follow --timeout 0.3, nothing comes: status 0" "$rc [$out] $err" '0 [] 0 records'
events rb --follow --count 2 --timeout 0.3
same "follow --count 2 --timeout 0.3, nothing comes: status 1" "$rc [$out] $err" \
	'1 [] 0 records
bext events: no record for 0.3 s: 0 of 2 records'

# --- perf event array: rings by index, padding ---------------------------------
run pe
same "target pe" "$res" 'events_target pe 4 calls'
events pe
same "events pe: rings in index order, 8 bytes padded to 12" "$rc
$out
$err" 0 \
	'cpu 1  size 12  01 00 00 00 02 00 00 00 03 00 00 00' \
	'cpu 1  size 12  cd ab 00 00 00 00 00 00 00 00 00 00' \
	'cpu 2  size 12  02 00 00 00 03 00 00 00 04 00 00 00' \
	'cpu 2  size 12  06 00 00 00 07 00 00 00 08 00 00 00' \
	'4 records'
events pe
same "events pe again: consumed" "$rc [$out] $err" '0 [] 0 records'
run pe
events pe --count 1
same "events pe --count 1" "$rc
$out
$err" 0 'cpu 1  size 12  01 00 00 00 02 00 00 00 03 00 00 00' '1 record'
events pe --follow --count 3 --timeout 5
same "events pe --follow --count 3: the other 3" "$rc
$out
$err" 0 \
	'cpu 1  size 12  cd ab 00 00 00 00 00 00 00 00 00 00' \
	'cpu 2  size 12  02 00 00 00 03 00 00 00 04 00 00 00' \
	'cpu 2  size 12  06 00 00 00 07 00 00 00 08 00 00 00' \
	'3 records'

# perf --follow until SIGTERM; 60 s slices: only the wake-up brings the records in time
BEXT_EVENTS_SLICE_MS=60000 "$bext" events pe --follow --store "$st" > "$t/p.out" 2> "$t/p.err" &
fol=$!
pids="$pids $fol"
run pe
wait_lines "$t/p.out" 4 || { echo "FAIL: perf follow: 4 records not seen"; fail=1; }
kill -TERM $fol
wait_exit $fol
same "perf follow, SIGTERM: status 0, records, summary" "$rc
$(cat "$t/p.out")
$(cat "$t/p.err")" 0 \
	'cpu 1  size 12  01 00 00 00 02 00 00 00 03 00 00 00' \
	'cpu 1  size 12  cd ab 00 00 00 00 00 00 00 00 00 00' \
	'cpu 2  size 12  02 00 00 00 03 00 00 00 04 00 00 00' \
	'cpu 2  size 12  06 00 00 00 07 00 00 00 08 00 00 00' \
	'4 records'

# --- lost samples: 10 x 4000 bytes into ring 3's 32 KiB, 8 fit ---------------
run flood
events pe
# 4000 bytes padded to 4004; bytes 0 and 3999 are 01, the rest 0
pad=$(printf ' 00%.0s' $(seq 3998))
want=$(for i in 1 2 3 4 5 6 7 8; do echo "cpu 3  size 4004  01$pad 01 00 00 00 00"; done)
same "events pe after a flood: the 8 that fit" "$rc
$out
$err" 0 "$want" '8 records'
run one
events pe
same "events pe: the 2 lost before the next sample" "$rc
$out
$err" 0 'cpu 3  lost 2' 'cpu 3  size 12  07 00 00 00 08 00 00 00 09 00 00 00' '1 record, 2 lost'

# --- errors ------------------------------------------------------------------
events nosuch
same "no such map: status 1" "$rc [$out] $err" "1 [] bext events: no map nosuch in $st"
events counts
same "a hash map: status 1" "$rc [$out] $err" \
	'1 [] bext events: map counts is a hash map, not a ring buffer or perf event array'
events 4
same "an array map: status 1" "$rc [$out] $err" \
	'1 [] bext events: map big is an array map, not a ring buffer or perf event array'
usage='usage: bext events MAP [--follow] [--count N] [--timeout SEC] [--store DIR]'
events
same "no MAP: status 2" "$rc [$out] $err" "2 [] $usage"
events rb --bogus
same "unknown option: status 2" "$rc [$out] $err" "2 [] $usage"
events rb --count 0
same "--count 0: status 2" "$rc [$out] $err" \
	"2 [] bext events: bad --count '0' (a number of records, 1 or more)"
events rb --count 3x
same "--count 3x: status 2" "$rc [$out] $err" \
	"2 [] bext events: bad --count '3x' (a number of records, 1 or more)"
events rb --follow --timeout -1
same "--timeout -1: status 2" "$rc [$out] $err" \
	"2 [] bext events: bad --timeout '-1' (seconds, more than 0)"
events rb --timeout 1
same "--timeout without --follow: status 2" "$rc [$out] $err" \
	'2 [] bext events: --timeout needs --follow'
"$bext" events rb --count > "$t/out" 2>&1
same "--count without a value: status 2" "$? $(cat "$t/out")" \
	"2 bext events: --count needs a value
$usage"
out=$("$bext" events rb --store "$t/nostore" 2>&1)
same "no store: status 1" "$? $out" "1 bext: no store at $t/nostore"
if [ -e "$t/nostore" ]; then
	echo "FAIL: bext events created $t/nostore"; fail=1
else
	echo "ok   no store: nothing created"
fi

exit $fail
