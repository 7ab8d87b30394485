#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the bext binary on bad input of every kind and checks, for each case:
# the exit status, a substring of the message, no crash (status >= 128, or an
# AddressSanitizer / UBSan report in the output, is a failure), and, for the
# store commands, that nothing was left behind (`bext list` shows 0 objects,
# or the store directory was never created).
# usage: bad_input.sh BEXT SRCDIR
set -u
bext=$1 src=$2 fail=0 n=0
for tool in clang cc; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not found (needed to build the test objects)"
		exit 77
	fi
done
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
st=$t/store

# expect STATUS SUBSTRING CMD...: one case.
expect() {
	want=$1 sub=$2
	shift 2
	n=$((n + 1))
	out=$("$bext" "$@" 2>&1)
	rc=$?
	if [ $rc -ge 128 ] || echo "$out" | grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:'; then
		echo "FAIL (crash, status $rc): bext $*"; echo "$out" | head -20; fail=1
	elif [ $rc -ne "$want" ]; then
		echo "FAIL (status $rc, want $want): bext $*"; echo "$out" | head -10; fail=1
	elif ! echo "$out" | grep -qF -- "$sub"; then
		echo "FAIL (no '$sub' in the output): bext $*"; echo "$out" | head -10; fail=1
	else
		echo "ok   [$rc] bext $*: $(echo "$out" | grep -F -- "$sub" | head -1)"
	fi
}

# no_store DIR: DIR must not exist (a failed command created nothing).
no_store() {
	n=$((n + 1))
	if [ -e "$1" ]; then
		echo "FAIL: $1 was created"; ls -la "$1"; fail=1
	else
		echo "ok   $1 not created"
	fi
}

# --- inputs -------------------------------------------------------------
BPFCC="clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c $src/probe.bpf.c"
$BPFCC -o good.bpf.o || exit 1
$BPFCC -DREJECT -o reject.bpf.o || exit 1
$BPFCC -DWITH_MAPS -o maps.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//nonexistent/dir/prog:main"' -o nopath.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//etc/hostname:main"' -o notelf.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//etc:main"' -o dirpath.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe/libc.so.6:malloc+-8"' -o negoff.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//bin/sh:0x1234"' -o rawaddr.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//usr/bin/ls:no_such_symbol_xyz"' -o nosym.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe/"' -o emptysec.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//usr/bin/ls"' -o nofunc.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe//usr/bin/ls:"' -o emptyfunc.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe/:malloc"' -o emptypath.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe/libc.so.6:malloc+99999999999999999999999"' -o bigoff.bpf.o || exit 1
$BPFCC -DSECNAME='"uprobe/libc.so.6:malloc+0x10q"' -o badoff.bpf.o || exit 1
$BPFCC -DSECNAME='"uretprobe/libc.so.6:no_such_symbol_xyz"' -o namenosym.bpf.o || exit 1
echo 'int f(int x) { return x + 1; }' >x86.c && cc -c x86.c -o x86.o || exit 1
: >empty
mkdir adir
printf '# just a comment\n' >comment.s
printf 'mov r0, 1\nexit\n' >ok.s
printf 'mov r0, 1\nfrobnicate r1\nexit\n' >badmnem.s
printf 'mov r0, 99999999999999999999\nexit\n' >hugeimm.s
printf 'mov r0, 0\nja +7\nexit\n' >badjump.s
printf 'call 6\nexit\n' >helper6.s
printf 'call 999999\nexit\n' >helperbig.s
printf 'ldxdw r0, [r1]\nexit\n' >nullread.s
printf 'stdw [r10+8], 1\nmov r0, 0\nexit\n' >stackwrite.s
printf 'ja -1\nexit\n' >forever.s
printf 'mov r0, 1\n' >noexit.s
printf 'abc' >odd.bin
size=$(wc -c <good.bpf.o)
head -c 64 good.bpf.o >trunc64.o
head -c $((size / 2)) good.bpf.o >trunchalf.o
head -c $((size - 1)) good.bpf.o >trunc1.o

