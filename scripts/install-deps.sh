#!/bin/sh
# Installs the Debian 12 packages bext builds, tests and benchmarks with.
# Quick when everything is present (no apt-get update then).
set -e
PKGS="build-essential cmake pkg-config clang clang-format llvm libclang-rt-14-dev libbpf-dev libelf-dev zlib1g-dev \
libcmocka-dev libzydis-dev libyaml-dev linux-libc-dev bpftool"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bext: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
