#!/bin/bash
# DESCRIPTION: no release runs module text after rmmod.  A kobject's
# release may run long after its last put (CONFIG_DEBUG_KOBJECT_RELEASE,
# on the sanitizer kernel, delays every release by 1-4 s); dmp's
# directories are the kernel's own kobjects, so rmmod right after the
# last "dmsetup remove" is safe.  Cycles of create / read stat / remove /
# rmmod / insmod at once; rmmod right after the last of several devices
# went; insmod/rmmod cycles while readers loop over every file of stat/.
# Every cycle: the module unloads, /sys/module/dmp is gone, the kernel
# logs no report (ODEBUG, KASAN, ...: checked by tests/check), and
# kmemleak (where the kernel has it) finds nothing at the end.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 16)
cycles=$(scaled 50)
dmb_start
# Devices made here by ioctl are removed at exit, whatever happened.
trap 'rc=$?; set +e; for n in $(dmsetup ls 2>/dev/null | awk '"'"'$1 ~ /^(rel[0-9]+|m[0-3]|rd)$/ { print $1 }'"'"'); do
	dmsetup remove --retry "$n" >/dev/null 2>&1; done; (exit $rc); _cleanup' EXIT
# From a fresh load, so that stat/all counts only this test's I/O.
dmb_ok rmmod dmp
dmb_ok insmod "$DMP_KO"

gone() {	# WHAT: the module is unloaded and left nothing in sysfs
	[ ! -e /sys/module/dmp ] || fail "$1: /sys/module/dmp still there"
}

# Create, read, remove, rmmod, insmod: no pause anywhere.
for ((i = 0; i < cycles; i++)); do
	dmb_ok mk "rel$i" 0 8192 dmp "$dev $((i * 8))"
	dmb_ok read "rel$i" 0 4096
	read -ra s <"$DMP_STAT/all/stat"
	[ "${s[0]}" = 1 ] || fail "cycle $i: all/read_reqs ${s[0]}, expected 1 (one read since insmod)"
	dmb_ok remove "rel$i"
	dmb_ok rmmod dmp
	gone "cycle $i"
	dmb_ok insmod "$DMP_KO"
done
echo "ok: $cycles cycles of create, read, remove, rmmod and insmod"

# rmmod right after the last of several devices, each with its link.
for ((i = 0; i < $(scaled 10); i++)); do
	for j in 0 1 2 3; do
		dmb_ok mk "m$j" 0 4096 dmp "$dev $((j * 4096))"
	done
	cat "$DMP_STAT"/m*/stat "$DMP_STAT"/all/stat >/dev/null
	for j in 0 1 2 3; do
		dmb_ok remove "m$j"
	done
	dmb_ok rmmod dmp
	gone "four devices, cycle $i"
	dmb_ok insmod "$DMP_KO"
done
echo "ok: rmmod right after the last of four devices, $(scaled 10) times"

# Readers over every file while the module comes and goes.
reader() {
	local f
	while [ ! -e "$DMP_TMP/stop" ]; do
		for f in "$DMP_STAT"/*/* "$DMP_STAT"/all/*; do
			cat "$f" >/dev/null 2>&1 || true
		done
	done
}
bg reader
r1=$!
bg reader
r2=$!
for ((i = 0; i < cycles; i++)); do
	dmb_ok mk rd 0 8192 dmp "$dev 0"
	dmb_ok read rd 8 512
	dmb_ok remove rd
	# Readers in the middle of a read of stat/ do not hold the module.
	dmb_ok rmmod dmp
	gone "reader cycle $i"
	dmb_ok insmod "$DMP_KO"
done
: >"$DMP_TMP/stop"
wait "$r1" "$r2"
echo "ok: $cycles insmod/rmmod cycles with two readers of every file"
kmemleak_clean "module cycles with delayed releases"