# --- top level ----------------------------------------------------------
expect 2 "usage: bext COMMAND"
expect 2 "unknown command 'frob'" frob

# --- asm / disasm -------------------------------------------------------
expect 2 "usage: bext asm" asm
expect 2 "usage: bext asm" asm ok.s
expect 2 "unexpected argument" asm ok.s -o a.bin extra
expect 1 "No such file or directory" asm nonexistent.s -o a.bin
expect 1 "Is a directory" asm adir -o a.bin
expect 1 "no instructions" asm empty -o empty.bin
no_store empty.bin
expect 1 "no instructions" asm comment.s -o comment.bin
expect 1 "line 2: unknown mnemonic 'frobnicate'" asm badmnem.s -o a.bin
expect 1 "out of range" asm hugeimm.s -o a.bin
expect 1 "No such file or directory" asm ok.s -o "$t/no/such/dir/a.bin"
expect 1 "whole 8-byte instructions" disasm odd.bin
expect 1 "no instructions" disasm empty
expect 1 "truncated" disasm trunc64.o
expect 1 "truncated" disasm trunchalf.o
expect 1 "not an eBPF object" disasm x86.o
expect 1 "no program 'nope'" disasm good.bpf.o --prog nope
expect 0 "exit" disasm good.bpf.o

# Bit-flipped and overwritten objects: any clear outcome, never a crash.
i=0
for off in 0 4 5 16 18 20 24 32 40 48 52 58 60 62 64 100 200 300 400 600 800 1000 1500 2000 \
	$((size - 64)) $((size - 40)) $((size - 24)) $((size - 8)); do
	for byte in '\377' '\000' '\200'; do
		i=$((i + 1))
		cp good.bpf.o flip.o
		printf "$byte" | dd of=flip.o bs=1 seek=$off conv=notrunc 2>/dev/null
		for cmd in disasm verify run; do
			n=$((n + 1))
			out=$("$bext" $cmd flip.o 2>&1)
			rc=$?
			if [ $rc -ge 128 ] || echo "$out" | grep -q 'Sanitizer\|runtime error:'; then
				echo "FAIL (crash, status $rc): bext $cmd on good.bpf.o with byte $off = $byte"
				echo "$out" | head -20
				fail=1
			fi
		done
	done
done
echo "ok   $i damaged objects through disasm, verify, run: no crash"

# --- run ----------------------------------------------------------------
expect 1 "no program given" run
expect 1 "unexpected argument 'extra'" run ok.s extra
expect 1 "No such file or directory" run nonexistent.s
expect 1 "Is a directory" run adir
expect 1 "no instructions" run empty
expect 1 "truncated" run trunc1.o
expect 1 "not an eBPF object" run x86.o
expect 1 "no program 'nope'" run good.bpf.o --prog nope
expect 1 "needs an ELF object" run ok.s --prog x
expect 1 "bad --repeat '-1'" run ok.s --repeat -1
expect 1 "bad --repeat '0'" run ok.s --repeat 0
expect 1 "bad --repeat '99999999999999999999'" run ok.s --repeat 99999999999999999999
expect 1 "bad --budget" run ok.s --budget -5
expect 1 "bad --timeout" run ok.s --timeout 1e9
expect 1 "unknown engine 'gpu'" run ok.s --engine gpu
expect 1 "--mem nonexistent.bin: No such file or directory" run ok.s --mem nonexistent.bin
expect 1 "--mem adir: not a regular file" run ok.s --mem adir
expect 1 "jump target" run badjump.s
expect 1 "last instruction must be exit" run noexit.s
expect 1 "unknown helper 6" run helper6.s
expect 1 "helper id 999999" run helperbig.s
expect 1 "outside any region" run nullread.s
expect 1 "outside any region" run nullread.s --mem empty
expect 1 "outside any region" run stackwrite.s
expect 1 "instruction budget of 100000 exceeded" run forever.s --budget 100000
expect 1 "the program crashed: Segmentation fault at address 0x0" run nullread.s --engine jit
expect 1 "still running after 1 s" run forever.s --engine jit --timeout 1
expect 0 "r0 = 0x1 (1)" run ok.s --engine jit

