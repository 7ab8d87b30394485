# SPDX-License-Identifier: MIT
# Checks shared by the CLI shell tests (sourced: `. "$src/lib.sh"`). Each
# prints "ok   WHAT" or "FAIL: WHAT" with the evidence, and sets fail=1 on a
# failure; the test exits 1 at its end when $fail is set.
fail=0

# same WHAT OUTPUT LINE...: OUTPUT must be exactly these lines
same() {
	what=$1 got=$2
	shift 2
	want=$(printf '%s\n' "$@")
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what"; echo "--- want:"; echo "$want"; echo "--- got:"; echo "$got"
		fail=1
	else
		echo "ok   $what"
	fi
}

# has WHAT PATTERN OUTPUT: some line of OUTPUT matches the grep PATTERN
has() {
	if echo "$3" | grep -q -- "$2"; then
		echo "ok   $1"
	else
		echo "FAIL: $1: no line matching '$2' in:"; echo "$3"; fail=1
	fi
}

# clean WHAT OUTPUT: no sanitizer report in a command's output
clean() {
	if echo "$2" | grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:'; then
		echo "FAIL: $1: sanitizer report:"; echo "$2"; fail=1
	fi
}
