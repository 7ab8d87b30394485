#!/bin/bash
# SPDX-License-Identifier: MIT
# End-to-end: real targets under `bext start`, extensions loaded with `bext load`,
# results read back from the store. Usage: run_e2e.sh CASE
# Env: BEXT (the CLI), E2E_BIN (targets + e2e_map), E2E_OBJ (the .bpf.o files).
set -u
CASE=$1
STORE=$(mktemp -d /dev/shm/bext-e2e-XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$STORE"
}
trap cleanup EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0

log() { cat "$STORE/agent.log" 2>/dev/null; }
fail() {
	echo "FAIL ($CASE): $*"
	echo "--- agent log:"; log
	exit 1
}
eq() { [ "$1" == "$2" ] || fail "$3: got '$1', want '$2'"; }
load() { "$BEXT" load "$@" --store "$STORE" || fail "bext load $*"; }
start() { "$BEXT" start --store "$STORE" -- "$@"; }
# start_bg OUT ARGS...: in the background; its pid (the target's: bext execs it) joins PIDS
start_bg() {
	local out=$1
	shift
	"$BEXT" start --store "$STORE" -- "$@" >"$out" &
	PIDS+=($!)
}
mapv() { "$E2E_BIN/e2e_map" "$STORE" "$1" "$2"; }
ids() { awk -v k="$1" '$1 == k { print $2 }'; } # ids of "map|prog|link" lines
# wait_log PATTERN [N]: until PATTERN occurs N times in the agent log (10 s)
wait_log() {
	local i
	for i in $(seq 1000); do
		[ "$(log | grep -c -- "$1")" -ge "${2:-1}" ] && return 0
		sleep 0.01
	done
	fail "no '$1' in the agent log"
}
LOOP="$E2E_BIN/e2e_loop"
LOOP_ADD=$((3 * 999 * 1000 / 2)) # sum of add(i, 2i) for i < 1000

check_loop_1000() { # $1: pid of the run, $2: calls expected of it
	eq "$(mapv stats 0)" 1000 "add calls"
	eq "$(mapv stats 1)" 499500 "sum of add's a"
	eq "$(mapv stats 2)" 999000 "sum of add's b"
	eq "$(mapv stats 3)" 1000 "add returns"
	eq "$(mapv stats 4)" $LOOP_ADD "sum of add's results"
	eq "$(mapv stats 5)" 1000 "mul+3 hits"
	eq "$(mapv stats 6)" 499500 "sum of mul's a at +3"
	eq "$(mapv loop.bss 0)" 2000 ".bss counter (step from .rodata)"
	eq "$(mapv loop.data 0)" 2000 ".data counter (initial 1000)"
	eq "$(mapv per_pid "$1")" "$2" "calls of pid $1"
}

case $CASE in
load_then_start)
	out=$(load "$E2E_OBJ/loop.bpf.o" --cookie 0x1234)
	echo "$out"
	[ "$(echo "$out" | ids link | wc -l)" == 3 ] || fail "3 links expected"
	res=$(start "$LOOP" 1000) || fail "target failed: $res"
	echo "$res"
	pid=$(echo "$res" | awk '{print $3}')
	eq "$(echo "$res" | awk '{print $5, $7}')" "$LOOP_ADD $LOOP_ADD" "target's own sums"
	check_loop_1000 "$pid" 1000
	eq "$(mapv stats 7)" 4660 "attach cookie"
	eq "$(log | grep -c "attached link")" 3 "links attached"
	;;
start_then_load)
	start_bg "$STORE/out" "$LOOP" 1000 --go "$STORE/go"
	sleep 0.2 # the target is up, its agent waits for links
	links=$(load "$E2E_OBJ/loop.bpf.o" | ids link)
	for l in $links; do wait_log "attached link $l "; done
	touch "$STORE/go"
	wait "${PIDS[0]}" || fail "target failed: $(cat "$STORE/out")"
	cat "$STORE/out"
	check_loop_1000 "${PIDS[0]}" 1000
	;;