# --- verify (rejections must say why) ------------------------------------
n=$((n + 1))
out=$("$bext" verify reject.bpf.o 2>&1); rc=$?
if [ $rc -ge 1 ] && [ $rc -lt 128 ] && echo "$out" | grep -q 'rejected'; then
	echo "ok   [$rc] bext verify reject.bpf.o: $(echo "$out" | tail -1)"
else
	echo "FAIL: bext verify reject.bpf.o: status $rc"; echo "$out" | tail -5; fail=1
fi

# unreadable input is 1 as for the other commands; 2 only for usage errors
expect 1 "bext verify: nonexistent.o: No such file or directory" verify nonexistent.o
expect 1 "No such file or directory" verify nonexistent.o --prog x
expect 1 "Is a directory" verify adir
expect 1 "truncated" verify trunchalf.o
expect 1 "not an eBPF object" verify x86.o
expect 1 "no program 'nope'" verify good.bpf.o --prog nope
expect 2 "bad --log-level '99' (0, 1 or 2)" verify good.bpf.o --log-level 99
expect 2 "bad --log-level '-1' (0, 1 or 2)" verify good.bpf.o --log-level -1
expect 2 "bad --log-level '1x' (0, 1 or 2)" verify good.bpf.o --log-level 1x
expect 2 "unknown option or missing value: '--log-level'" verify good.bpf.o --log-level
expect 2 "bad --ctx-size '-4'" verify good.bpf.o --ctx-size -4
expect 2 "bad --limit 'zz'" verify good.bpf.o --limit zz
expect 2 "unknown program type 'gpu'" verify good.bpf.o --type gpu
expect 2 "unknown option or missing value: '--frob'" verify good.bpf.o --frob
expect 2 "unexpected argument 'ok.s'" verify good.bpf.o ok.s
expect 2 "usage: bext verify" verify
expect 0 "probe (uprobe): accepted" verify good.bpf.o --log-level 0

# --- load: nothing is left behind when it fails --------------------------
expect 2 "usage: bext load" load
expect 2 "unexpected argument 'two.o'" load good.bpf.o two.o --store "$st"
expect 2 "unknown option or missing value: '--store'" load good.bpf.o --store
expect 2 "bad pid '-5'" load good.bpf.o --pid -5 --store "$st"
expect 2 "bad pid '99999999999'" load good.bpf.o --pid 99999999999 --store "$st"
expect 2 "bad cookie '-1'" load good.bpf.o --cookie -1 --store "$st"
expect 2 "bad cookie '99999999999999999999999'" load good.bpf.o --cookie 99999999999999999999999 --store "$st"
expect 1 "nonexistent.o: No such file or directory" load nonexistent.o --store "$st"
expect 1 "adir: not a regular file" load adir --store "$st"
expect 1 "empty: not an ELF file" load empty --store "$st"
expect 1 "truncated" load trunchalf.o --store "$st"
expect 1 "not an eBPF object (e_machine 62" load x86.o --store "$st"
expect 1 "/nonexistent/dir/prog: No such file or directory" load nopath.bpf.o --store "$st"
expect 1 "/etc/hostname is not an ELF executable" load notelf.bpf.o --store "$st"
expect 1 "/etc is not a regular file" load dirpath.bpf.o --store "$st"
expect 1 "section uprobe/libc.so.6:malloc+-8: negative offset '-8'" load negoff.bpf.o --store "$st"
expect 1 "raw addresses are not supported" load rawaddr.bpf.o --store "$st"
expect 1 "section uprobe//usr/bin/ls:no_such_symbol_xyz: symbol no_such_symbol_xyz not found in /usr/bin/ls" load nosym.bpf.o --store "$st"
expect 1 "section uprobe/: nothing after 'uprobe/': want uprobe/PATH:FUNC[+OFF]" load emptysec.bpf.o --store "$st"
expect 1 "section uprobe//usr/bin/ls: no ':FUNC' after the path '/usr/bin/ls'" load nofunc.bpf.o --store "$st"
expect 1 "section uprobe//usr/bin/ls:: no FUNC after '/usr/bin/ls:'" load emptyfunc.bpf.o --store "$st"
expect 1 "section uprobe/:malloc: empty PATH before ':'" load emptypath.bpf.o --store "$st"
expect 1 "offset '99999999999999999999999' does not fit in 64 bits" load bigoff.bpf.o --store "$st"
expect 1 "bad offset '0x10q' (decimal or 0x-hex bytes)" load badoff.bpf.o --store "$st"
no_store "$st"
expect 1 "rejected by the verifier" load reject.bpf.o --store "$st"
expect 0 "0 objects" list --store "$st"
# no links: the sections are not checked; a bare library name is left to the agent
expect 0 "prog 1 probe" load nosym.bpf.o --no-attach --store "$t/s8"
expect 0 "link 2 prog 1 uretprobe:libc.so.6:no_such_symbol_xyz+0x0" load namenosym.bpf.o --store "$t/s9"
touch regfile
expect 1 "Not a directory" load good.bpf.o --store "$t/regfile"
expect 1 "Not a directory" list --store "$t/regfile"

