#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the eBPF machine benchmarks: ./scripts/bench.sh BUILD_DIR [--quick]
# (`make bench` calls it after building). See docs/PERFORMANCE.md.
# The kernel column needs root (BPF_PROG_TEST_RUN); without it the column is
# skipped and the reason printed.
set -e
BUILD=${1:-build}
shift 2>/dev/null || true
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	echo "bench: $BUILD is not a configured build directory (run make build first)" >&2
	exit 2
fi
cmake --build "$BUILD" --target bench_vm bench_maps bench_uprobe bench_verifier bext bext-agent >/dev/null
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: not root: the kernel column will be skipped"
fi
# Pin bench_vm to one CPU (BENCH_CPU, default 1; the last one if there is
# only one) so that migrations do not add noise; skipped without taskset.
PIN=
if command -v taskset >/dev/null 2>&1; then
	NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	CPU=${BENCH_CPU:-1}
	[ "$CPU" -lt "$NCPU" ] || CPU=$((NCPU - 1))
	PIN="taskset -c $CPU"
	echo "bench: bench_vm pinned to CPU $CPU"
else
	echo "bench: taskset not found: bench_vm not pinned"
fi
$PIN "$BUILD/bench/bench_vm" "$BUILD/bench" "$@"
echo
$PIN "$BUILD/bench/bench_uprobe" "$BUILD/bench" "$@"
echo
$PIN "$BUILD/bench/bench_verifier" "$BUILD/bench" "$@"
echo
exec "$BUILD/bench/bench_maps" "$BUILD/bench" "$@"
