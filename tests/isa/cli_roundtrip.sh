#!/bin/sh
# SPDX-License-Identifier: MIT
# CLI test for `bext asm` and `bext disasm`: asm -> disasm -> asm gives the same
# bytes (every conformance file plus every pseudo form), exact bytes for a
# known program, error messages and exit statuses, and an ELF object when the
# program-file reader and clang can provide one.
# Usage: cli_roundtrip.sh BEXT CONFORMANCE_DIR WORK_DIR
set -u
BEXT=$1
CONF=$2
WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

hexof() { od -An -tx1 -v "$1" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }

# 1. Exact bytes for a known program.
printf 'mov %%r0, 1\nexit\n' >"$WORK/one.s"
if ! "$BEXT" asm "$WORK/one.s" -o "$WORK/one.bin" 2>"$WORK/err"; then
	if grep -q "not supported yet" "$WORK/err"; then
		echo "SKIP: load_program_file() is still a stub: $(cat "$WORK/err")"
		exit 77
	fi
	fail "asm one.s: $(cat "$WORK/err")"
fi
want="b7 00 00 00 01 00 00 00 95 00 00 00 00 00 00 00"
[ "$(hexof "$WORK/one.bin")" = "$want" ] || fail "one.bin is '$(hexof "$WORK/one.bin")', want '$want'"