# --- start --------------------------------------------------------------
expect 2 "no program to run" start --store "$t/s2"
expect 2 "unknown option or missing value: '--bogus'" start --bogus -- true
expect 127 "cannot run /nonexistent/prog: No such file or directory" start --store "$t/s2" -- /nonexistent/prog
expect 127 "cannot run ./adir: Is a directory" start --store "$t/s2" -- ./adir
expect 127 "cannot run ./empty: Permission denied" start --store "$t/s2" -- ./empty
expect 127 "cannot run no-such-command-xyz" start --store "$t/s2" -- no-such-command-xyz
expect 1 "--agent /nonexistent/agent.so: No such file" start --agent /nonexistent/agent.so --store "$t/s2" -- true
expect 1 "not a shared library" start --agent /etc/hostname --store "$t/s2" -- true
no_store "$t/s2"

# --- detach -------------------------------------------------------------
expect 2 "usage: bext detach" detach
expect 2 "bad id '0'" detach 0 --store "$st"
expect 2 "bad id 'abc'" detach abc --store "$st"
expect 2 "bad id '99999999999'" detach 99999999999 --store "$st"
expect 2 "unexpected argument '4'" detach 3 4 --store "$st"
expect 1 "no object 4242" detach 4242 --store "$st"
expect 1 "bext: no store at $t/s3" detach 1 --store "$t/s3"
no_store "$t/s3"
expect 0 "prog 1 probe" load good.bpf.o --store "$t/s4" --no-attach
expect 0 "removed program 1" detach 1 --store "$t/s4"
expect 1 "no object 1 in" detach 1 --store "$t/s4"
expect 0 "0 objects" list --store "$t/s4"

# --- read-only commands on a store that does not exist: create nothing --
expect 1 "bext: no store at $t/typo" list --store "$t/typo"
no_store "$t/typo"
expect 1 "bext: no store at $t/typo" dump X --store "$t/typo"
no_store "$t/typo"
expect 1 "bext: no store at $t/typo" log --store "$t/typo"
no_store "$t/typo"
expect 1 "bext: no store at $t/typo" gc --store "$t/typo"
no_store "$t/typo"
expect 1 "bext: no store at $t/typo" detach 1 --store "$t/typo"
no_store "$t/typo"
n=$((n + 1))
out=$(BEXT_STORE="$t/typo" "$bext" list 2>&1); rc=$?
if [ $rc -eq 1 ] && [ "$out" = "bext: no store at $t/typo" ]; then
	echo "ok   [$rc] BEXT_STORE=$t/typo bext list: $out"