live_detach)
	start_bg "$STORE/out" "$LOOP" 0 --go "$STORE/go" --until "$STORE/stop"
	out=$(load "$E2E_OBJ/loop.bpf.o")
	links=($(echo "$out" | ids link))
	progs=($(echo "$out" | ids prog))
	for l in "${links[@]}"; do wait_log "attached link $l "; done
	touch "$STORE/go"
	for i in $(seq 500); do [ "$(mapv stats 0)" -gt 1000 ] && break; sleep 0.01; done
	[ "$(mapv stats 0)" -gt 1000 ] || fail "add is not counted while running"
	"$BEXT" detach "${links[0]}" --store "$STORE" || fail "detach link"
	wait_log "detached link ${links[0]} "
	c1=$(mapv stats 0) r1=$(mapv stats 3)
	sleep 0.3
	c2=$(mapv stats 0) r2=$(mapv stats 3)
	eq "$c2" "$c1" "add entry count after its link was detached"
	[ "$r2" -gt "$r1" ] || fail "the uretprobe link stopped too ($r1 -> $r2)"
	"$BEXT" detach "${progs[1]}" --store "$STORE" || fail "detach prog"
	wait_log "detached link ${links[1]} "
	r1=$(mapv stats 3)
	sleep 0.3
	eq "$(mapv stats 3)" "$r1" "add returns after the program was removed"
	touch "$STORE/stop"
	wait "${PIDS[0]}" || fail "target failed: $(cat "$STORE/out")"
	cat "$STORE/out"
	;;
mt)
	load "$E2E_OBJ/mt.bpf.o"
	res=$(start "$E2E_BIN/e2e_mt" 20000) || fail "target failed: $res"
	echo "$res"
	eq "$res" "ok calls 160000" "target's own check"
	for i in 0 1 2 3 4 5 6 7; do
		eq "$(mapv calls $i)" 20000 "calls of thread $i"
		eq "$(mapv jsum $i)" 199990000 "sum of j of thread $i"
	done
	eq "$(mapv mt.bss 0)" 160000 "total calls (.bss)"
	;;
mt_live)
	start_bg "$STORE/out" "$E2E_BIN/e2e_mt" 0 "$STORE/stop"
	sleep 0.1 # 8 threads are calling work() now
	for round in 1 2 3; do
		out=$(load "$E2E_OBJ/mt.bpf.o")
		l=$(echo "$out" | ids link)
		wait_log "attached link $l "
		sleep 0.1
		"$BEXT" detach "$(echo "$out" | ids prog)" --store "$STORE" >/dev/null
		wait_log "detached link $l "
	done
	touch "$STORE/stop"
	wait "${PIDS[0]}" || fail "target failed: $(cat "$STORE/out")"
	cat "$STORE/out"
	grep -q "^ok calls" "$STORE/out" || fail "target's own check"
	n=$(mapv mt.bss 0)
	[ "$n" -gt 0 ] || fail "no call counted while attached"
	s=0
	for i in 0 1 2 3 4 5 6 7; do s=$((s + $(mapv calls $i))); done
	eq "$s" "$n" "per-thread counts add up to the total"
	;;
malloc)
	if [ -n "${E2E_ASAN:-}" ]; then
		echo "SKIP: under AddressSanitizer, malloc is ASan's, not libc.so.6's"
		exit 77
	fi
	load "$E2E_OBJ/malloc.bpf.o"
	res=$(start "$E2E_BIN/e2e_malloc" 100) || fail "target failed: $res"
	echo "$res"
	eq "$(mapv mcount 0)" 100 "malloc calls of the test sizes"
	eq "$(mapv mcount 1)" 12304950 "bytes asked for"
	eq "$(mapv mcount 2)" 100 "non-NULL returns"
	eq "$(mapv mcount 3)" 12304950 "sizes seen at return"
	;;
throw)
	load "$E2E_OBJ/throw.bpf.o"
	res=$(start "$E2E_BIN/e2e_throw" 300) || fail "target failed: $res"
	echo "$res"
	eq "$res" "caught 100 sum 30000" "target's own result"
	eq "$(mapv tstats 0)" 300 "thrower entries"
	eq "$(mapv tstats 1)" 44850 "sum of x"
	# documented: the return probe fires on normal returns only (not when unwinding)
	eq "$(mapv tstats 2)" 200 "thrower normal returns"
	eq "$(mapv tstats 3)" 30000 "sum of results"
	;;