# 2. Round trip: every conformance file's asm section, and the pseudo forms.
cat >"$WORK/pseudo.s" <<'S'
lddw %r1, map_fd 3
lddw %r1, map_value 3+16
lddw %r1, map_idx 1
lddw %r1, map_idx_value 1+8
lddw %r1, btf_id 42 fd 5
lddw %r2, func fn
call kfunc 77, 1
call kfunc 78
ldabsb 12
ldindw %r2, -4
call local fn
gotol fn
exit
fn:
mov %r0, 0x12345678
exit
S
n=0
for f in "$CONF"/*.data "$WORK/pseudo.s"; do
	base=$(basename "$f")
	case "$f" in
	*.data) sed -n '/^-- *asm/,/^--/p' "$f" | sed '1d;/^--/d' >"$WORK/in.s" ;;
	*) cp "$f" "$WORK/in.s" ;;
	esac
	if ! "$BEXT" asm "$WORK/in.s" -o "$WORK/a.bin" 2>"$WORK/err"; then
		fail "$base: asm: $(cat "$WORK/err")"
		continue
	fi
	if ! "$BEXT" disasm "$WORK/a.bin" >"$WORK/d.s" 2>"$WORK/err"; then
		fail "$base: disasm: $(cat "$WORK/err")"
		continue
	fi
	if ! "$BEXT" asm "$WORK/d.s" -o "$WORK/b.bin" 2>"$WORK/err"; then
		fail "$base: re-asm: $(cat "$WORK/err")"
		continue
	fi
	cmp -s "$WORK/a.bin" "$WORK/b.bin" || fail "$base: bytes differ after asm -> disasm -> asm"
	n=$((n + 1))
done
echo "round-tripped $n programs through the CLI"
[ "$n" -ge 314 ] || fail "only $n programs round-tripped"

# 3. Bad input: message with the line number, exit status 1.
printf 'mov %%r0, 1\nmov %%r12, 2\nexit\n' >"$WORK/bad.s"
"$BEXT" asm "$WORK/bad.s" -o "$WORK/bad.bin" 2>"$WORK/err"
st=$?
[ $st -eq 1 ] || fail "asm bad.s exit status $st, want 1"
grep -q "line 2: bad register '%r12'" "$WORK/err" || fail "asm bad.s message: $(cat "$WORK/err")"
[ ! -e "$WORK/bad.bin" ] || fail "asm bad.s left an output file"

# An invalid instruction in a .bin: printed as invalid, exit status 1.
printf '\377\000\000\000\000\000\000\000\225\000\000\000\000\000\000\000' >"$WORK/inv.bin"
"$BEXT" disasm "$WORK/inv.bin" >"$WORK/out" 2>"$WORK/err"
st=$?
[ $st -eq 1 ] || fail "disasm inv.bin exit status $st, want 1"
grep -q "^invalid 0x00000000000000ff" "$WORK/out" || fail "disasm inv.bin output: $(cat "$WORK/out")"
grep -q "^exit " "$WORK/out" || fail "disasm inv.bin did not go on after the invalid insn"
grep -q "1 invalid instruction (first at slot 0)" "$WORK/err" || fail "disasm inv.bin: $(cat "$WORK/err")"

"$BEXT" disasm "$WORK/does-not-exist.bin" >/dev/null 2>"$WORK/err"
st=$?
[ $st -eq 1 ] || fail "disasm of a missing file: exit status $st, want 1"
grep -q "does-not-exist" "$WORK/err" || fail "disasm of a missing file: $(cat "$WORK/err")"

# 4. Wrong arguments: usage text, exit status 2.
for args in "asm" "asm $WORK/one.s" "asm $WORK/one.s -o" "disasm" "disasm a b" "asm --bogus x -o y"; do
	# shellcheck disable=SC2086
	"$BEXT" $args >/dev/null 2>"$WORK/err"
	st=$?
	[ $st -eq 2 ] || fail "'bext $args' exit status $st, want 2"
	grep -q "^usage: bext" "$WORK/err" || fail "'bext $args' printed no usage"
done

# 5. An ELF object, when clang and the ELF reader can provide one.
if command -v clang >/dev/null 2>&1; then
	cat >"$WORK/prog.bpf.c" <<'C'
__attribute__((section("xdp"), used)) int prog(int *ctx)
{
	return ctx[1] * 3 + 7;
}
char _license[] __attribute__((section("license"), used)) = "MIT";
C
	if clang -O2 -target bpf -c "$WORK/prog.bpf.c" -o "$WORK/prog.o" 2>"$WORK/err"; then
		if "$BEXT" disasm "$WORK/prog.o" >"$WORK/elf.s" 2>"$WORK/err"; then
			"$BEXT" asm "$WORK/prog.o" -o "$WORK/elf1.bin" 2>>"$WORK/err" &&
				"$BEXT" asm "$WORK/elf.s" -o "$WORK/elf2.bin" 2>>"$WORK/err" &&
				cmp -s "$WORK/elf1.bin" "$WORK/elf2.bin" ||
				fail "ELF round trip: $(cat "$WORK/err")"
			grep -q "^exit" "$WORK/elf.s" || fail "ELF disasm has no exit: $(cat "$WORK/elf.s")"
			grep -q "^# program prog, section xdp, 4 slots" "$WORK/elf.s" ||
				fail "ELF disasm header: $(cat "$WORK/elf.s")"
			# Two programs and a linked subprogram: all printed, --prog picks one.
			cat >"$WORK/two.bpf.c" <<'C'
static __attribute__((noinline)) int sub(int x)
{
	return x * 5 + 1;
}
__attribute__((section("xdp/a"), used)) int first(int *ctx)
{
	return sub(ctx[0]);
}
__attribute__((section("xdp/b"), used)) int second(int *ctx)
{
	return ctx[0] + 2;
}
char _license[] __attribute__((section("license"), used)) = "MIT";
C
			if clang -O2 -target bpf -c "$WORK/two.bpf.c" -o "$WORK/two.o" 2>"$WORK/err" &&
				"$BEXT" disasm "$WORK/two.o" >"$WORK/two.s" 2>"$WORK/err"; then
				grep -q "^# program first, section xdp/a" "$WORK/two.s" &&
					grep -q "^# program second, section xdp/b" "$WORK/two.s" &&
					grep -q "^# linked subprograms" "$WORK/two.s" &&
					grep -q "^call local" "$WORK/two.s" ||
					fail "two-program disasm: $(cat "$WORK/two.s")"
				"$BEXT" disasm "$WORK/two.o" --prog second >"$WORK/second.s" 2>"$WORK/err" &&
					"$BEXT" asm "$WORK/second.s" -o "$WORK/s1.bin" 2>>"$WORK/err" &&
					"$BEXT" asm "$WORK/two.o" -o "$WORK/f1.bin" 2>>"$WORK/err" ||
					fail "--prog second: $(cat "$WORK/err")"
				[ "$(grep -c ' # ' "$WORK/second.s")" -ge 2 ] && ! grep -q "call local" "$WORK/second.s" ||
					fail "--prog second printed: $(cat "$WORK/second.s")"
				cmp -s "$WORK/s1.bin" "$WORK/f1.bin" && fail "asm two.o should take the first program, not the second"
			else
				fail "two-program object: $(cat "$WORK/err")"
			fi
		elif grep -qi "not supported" "$WORK/err"; then
			echo "SKIP (part 5): ELF disasm: the ELF reader is not there yet: $(cat "$WORK/err")"
		else
			fail "ELF disasm: $(cat "$WORK/err")"
		fi
	else
		echo "SKIP (part 5): clang -target bpf failed: $(cat "$WORK/err")"
	fi
else
	echo "SKIP (part 5): no clang for the ELF test"
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all CLI checks passed"
