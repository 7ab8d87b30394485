#!/bin/sh
# bext list / dump / gc on a store built by store_cli_helper. Usage: test_store_cli.sh BEXT HELPER
set -u
BEXT=$1
HELPER=$2
DIR=/dev/shm/bext-cli-test-$$
fail=0
check() { # check DESCRIPTION PATTERN FILE
	if ! grep -q -- "$2" "$3"; then
		echo "FAIL: $1: no line matching '$2' in:"; cat "$3"; fail=1
	fi
}
cleanup() { rm -rf "$DIR" "$DIR.ready" "$DIR.out" "$DIR.fifo"; }
trap cleanup EXIT
cleanup

"$HELPER" "$DIR" create || { echo "FAIL: helper"; exit 1; }
"$BEXT" list --store "$DIR" > "$DIR.out" 2>&1 || { echo "FAIL: list exit"; cat "$DIR.out"; fail=1; }
check "list hash" '^1: map hash name counts key 4 value 8 max_entries 16 flags 0x0 entries 3 ' "$DIR.out"
check "list percpu" '^2: map percpu_array name pcpu key 4 value 4 max_entries 2 flags 0x0 entries 2 ' "$DIR.out"
check "list lpm" '^3: map lpm_trie name routes key 8 value 4 max_entries 8 flags 0x1 entries 1 ' "$DIR.out"
check "map refs" '^1: map .* refs 2 ' "$DIR.out"
check "list prog" '^4: prog kprobe name prog1 insns 2 maps 1,2 section uprobe/app:func refs 2 ' "$DIR.out"
check "list link" '^5: link prog 4 attach_type 0 target uprobe:/usr/bin/app:func pid -1 ' "$DIR.out"
check "count" '^5 objects$' "$DIR.out"

"$BEXT" dump counts --store "$DIR" > "$DIR.out" 2>&1 || { echo "FAIL: dump exit"; fail=1; }
check "dump header" '^map 1 hash name counts key 4 value 8 max_entries 16$' "$DIR.out"
check "dump k1" '^key: 01 00 00 00  value: 64 00 00 00 00 00 00 00$' "$DIR.out"
check "dump k2" '^key: 02 00 00 00  value: c8 00 00 00 00 00 00 00$' "$DIR.out"
check "dump k3" '^key: 03 00 00 00  value: 2c 01 00 00 00 00 00 00$' "$DIR.out"
check "dump count" '^3 entries$' "$DIR.out"
"$BEXT" dump 2 --store "$DIR" > "$DIR.out" 2>&1 || { echo "FAIL: dump 2 exit"; fail=1; }
check "percpu key" '^key: 01 00 00 00$' "$DIR.out"
check "percpu cpu0" '^  cpu 0: 11 00 00 00$' "$DIR.out"
check "percpu idx0" '^  cpu 0: 00 00 00 00$' "$DIR.out"
check "percpu count" '^2 entries$' "$DIR.out"
"$BEXT" dump routes --store "$DIR" > "$DIR.out" 2>&1
check "lpm dump" '^key: 08 00 00 00 0a 00 00 00  value: 07 00 00 00$' "$DIR.out"
if "$BEXT" dump nosuch --store "$DIR" > "$DIR.out" 2>&1; then echo "FAIL: dump of a missing map succeeded"; fail=1; fi
check "dump missing" 'no map nosuch' "$DIR.out"

# the creator exited: the store is dead and gc removes it, with the logs kept in it
echo "an agent line" > "$DIR/agent.log"
: > "$DIR/trace.log"
"$BEXT" gc --store "$DIR" > "$DIR.out" 2>&1 || { echo "FAIL: gc exit"; cat "$DIR.out"; fail=1; }
check "gc removed" "^removed store $DIR: 5 object segments, " "$DIR.out"
[ ! -e "$DIR" ] || { echo "FAIL: store still there after gc"; fail=1; }
if "$BEXT" gc --store "$DIR" > "$DIR.out" 2>&1; then echo "FAIL: gc of no store succeeded"; fail=1; fi
check "gc none" "^bext: no store at $DIR\$" "$DIR.out"
[ ! -e "$DIR" ] || { echo "FAIL: gc created $DIR"; fail=1; }

# a live holder: gc must refuse, then succeed once the holder is gone
mkfifo "$DIR.fifo"
"$HELPER" "$DIR" hold < "$DIR.fifo" &
HPID=$!
exec 3> "$DIR.fifo"
i=0
while [ ! -e "$DIR.ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -e "$DIR.ready" ] || { echo "FAIL: holder not ready"; fail=1; }
if "$BEXT" gc --store "$DIR" > "$DIR.out" 2>&1; then echo "FAIL: gc of a live store succeeded"; fail=1; fi
check "gc busy" "is in use by a live process: nothing removed" "$DIR.out"
[ -e "$DIR/registry" ] || { echo "FAIL: live store damaged by gc"; fail=1; }
"$BEXT" list --store "$DIR" > "$DIR.out" 2>&1
check "list while held" '^5 objects$' "$DIR.out"
kill -9 $HPID
wait $HPID 2>/dev/null
exec 3>&-
echo "mine" > "$DIR/notes.txt" # not bext's: gc removes the store, keeps the directory
if "$BEXT" gc --store "$DIR" > "$DIR.out" 2>&1; then echo "FAIL: gc with a foreign file succeeded"; fail=1; fi
check "gc after kill" "^bext gc: removed the store in $DIR (5 object segments), kept the directory" "$DIR.out"
[ -e "$DIR/notes.txt" ] && [ ! -e "$DIR/registry" ] || { echo "FAIL: gc with a foreign file"; ls -la "$DIR"; fail=1; }
rm -rf "$DIR"

# dump through the map's BTF (the helper also checks that bad BTF is refused)
"$HELPER" "$DIR" btf || { echo "FAIL: btf helper ($?)"; fail=1; }
"$BEXT" dump pairs --store "$DIR" > "$DIR.out" 2>&1 || { echo "FAIL: btf dump exit"; fail=1; }
check "btf dump 0" '^key: (int)0  value: (struct pair){.a = (int)10,.b = (int)20,}$' "$DIR.out"
check "btf dump 1" '^key: (int)1  value: (struct pair){.a = (int)-1,.b = (int)0,}$' "$DIR.out"
check "btf count" '^2 entries$' "$DIR.out"
rm -rf "$DIR"

[ $fail -eq 0 ] && echo "test_store_cli: all checks passed"
exit $fail