else
	echo "FAIL: BEXT_STORE=$t/typo bext list: status $rc: $out"; fail=1
fi
no_store "$t/typo"
mkdir "$t/emptydir"
expect 1 "bext: no store at $t/emptydir" list --store "$t/emptydir"
expect 1 "bext: no store at $t/emptydir" gc --store "$t/emptydir"
n=$((n + 1))
if [ -z "$(ls -A "$t/emptydir")" ]; then echo "ok   $t/emptydir still empty"; else
	echo "FAIL: files created in $t/emptydir"; ls -la "$t/emptydir"; fail=1; fi
expect 1 "Not a directory" gc --store "$t/regfile"

# --- a corrupt store ----------------------------------------------------
mkdir "$t/s5" && : >"$t/s5/registry"
expect 1 "registry is truncated" list --store "$t/s5"
expect 1 "registry is truncated" load good.bpf.o --store "$t/s5"
mkdir "$t/s6" && head -c 65536 /dev/zero | tr '\000' 'x' >"$t/s6/registry"
expect 1 "not a bext store" list --store "$t/s6"
expect 1 "not a bext store" detach 1 --store "$t/s6"

# --- damaged segments: the object is named, the others still listed -------
expect 0 "map 1 mstats" load maps.bpf.o --store "$t/s7"
: >"$t/s7/obj-1"
expect 1 "bext dump: map mstats (id 1) is damaged: segment $t/s7/obj-1 is corrupt: 0 bytes, the registry says" dump mstats --store "$t/s7"
expect 1 "bext dump: map mstats (id 1) is damaged: segment $t/s7/obj-1 is corrupt" dump 1 --store "$t/s7"
expect 0 "1: map hash name mstats key 4 value 8 max_entries 4 flags 0x0 entries - bytes" list --store "$t/s7"
expect 0 "DAMAGED (segment $t/s7/obj-1 is corrupt: 0 bytes, the registry says" list --store "$t/s7"
expect 0 "2: map array name mother key 4 value 8 max_entries 2 flags 0x0 entries 2 bytes" list --store "$t/s7"
expect 0 "3: prog kprobe name probe insns" list --store "$t/s7"
expect 0 "4: link prog 3 attach_type 41 target uprobe:libc.so.6:malloc+0x0" list --store "$t/s7"
expect 0 "4 objects (1 damaged)" list --store "$t/s7"
expect 0 "2 entries" dump mother --store "$t/s7"
# the segment header is right, the map header in it is not
dd if=/dev/zero of="$t/s7/obj-2" bs=1 seek=4096 count=16 conv=notrunc 2>/dev/null
expect 1 "bext dump: map mother (id 2) is damaged: segment $t/s7/obj-2 does not hold a valid map" dump mother --store "$t/s7"
expect 0 "DAMAGED (segment $t/s7/obj-2 does not hold a valid map)" list --store "$t/s7"
# program and link segments
: >"$t/s7/obj-3"
echo x >"$t/s7/obj-4"
expect 0 "3: prog kprobe name probe refs 2 pid" list --store "$t/s7"
expect 0 "DAMAGED (segment $t/s7/obj-3 is corrupt: 0 bytes" list --store "$t/s7"
expect 0 "DAMAGED (segment $t/s7/obj-4 is corrupt: 2 bytes" list --store "$t/s7"
expect 0 "4 objects (4 damaged)" list --store "$t/s7"
rm "$t/s7/obj-4"
expect 0 "DAMAGED (segment $t/s7/obj-4 is missing)" list --store "$t/s7"
expect 1 "bext dump: object 3 in $t/s7 is a program, not a map" dump 3 --store "$t/s7"
expect 1 "bext dump: no map nosuch in $t/s7" dump nosuch --store "$t/s7"

echo "$n checks"
[ $fail -eq 0 ] && echo "all passed"
exit $fail
