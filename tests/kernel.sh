#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Find a kernel for the test guest and the headers dmp.ko must be built
# against for it.  Prints shell assignments:
#
#   KVER=<uname -r of the guest>   VMLINUZ=<kernel image>
#   MODROOT=<dir holding lib/modules/KVER>   KDIR=<headers build dir>
#
# usage: tests/kernel.sh [stock|debug|<version>]
#   stock      the kernel of Debian's linux-image-amd64 (the default)
#   debug      the sanitizer kernel (.debs in $DMP_DEBUG_DEBS, ../shared/kernels
#              or /work/shared/kernels), unpacked once into $DMP_CACHE
#   <version>  an installed kernel: /boot/vmlinuz-<version>
#   headers    only KDIR: the headers of Debian's linux-headers-amd64 (what
#              make and tests/lint build against when the running kernel
#              has none; the guest's image is not needed for that)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${DMP_CACHE:-/var/cache/dmp}

die() { echo "kernel.sh: $*" >&2; exit 1; }

# The version that Debian's linux-image-amd64 metapackage points at.
stock_version() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null) ||
		die "linux-image-amd64 is not installed (run: make deps)"
	dep=${dep%%[ ,|]*}
	echo "${dep#linux-image-}"
}

installed() {
	local v=$1
	[ -f "/boot/vmlinuz-$v" ] || die "no /boot/vmlinuz-$v"
	[ -d "/lib/modules/$v/kernel" ] || die "no modules for $v in /lib/modules/$v"
	[ -e "/lib/modules/$v/build/Makefile" ] ||
		die "no headers for $v (install linux-headers-$v, or run: make deps)"
	echo "KVER=$v"
	echo "VMLINUZ=/boot/vmlinuz-$v"
	echo "MODROOT=/"
	echo "KDIR=/lib/modules/$v/build"
}

debug_debs() {
	local d
	for d in ${DMP_DEBUG_DEBS:-} "$top/../shared/kernels" /work/shared/kernels; do
		if ls "$d"/linux-image-*dmpdebug*.deb >/dev/null 2>&1; then
			(cd "$d" && pwd)
			return 0
		fi
	done
	return 1
}

debug() {
	local dir image headers kver root
	dir=$(debug_debs) || die "no sanitizer kernel .debs found (set DMP_DEBUG_DEBS)"
	image=$(ls "$dir"/linux-image-*dmpdebug*.deb | sort -V | tail -n 1)
	headers=$(ls "$dir"/linux-headers-*dmpdebug*.deb | sort -V | tail -n 1)
	kver=$(dpkg-deb -f "$image" Package)
	kver=${kver#linux-image-}
	root=$cache/$(basename "$image" .deb)
	if [ ! -e "$root/.unpacked" ]; then
		echo "kernel.sh: unpacking $kver into $root" >&2
		rm -rf "$root"
		mkdir -p "$root"
		dpkg-deb -x "$image" "$root"
		dpkg-deb -x "$headers" "$root"
		depmod -b "$root" "$kver"
		touch "$root/.unpacked"
	fi
	echo "KVER=$kver"
	echo "VMLINUZ=$root/boot/vmlinuz-$kver"
	echo "MODROOT=$root"
	echo "KDIR=$root/usr/src/linux-headers-$kver"
}

# The headers that Debian's linux-headers-amd64 metapackage points at.
headers() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null) ||
		die "linux-headers-amd64 is not installed (run: make deps)"
	dep=${dep%%[ ,|]*}
	[ -e "/usr/src/$dep/Makefile" ] || die "no /usr/src/$dep"
	echo "KDIR=/usr/src/$dep"
}

case "${1:-stock}" in
stock)	installed "$(stock_version)" ;;
headers) headers ;;
debug)	debug ;;
*)	installed "$1" ;;
esac