exit_mid_attach)
	want=$((3 * 199999 * 200000 / 2))
	for round in $(seq 10); do
		start_bg "$STORE/out" "$LOOP" 200000
		p=${PIDS[-1]}
		out=$(load "$E2E_OBJ/loop.bpf.o")
		wait $p || fail "round $round: target failed: $(cat "$STORE/out")"
		eq "$(awk '{print $5}' "$STORE/out")" "$want" "round $round: target's own sum"
		for pr in $(echo "$out" | ids prog); do
			"$BEXT" detach "$pr" --store "$STORE" >/dev/null || fail "detach"
		done
	done
	;;
missing_symbol)
	links=($(load "$E2E_OBJ/missing.bpf.o" | ids link))
	res=$(start "$LOOP" 500) || fail "target failed: $res"
	echo "$res"
	eq "$(echo "$res" | awk '{print $5}')" $((3 * 499 * 500 / 2)) "target's own sum"
	log | grep "link ${links[0]} " | grep "not installed" | grep -q no_such_function ||
		fail "no reason for link ${links[0]} in the log"
	"$BEXT" log --store "$STORE" | grep -q "no_such_function" || fail "bext log"
	eq "$(mapv mstats 0)" 0 "hits of the missing function"
	eq "$(mapv mstats 1)" 500 "the other link still counts"
	;;
fork_exec)
	load "$E2E_OBJ/loop.bpf.o" >/dev/null
	res=$(start "$LOOP" 1000 --fork) || fail "target failed: $res"
	echo "$res"
	eq "$(mapv stats 0)" 2000 "add calls of parent and child"
	for p in $(echo "$res" | awk '{print $3}'); do
		eq "$(mapv per_pid "$p")" 1000 "calls of pid $p"
	done
	# exec: the agent comes along through LD_PRELOAD
	res=$(start /bin/sh -c "$LOOP 100 && exec $LOOP 100") || fail "sh: $res"
	eq "$(mapv stats 0)" 2200 "add calls after two exec'd runs"
	;;
pid_filter)
	start_bg "$STORE/a" "$LOOP" 1000 --go "$STORE/go"
	start_bg "$STORE/b" "$LOOP" 1000 --go "$STORE/go"
	links=$(load "$E2E_OBJ/loop.bpf.o" --pid "${PIDS[0]}" | ids link)
	for l in $links; do wait_log "pid ${PIDS[0]} .*attached link $l "; done
	touch "$STORE/go"
	wait "${PIDS[0]}" && wait "${PIDS[1]}" || fail "targets failed"
	eq "$(mapv stats 0)" 1000 "calls of the pid-filtered target only"
	eq "$(mapv per_pid "${PIDS[0]}")" 1000 "calls of pid ${PIDS[0]}"
	mapv per_pid "${PIDS[1]}" >/dev/null && fail "pid ${PIDS[1]} was probed"
	;;
override)
	load "$E2E_OBJ/override.bpf.o" >/dev/null
	res=$(start "$LOOP" 100) || fail "target failed: $res"
	if log | grep -q "not installed"; then
		log
		echo "SKIP: bpf_override_return is not available in this build"
		exit 77
	fi
	echo "$res"
	eq "$(echo "$res" | awk '{print $5, $7}')" "$((3 * 99 * 100 / 2)) 4200" \
		"add untouched, mul overridden to return 42"
	;;
dlopen | dlopen_path)
	# the links are in the store before start; the library comes later, by
	# dlopen: probed before dlopen returns, so every call counts
	name=libe2e_plugin.so # found through e2e_dlopen's RUNPATH ($ORIGIN)
	[ "$CASE" == dlopen_path ] && name="$E2E_BIN/libe2e_plugin.so"
	if ! "$E2E_BIN/e2e_dlopen" 1 "$name" >/dev/null; then
		# ASan's dlopen interceptor is the caller glibc sees: no RUNPATH
		echo "SKIP: e2e_dlopen cannot dlopen $name even without bext"
		exit 77
	fi
	links=($(load "$E2E_OBJ/dlopen.bpf.o" | ids link))
	res=$(start "$E2E_BIN/e2e_dlopen" 500 "$name") || fail "target failed: $res"
	echo "$res"
	eq "$(echo "$res" | awk '{print $4}')" $((7 * 499 * 500 / 2 + 500)) "target's own sum"
	for l in "${links[@]}"; do wait_log "attached link $l "; done
	eq "$(mapv pstats 0)" 500 "plugin_fn calls"
	eq "$(mapv pstats 1)" $((499 * 500 / 2)) "sum of x"
	eq "$(mapv pstats 2)" 500 "plugin_fn returns"
	eq "$(mapv pstats 3)" $((7 * 499 * 500 / 2 + 500)) "sum of results"
	;;
