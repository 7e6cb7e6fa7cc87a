#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Find a kernel for the test guest and the headers dmp.ko must be built
# against for it, installing whatever is missing (as root).  Prints shell
# assignments (progress goes to stderr):
#
#   KNAME=<the name asked for>     KVER=<uname -r of the guest>
#   VMLINUZ=<kernel image>         MODROOT=<dir holding lib/modules/KVER>
#   KROOT=<root the headers are under: /, or the trixie tree of "newest">
#   KDIR=<headers build dir, a path under KROOT: build with tests/kchroot>
#   KCONFIG=<the kernel's .config, a path on the host>
#   KSANITIZER=<1 for a KASAN kernel, else 0>
#
# usage: tests/kernel.sh [--sparse] NAME
#   stock      the kernel of Debian's linux-image-amd64 (the host's release)
#   backports  the newest kernel of <release>-backports (bookworm-backports:
#              6.12 today): the version its linux-image-amd64 depends on,
#              image and headers installed on the host through a private APT
#              configuration in $DMP_CACHE/apt/, which the host's own apt
#              never reads
#   newest     the newest kernel of $DMP_NEWEST_SUITE-backports (trixie: 7.3
#              today): a debootstrap tree in $DMP_CACHE/<suite>/root with its
#              headers, gcc, make, sparse and dkms (dmp.ko is built in it);
#              the guest boots the kernel unpacked from its .debs
#   debug      the newest sanitizer kernel (linux-image-*dmpdebug*.deb) in
#              $DMP_DEBUG_DEBS (directories, blank-separated; default the
#              project's sibling ../shared/kernels), subdirectories included;
#              unpacked once into $DMP_CACHE
#   debug-<series>  the newest sanitizer kernel of that series (debug-6.1)
#   <version>  an installed kernel: /boot/vmlinuz-<version> and its headers
#   headers    only KDIR: the headers of Debian's linux-headers-amd64 (what
#              make and tests/lint build against when the running kernel
#              has none; the guest's image is not needed for that)
#   --sparse   also SPARSE=<a sparse under KROOT that this kernel's headers
#              accept> and SPARSE_VALID=<script|ours|none> (see sparse_for)
#
# Versions are never written down here: they are read from the package
# lists each time.  The private package lists (backports, the trixie tree,
# unstable for sparse) are refreshed when older than $DMP_APT_MAX_AGE
# seconds (default 21600: 6 hours), so a second call within that time needs
# no network, installs nothing and takes a second.  Installs hold a lock
# ($DMP_CACHE/.lock): concurrent callers wait for each other; apt and dpkg
# wait up to 10 minutes for the host's dpkg lock.
#
# Environment: DMP_CACHE (default /var/cache/dmp; not under /tmp, /var/tmp,
# /root or /run, which the guest covers with tmpfs), DMP_DEBUG_DEBS,
# DMP_APT_MAX_AGE, DMP_NEWEST_SUITE (default trixie), DMP_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), DMP_DEBIAN_SECURITY (default
# http://deb.debian.org/debian-security).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${DMP_CACHE:-/var/cache/dmp}
max_age=${DMP_APT_MAX_AGE:-21600}
mirror=${DMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DMP_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
newest_suite=${DMP_NEWEST_SUITE:-trixie}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
lock_wait=600

die() { echo "kernel.sh: $*" >&2; exit 1; }
note() { echo "kernel.sh: $*" >&2; }

# One installer at a time, whichever kernel: apt, dpkg and the cache.
locked=0
lock() {
	[ $locked = 0 ] || return 0
	[ "$(id -u)" -eq 0 ] || die "installing needs root"
	mkdir -p "$cache"
	exec 8>>"$cache/.lock"
	if ! flock -n 8; then
		note "waiting for another install to finish ($cache/.lock)"
		flock 8
	fi
	locked=1
}

# stale FILE: true if FILE is missing or older than max_age seconds.
stale() {
	[ -e "$1" ] || return 0
	[ $(($(date +%s) - $(stat -c %Y "$1"))) -ge "$max_age" ]
}

# dep_of "DEPENDS" REGEX: "name version" of the first dependency whose name
# matches REGEX (version empty if unversioned).
dep_of() {
	tr ',' '\n' <<<"$1" | sed -n -E "s/^ *($2)( \(= ([^)]*)\))?.*/\1 \3/p" | head -n 1
}

# sanitizer CONFIG: 1 if the kernel has KASAN.
sanitizer() { grep -qs '^CONFIG_KASAN=y' "$1" && echo 1 || echo 0; }

# assign NAME VALUE: one line of the output, quoted for eval.
assign() { printf '%s=%q\n' "$1" "$2"; }

emit() {	# KVER VMLINUZ MODROOT KROOT KDIR KCONFIG
	[ -f "$2" ] || die "no kernel image $2"
	[ -e "$4/$5/Makefile" ] || die "no headers in $4$5"
	assign KNAME "$name"
	assign KVER "$1"
	assign VMLINUZ "$2"
	assign MODROOT "$3"
	assign KROOT "$4"
	assign KDIR "$5"
	assign KCONFIG "$6"
	assign KSANITIZER "$(sanitizer "$6")"
	if [ $want_sparse = 1 ]; then
		sparse_for "$4" "$5"
	fi
}

# --- installed kernels (stock, <version>, and backports once installed)

# The version that Debian's linux-image-amd64 metapackage points at.
stock_version() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null) ||
		die "linux-image-amd64 is not installed (run: make deps)"
	dep=$(dep_of "$dep" 'linux-image-[^ ]*')
	echo "${dep%% *}" | sed 's/^linux-image-//'
}

