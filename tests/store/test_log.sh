#!/bin/sh
# bext log: trace_printk output written by the helpers into the store's trace.log,
# the agent log next to it, and -f following appended lines.
# Usage: test_log.sh BEXT LOG_HELPER
set -u
BEXT=$1
HELPER=$2
DIR=/dev/shm/bext-log-test-$$
fail=0
cleanup() { [ -n "${FPID:-}" ] && kill "$FPID" 2>/dev/null; rm -rf "$DIR" "$DIR.out" "$DIR.f"; }
trap cleanup EXIT
cleanup

"$HELPER" "$DIR" 3 42 || { echo "FAIL: helper"; exit 1; }
"$BEXT" log --store "$DIR" > "$DIR.out" 2>&1 || { echo "FAIL: log exit"; cat "$DIR.out"; fail=1; }
n=$(grep -c ' hi 42$' "$DIR.out")
[ "$n" = 3 ] || { echo "FAIL: 3 trace lines expected, got $n:"; cat "$DIR.out"; fail=1; }
# line format: <s.us> <comm>-<tid> [<cpu>] <message>
grep -Eq '^[0-9]+\.[0-9]{6} .*-[0-9]+ \[[0-9]+\] hi 42$' "$DIR.out" ||
	{ echo "FAIL: trace line format:"; cat "$DIR.out"; fail=1; }

# with an agent log present, both are printed, each under a header
echo "agent: test line" > "$DIR/agent.log"
"$BEXT" log --store "$DIR" > "$DIR.out" 2>&1
grep -q "^== $DIR/agent.log$" "$DIR.out" && grep -q "^== $DIR/trace.log$" "$DIR.out" &&
	grep -q '^agent: test line$' "$DIR.out" ||
	{ echo "FAIL: agent + trace logs:"; cat "$DIR.out"; fail=1; }
"$BEXT" log --store "$DIR" --trace > "$DIR.out" 2>&1
if grep -q 'agent: test line' "$DIR.out"; then echo "FAIL: --trace printed the agent log"; fail=1; fi
"$BEXT" log --store "$DIR" --agent > "$DIR.out" 2>&1
if grep -q 'hi 42' "$DIR.out"; then echo "FAIL: --agent printed the trace log"; fail=1; fi

# -f: lines appended later are printed, earlier ones once
"$BEXT" log --store "$DIR" --trace -f > "$DIR.f" 2>&1 &
FPID=$!
sleep 0.5
"$HELPER" "$DIR" 2 7 || fail=1
i=0
while [ "$i" -lt 50 ] && [ "$(grep -c ' hi 7$' "$DIR.f")" != 2 ]; do sleep 0.1; i=$((i + 1)); done
kill "$FPID"; wait "$FPID" 2>/dev/null; FPID=
[ "$(grep -c ' hi 7$' "$DIR.f")" = 2 ] || { echo "FAIL: -f did not print the new lines:"; cat "$DIR.f"; fail=1; }
[ "$(grep -c ' hi 42$' "$DIR.f")" = 3 ] || { echo "FAIL: -f printed old lines not once:"; cat "$DIR.f"; fail=1; }

if "$BEXT" log --bogus > "$DIR.out" 2>&1; then echo "FAIL: bad option accepted"; fail=1; fi
[ $fail = 0 ] && echo "test_log: all checks passed"
exit $fail