dlmopen_poll)
	# dlmopen does not go through the agent's dlopen: the watcher's poll of
	# the loaded objects finds the library
	links=($(load "$E2E_OBJ/dlopen.bpf.o" | ids link))
	start_bg "$STORE/out" "$E2E_BIN/e2e_dlopen" 300 "$E2E_BIN/libe2e_plugin.so" \
		--dlmopen "$STORE/go"
	for l in "${links[@]}"; do wait_log "attached link $l "; done
	touch "$STORE/go"
	wait "${PIDS[0]}" || fail "target failed: $(cat "$STORE/out")"
	cat "$STORE/out"
	eq "$(mapv pstats 0)" 300 "plugin_fn calls"
	eq "$(mapv pstats 2)" 300 "plugin_fn returns"
	eq "$(mapv pstats 3)" $((7 * 299 * 300 / 2 + 300)) "sum of results"
	;;
dlclose)
	# a probed library unloaded with dlclose: bext forgets its sites (never
	# writes there again), another library is mapped where it was (its bytes
	# are checked against its file), a link is detached meanwhile, and the
	# library loaded again gets its remaining link back
	lib="$E2E_BIN/libe2e_plugin.so" other="$E2E_BIN/libe2e_other.so"
	if ! "$E2E_BIN/e2e_dlclose" 1 "$lib" "$other" /dev/null >/dev/null; then
		echo "SKIP: e2e_dlclose fails even without bext"
		exit 77
	fi
	out=$(load "$E2E_OBJ/dlopen.bpf.o")
	echo "$out"
	links=($(echo "$out" | ids link)) # on_plugin (uprobe), on_plugin_ret (uretprobe)
	[ ${#links[@]} == 2 ] || fail "2 links expected"
	start_bg "$STORE/out" "$E2E_BIN/e2e_dlclose" 200 "$lib" "$other" "$STORE/go"
	for i in $(seq 1000); do
		grep -q "^ready" "$STORE/out" && break
		kill -0 "${PIDS[0]}" 2>/dev/null || break
		sleep 0.01
	done
	grep -q "^ready" "$STORE/out" || fail "target not ready: $(cat "$STORE/out")"
	wait_log "dlclose(.*): 1 probed addresses unloaded"
	for l in "${links[@]}"; do wait_log "link $l .*unloaded (dlclose)"; done
	eq "$(mapv pstats 0)" 200 "plugin_fn calls before dlclose"
	eq "$(mapv pstats 2)" 200 "plugin_fn returns before dlclose"
	# detach the uretprobe link while nothing of it is installed
	"$BEXT" detach "${links[1]}" --store "$STORE" >/dev/null || fail "detach"
	sleep 0.3 # the watcher sees the store change
	touch "$STORE/go"
	wait "${PIDS[0]}" || fail "target failed: $(cat "$STORE/out")"
	cat "$STORE/out"
	res=$(tail -n 1 "$STORE/out")
	s=$((7 * 199 * 200 / 2 + 200))
	eq "$(echo "$res" | awk '{print $6, $8, $10}')" "$s $((5 * 199 * 200 / 2 + 400)) $s" \
		"target's sums (plugin, other library at the old address, plugin again)"
	wait_log "attached link ${links[0]} " 2
	eq "$(mapv pstats 0)" 400 "plugin_fn calls, before and after the reload"
	eq "$(mapv pstats 1)" $((2 * 199 * 200 / 2)) "sum of x"
	eq "$(mapv pstats 2)" 200 "returns: the detached uretprobe is not installed again"
	eq "$(mapv pstats 3)" "$s" "sum of results"
	eq "$(log | grep -c "attached link ${links[1]} ")" 1 "uretprobe link attached once"
	log | grep -E "failed|not installed" && fail "unexpected failure in the log"
	;;
*)
	echo "unknown case $CASE"
	exit 2
	;;
esac
echo "PASS ($CASE)"