installed() {
	local v=$1
	[ -f "/boot/vmlinuz-$v" ] || die "no /boot/vmlinuz-$v"
	[ -d "/lib/modules/$v/kernel" ] || die "no modules for $v in /lib/modules/$v"
	[ -e "/lib/modules/$v/build/Makefile" ] ||
		die "no headers for $v (install linux-headers-$v, or run: make deps)"
	emit "$v" "/boot/vmlinuz-$v" / / "/lib/modules/$v/build" "/boot/config-$v"
}

# --- backports: a private APT configuration over the host's dpkg

# apt_private DIR SOURCES...: an APT configuration in DIR that reads only
# the given source lines and keeps its own lists and archives; dpkg's
# status is the host's (what it installs is installed on the host).
# Sets APT_CONFIG for the callers' apt commands.
apt_private() {
	local d=$1 line
	shift
	mkdir -p "$d/sources.list.d" "$d/preferences.d" "$d/lists/partial" \
		"$d/cache/archives/partial"
	: >"$d/sources.list.new"
	for line in "$@"; do
		echo "deb [signed-by=$keyring] $line main" >>"$d/sources.list.new"
	done
	mv "$d/sources.list.new" "$d/sources.list"
	cat >"$d/apt.conf" <<-EOF
	// Written by dmp's tests/kernel.sh: only its own apt commands read this.
	Dir::Etc::SourceList "$d/sources.list";
	Dir::Etc::SourceParts "$d/sources.list.d";
	Dir::Etc::Preferences "$d/preferences";
	Dir::Etc::PreferencesParts "$d/preferences.d";
	Dir::State::Lists "$d/lists";
	Dir::Cache "$d/cache";
	Dir::State::status "/var/lib/dpkg/status";
	Acquire::Languages "none";
	APT::Install-Recommends "false";
	DPkg::Lock::Timeout "$lock_wait";
	EOF
	export APT_CONFIG=$d/apt.conf
}

# apt_refresh DIR: apt-get update (APT_CONFIG) if the lists are stale.  With
# old lists and no network, a warning and the old lists.
apt_refresh() {
	stale "$1/lists.stamp" || return 0
	lock
	note "refreshing the package lists of $1"
	if apt-get update -qq >&2; then
		touch "$1/lists.stamp"
	elif [ -e "$1/lists.stamp" ]; then
		note "WARNING: apt-get update failed; using the lists of $(date -r "$1/lists.stamp")"
	else
		die "apt-get update failed for $1"
	fi
}

