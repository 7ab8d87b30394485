#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target of a -DBEXT_FUZZ=ON build for SECONDS each and
# fails on any crash, abort (mismatch) or leak. Corpora are kept in
# BUILD_DIR/fuzz/corpus-<target> between runs; crash inputs land in
# BUILD_DIR/fuzz/artifacts/.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
	exit 2
fi
BUILD=$1
SECONDS_EACH=$2
shift 2
TARGETS=${*:-fuzz_asm fuzz_diff fuzz_verifier}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONF=${BEXT_CONFORMANCE_DIR:-$ROOT/../shared/conformance}
ART="$BUILD/fuzz/artifacts"
mkdir -p "$ART"
status=0
for t in $TARGETS; do
	bin="$BUILD/fuzz/$t"
	if [ ! -x "$bin" ]; then
		echo "fuzz.sh: $bin not built (configure with -DBEXT_FUZZ=ON and clang)" >&2
		status=1
		continue
	fi
	corpus="$BUILD/fuzz/corpus-$t"
	mkdir -p "$corpus"
	# Seed the assembler fuzzer with the conformance programs' text.
	if [ "$t" = fuzz_asm ] && [ -d "$CONF" ] && [ -z "$(ls -A "$corpus")" ]; then
		for f in "$CONF"/*.data; do
			sed -n '/^-- *asm/,/^--/p' "$f" | sed '1d;/^--/d' >"$corpus/seed-$(basename "$f" .data)"
		done
	fi
	# Seed the verifier fuzzer with its regression inputs.
	if [ "$t" = fuzz_verifier ] && [ -d "$ROOT/fuzz/corpus/verifier" ]; then
		cp -n "$ROOT/fuzz/corpus/verifier/"* "$corpus/" 2>/dev/null || true
	fi
	echo "== $t for ${SECONDS_EACH}s"
	if "$bin" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$ART/$t-" "$corpus" >"$BUILD/fuzz/$t.log" 2>&1; then
		grep -E "stat::number_of_executed_units|JIT unavailable|programs compared|programs accepted" "$BUILD/fuzz/$t.log" | head -3
		echo "== $t: ok"
	else
		echo "== $t: FAILED (log: $BUILD/fuzz/$t.log, inputs in $ART)"
		grep -E -A40 "fuzz_(asm|diff|verifier):|ERROR: |SUMMARY" "$BUILD/fuzz/$t.log" | head -80
		status=1
	fi
done
exit $status