# apt_guarded PKG...: install exactly PKG (name=version) on the host, after a
# simulation shows that nothing installed would be upgraded, downgraded or
# removed, and that nothing else would come from backports.
apt_guarded() {
	local sim bad
	sim=$(apt-get -s install --no-install-recommends "$@" 2>&1) ||
		{ echo "$sim" >&2; die "apt-get cannot install $*"; }
	bad=$(grep -E '^(Remv|Purg) |^Inst [^ ]+ \[' <<<"$sim" || true)
	bad+=$(grep -E '^Inst ' <<<"$sim" | grep -i backports | grep -vF "$abi" || true)
	if [ -n "$bad" ]; then
		echo "$bad" >&2
		die "refusing: installing $* would change the packages above"
	fi
	grep -E '^Inst ' <<<"$sim" >&2 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout="$lock_wait" "$@" >&2
}

backports() {
	local codename d dep kver ver
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	d=$cache/apt/$codename-backports
	apt_private "$d" "$mirror $codename" "$mirror $codename-updates" \
		"$security $codename-security" "$mirror $codename-backports"
	apt_refresh "$d"
	dep=$(apt-cache show "linux-image-amd64/$codename-backports" 2>/dev/null |
		sed -n 's/^Depends: //p' | head -n 1)
	[ -n "$dep" ] || die "no linux-image-amd64 in $codename-backports (lists in $d)"
	read -r kver ver <<<"$(dep_of "$dep" 'linux-image-[0-9][^ ]*')"
	[ -n "$kver" ] && [ -n "$ver" ] || die "cannot read the kernel from: $dep"
	kver=${kver#linux-image-}
	abi=${kver%-*}		# 6.12.95+deb12: in the name of every package of it
	if ! dpkg-query -W -f='${Status} ${Version}\n' "linux-image-$kver" "linux-headers-$kver" \
		2>/dev/null | grep -c "ok installed $ver" | grep -qx 2; then
		lock
		note "installing linux-image-$kver and linux-headers-$kver ($ver) from $codename-backports"
		apt_guarded "linux-image-$kver=$ver" "linux-headers-$kver=$ver"
		apt-get clean	# the private archives only
	fi
	unset APT_CONFIG
	installed "$kver"
}

# --- newest: a trixie tree for building, the kernel unpacked for the guest

in_tree() { "$top/tests/kchroot" "$tree" env DEBIAN_FRONTEND=noninteractive "$@"; }

newest() {
	local base=$cache/$newest_suite bpo=$newest_suite-backports dep kver ver pkgs p kt img
	tree=$base/root
	if [ ! -e "$tree/.dmp-ready" ]; then
		lock
		"$top/tests/install-deps" newest >&2
		note "creating a $newest_suite tree in $tree (debootstrap, about a minute)"
		rm -rf "$tree"
		mkdir -p "$base"
		debootstrap --variant=minbase "$newest_suite" "$tree" "$mirror" >"$base/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$base/debootstrap.log" >&2; die "debootstrap $newest_suite failed (log: $base/debootstrap.log)"; }
		cat >"$tree/etc/apt/sources.list" <<-EOF
		deb $mirror $newest_suite main
		deb $mirror $newest_suite-updates main
		deb $security $newest_suite-security main
		deb $mirror $bpo main
		EOF
		cat >"$tree/etc/apt/apt.conf.d/99dmp" <<-EOF
		APT::Install-Recommends "false";
		Acquire::Languages "none";
		DPkg::Lock::Timeout "$lock_wait";
		EOF
		in_tree apt-get update -qq >&2
		touch "$base/lists.stamp"
		in_tree apt-get install -y -q make gcc libc6-dev sparse dkms kmod xz-utils >&2
		in_tree apt-get clean
		touch "$tree/.dmp-ready"
	fi
	if stale "$base/lists.stamp"; then
		lock
		note "refreshing the package lists of $tree"
		if in_tree apt-get update -qq >&2; then
			touch "$base/lists.stamp"
		else
			note "WARNING: apt-get update failed in $tree; using the lists of $(date -r "$base/lists.stamp")"
		fi
	fi
	dep=$(in_tree apt-cache show "linux-image-amd64/$bpo" 2>/dev/null |
		sed -n 's/^Depends: //p' | head -n 1)
	[ -n "$dep" ] || die "no linux-image-amd64 in $bpo"
	read -r kver ver <<<"$(dep_of "$dep" 'linux-image-[0-9][^ ]*')"
	[ -n "$kver" ] && [ -n "$ver" ] || die "cannot read the kernel from: $dep"
	kver=${kver#linux-image-}

	# The headers, in the tree.
	if ! in_tree dpkg-query -W -f='${Status} ${Version}\n' "linux-headers-$kver" 2>/dev/null |
		grep -qx "install ok installed $ver"; then
		lock
		note "installing linux-headers-$kver ($ver) in $tree"
		# -t: in this tree only, never on the host (the tree is dmp's).
		in_tree apt-get install -y -q -t "$bpo" "linux-headers-$kver=$ver" >&2
		in_tree apt-get clean
	fi

	# The kernel for the guest: the image package and the packages of this
	# version it depends on (7.3: linux-binary, linux-modules, linux-base),
	# unpacked into one tree.
	kt=$base/kernels/$kver
	if [ ! -e "$kt/.unpacked" ]; then
		lock
		note "downloading and unpacking linux-image-$kver ($ver) into $kt"
		pkgs=("linux-image-$kver=$ver")
		dep=$(in_tree apt-cache show "linux-image-$kver=$ver" | sed -n 's/^Depends: //p' | head -n 1)
		for p in $(tr ',|' '\n\n' <<<"$dep" | sed -n 's/^ *\([^ ]*\).*/\1/p' | grep -F -- "$kver" || true); do
			pkgs+=("$p=$ver")
		done
		rm -rf "$tree/var/tmp/dmp-debs" "$kt"
		mkdir -p "$tree/var/tmp/dmp-debs" "$kt"
		in_tree chown _apt /var/tmp/dmp-debs
		in_tree sh -c 'cd /var/tmp/dmp-debs && apt-get download -q "$@"' sh "${pkgs[@]}" >&2
		for p in "$tree"/var/tmp/dmp-debs/*.deb; do
			dpkg-deb -x "$p" "$kt"
		done
		rm -rf "$tree/var/tmp/dmp-debs"
		# Merged /usr: modprobe -d and depmod -b look in lib/modules.
		[ -e "$kt/lib" ] || ln -s usr/lib "$kt/lib"
		[ -d "$kt/lib/modules/$kver/kernel" ] || die "no modules in the packages of $kver"
		depmod -b "$kt" "$kver"
		touch "$kt/.unpacked"
	fi
	img=$kt/boot/vmlinuz-$kver
	[ -f "$img" ] || img=$kt/lib/modules/$kver/vmlinuz
	p=$kt/boot/config-$kver
	[ -f "$p" ] || p=$kt/lib/modules/$kver/config
	[ -f "$p" ] || p=$tree/usr/src/linux-headers-$kver/.config
	emit "$kver" "$img" "$kt" "$tree" "/usr/src/linux-headers-$kver" "$p"
}

# --- the sanitizer kernels (.debs built elsewhere, see ../shared/kernels)

debug() {
	local series=$1 dirs d image headers kver root
	dirs=${DMP_DEBUG_DEBS:-$top/../shared/kernels}
	image=$(for d in $dirs; do
			[ -d "$d" ] && find "$d" -name 'linux-image-*dmpdebug*.deb'
		done | awk -F/ '{ print $NF "\t" $0 }' | sort -V -k1,1 | cut -f2 |
		{ if [ -n "$series" ]; then grep -F "/linux-image-$series." || true; else cat; fi } |
		tail -n 1)
	[ -n "$image" ] || die "no sanitizer kernel${series:+ of $series} in $dirs (linux-image-*dmpdebug*.deb; set DMP_DEBUG_DEBS)"
	kver=$(dpkg-deb -f "$image" Package)
	kver=${kver#linux-image-}
	headers=$(dirname "$image")/$(basename "$image" | sed 's/^linux-image-/linux-headers-/')
	[ -f "$headers" ] || die "no $headers beside $image"
	root=$cache/$(basename "$image" .deb)
	if [ ! -e "$root/.unpacked" ]; then
		lock
		note "unpacking $kver into $root"
		rm -rf "$root"
		mkdir -p "$root"
		dpkg-deb -x "$image" "$root"
		dpkg-deb -x "$headers" "$root"
		depmod -b "$root" "$kver"
		touch "$root/.unpacked"
	fi
	emit "$kver" "$root/boot/vmlinuz-$kver" "$root" / \
		"$root/usr/src/linux-headers-$kver" "$root/boot/config-$kver"
}

# The headers that Debian's linux-headers-amd64 metapackage points at.
headers() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null) ||
		die "linux-headers-amd64 is not installed (run: make deps)"
	dep=${dep%%[ ,|]*}
	[ -e "/usr/src/$dep/Makefile" ] || die "no /usr/src/$dep"
	assign KDIR "/usr/src/$dep"
}

# --- sparse for lint

# The test of Linux's scripts/checker-valid.sh (7.3): from 6.15 on the
# headers use __typeof_unqual__ under __CHECKER__, and kbuild turns sparse
# off when it cannot parse that.  Debian's headers packages leave the
# script out (the Makefile still calls it), so this is the same test.
sparse_test='static inline int u(const int *q)
{
	__typeof_unqual__(*q) v = *q;
	return v;
}'

# sparse_ok ROOT SPARSE: the test above, under ROOT.
sparse_ok() {
	local out
	out=$(printf '%s\n' "$sparse_test" | "$top/tests/kchroot" "$1" sh -c \
		't=$(mktemp --suffix=.c) && cat >"$t" && "$0" "$t" 2>&1; rm -f "$t"' "$2") || return 1
	! grep -q error <<<"$out"
}

# sparse_for ROOT KDIR: SPARSE= a sparse that the headers KDIR (under ROOT)
# accept; SPARSE_VALID= how kbuild checks it: "script" (the headers have
# scripts/checker-valid.sh), "ours" (their Makefile calls the script, which
# the package left out: tests/lint runs our test above and overrides
# kbuild's check) or "none" (no check: before 6.15).  Where Debian's sparse
# is too old and ROOT is the trixie tree, Debian unstable's sparse (its
# binary needs only libc) is unpacked into ROOT/opt/dmp-sparse, once.
sparse_for() {
	local root=$1 kdir=$2 valid=none src sparse=sparse d line
	src=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$root$kdir/Makefile" | head -n 1)
	src=${src:-$kdir}
	if [ -e "$root$src/scripts/checker-valid.sh" ]; then
		valid=script
	elif grep -qs checker-valid.sh "$root$src/Makefile"; then
		valid=ours
	fi
	if [ $valid != none ] && ! sparse_ok "$root" sparse; then
		[ "$root" != / ] || die "sparse $(sparse --version 2>&1) is too old for the headers in $kdir (no __typeof_unqual__), and no newer one runs on this host"
		sparse=/opt/dmp-sparse/usr/bin/sparse
		if [ ! -x "$root$sparse" ]; then
			lock
			d=$cache/apt/unstable
			apt_private "$d" "$mirror unstable"
			apt_refresh "$d"
			note "Debian's sparse in $root is too old for $kdir: unpacking unstable's"
			rm -rf "$d/debs"
			mkdir -p "$d/debs"
			chown _apt "$d/debs" 2>/dev/null || true
			(cd "$d/debs" && apt-get download -q sparse/unstable >&2)
			unset APT_CONFIG
			rm -rf "$root/opt/dmp-sparse"
			dpkg-deb -x "$d"/debs/sparse_*.deb "$root/opt/dmp-sparse"
		fi
		sparse_ok "$root" "$sparse" || die "no sparse that parses the headers of $kdir"
	fi
	line=$("$top/tests/kchroot" "$root" "$sparse" --version 2>&1 | head -n 1)
	assign SPARSE "$sparse"
	assign SPARSE_VERSION "$line"
	assign SPARSE_VALID "$valid"
}

want_sparse=0
if [ "${1:-}" = --sparse ]; then
	want_sparse=1
	shift
fi
name=${1:-stock}
case $name in
stock)		installed "$(stock_version)" ;;
headers)	headers ;;
backports)	backports ;;
newest)		newest ;;
debug)		debug "" ;;
debug-*)	debug "${name#debug-}" ;;
*)		installed "$name" ;;
esac
