#!/bin/bash
# DESCRIPTION: every allocation failing, one at a time.  With the kernel's
# fault injection (the sanitizer kernel: failslab, fail_function, and
# /proc/thread-self/fail-nth, which fails the N-th fallible call of one
# thread), "dmsetup create" (create + load + resume, by ioctl) is run with
# its 1st, 2nd, 3rd, ... call failing, until it succeeds without reaching
# N: every slab allocation on the way (dm's, dmp's context, counters'
# container, directory, attribute files, link, index) and dmp's per-CPU
# counters (dmp_stats_init, by fail_function).  After each failure: an
# error to the caller, the failing constructor's message in dmesg, no
# device, directory, link or list entry left, the module's use count back;
# after the success the device counts exactly.  The same for a reload of a
# live device (which keeps its table, counters and link) and for insmod.
# kmemleak is clean at the end.  Skipped on kernels without fail-nth and
# failslab.
. "$(dirname "$0")/lib.sh"

dbg=/sys/kernel/debug
if [ ! -e /proc/thread-self/fail-nth ] || [ ! -d "$dbg/failslab" ]; then
	echo "skip: this kernel has no fail-nth or failslab (the sanitizer kernel has)"
	exit 0
fi
max=5000

# Fault injection set up for this test only: slab allocations that may
# sleep count too (they are what dmp makes), one line per injected
# failure and no stack dump, and dmp_stats_init() may be failed.
restore() {
	echo Y >"$dbg/failslab/ignore-gfp-wait"
	echo 2 >"$dbg/failslab/verbose"
	[ ! -d "$dbg/fail_function" ] || echo >"$dbg/fail_function/inject"
}
trap 'rc=$?; set +e; restore; (exit $rc); _cleanup' EXIT
echo N >"$dbg/failslab/ignore-gfp-wait"
echo 1 >"$dbg/failslab/verbose"
inject_percpu() {
	[ -d "$dbg/fail_function" ] || return 0
	echo dmp_stats_init >"$dbg/fail_function/inject"
	# -ENOMEM, written as fault-injection.rst says (an unsigned number).
	printf %#x -12 >"$dbg/fail_function/dmp_stats_init/retval"
	echo 1 >"$dbg/fail_function/verbose"
}
inject_percpu

dev=$(backing_dev 32)
dmb_start
ref0=$(dmp_refcnt)

# clean WHAT NAME: after a failure, nothing of device NAME is left.
clean() {
	dmb info "$2"
	[[ $DMB == err* ]] || fail "$1: device $2 left: $DMB"
	[ ! -e "$DMP_STAT/$2" ] || fail "$1: link stat/$2 left"
	[ "$(ls "$DMP_STAT" | grep -cvx all)" = 0 ] || fail "$1: stat/ holds $(ls "$DMP_STAT" | tr '\n' ' ')"
	[ "$(dmp_refcnt)" = "$ref0" ] || fail "$1: module use count $(dmp_refcnt), was $ref0"
}

# run_points WHAT CHECK CMD...: CMD with the 1st, 2nd, ... call failing,
# until it succeeds without reaching the N-th; CHECK runs after each
# failure.  Counts in POINTS (calls reached), FAILED (CMD failed),
# TOLERATED (the call failed but CMD succeeded: a fallback).
run_points() {
	local what=$1 check=$2 n msg
	shift 2
	POINTS=0 FAILED=0 TOLERATED=0
	DMP_MSGS=${DMP_MSGS:-0}
	for ((n = 1; n <= max; n++)); do
		dmesg_mark
		dmb fail "$n" "$@"
		case $DMB in
		"ok "*"nth=0" | "ok nth=0")
			TOLERATED=$((TOLERATED + 1)) POINTS=$n
			"$check" "$what, call $n failed (tolerated)" ok ;;
		ok*)
			break ;;
		*"nth=0")
			FAILED=$((FAILED + 1)) POINTS=$n
			msg=$(dmesg_since | grep -v FAULT_INJECTION | grep -E 'device-mapper|dmp' | tail -n 2 | tr '\n' '|')
			echo "call $n: ${DMB% nth=*}: ${msg:-(no kernel message)}"
			[[ $msg != *"dmp: "* ]] || DMP_MSGS=$((DMP_MSGS + 1))
			"$check" "$what, call $n failed" err ;;
		*)
			fail "$what, call $n: $DMB" ;;
		esac
	done
	[ "$n" -le "$max" ] || fail "$what: still failing after $max calls"
	log "$what: $POINTS calls reached, $FAILED failed it, $TOLERATED tolerated"
}

# --- dmsetup create
check_create() {
	if [ "$2" = ok ]; then
		dmb_ok remove fz
	fi
	clean "$1" fz
}
run_points create check_create mk fz 0 8192 dmp "$dev 64"
create_points=$POINTS create_failed=$FAILED
dmb_ok read fz 0 4096
dmb_ok write fz 8 512
read -ra s <"$DMP_STAT/fz/stat"
assert_eq "${s[0]} ${s[1]} ${s[2]} ${s[3]}" "1 1 4096 512" "counts of the device created at last"
assert_eq "$(blk_stat fz 1) $(blk_stat fz 5)" "1 1" "its dm diskstats"
[ "$create_failed" -gt 0 ] || fail "no injected failure made the creation fail"

# --- a reload of the live device fz onto another offset
dir=$(readlink -f "$DMP_STAT/fz")
live=$(dmsetup table fz)
check_reload() {
	[ "$(dmsetup table fz)" = "$live" ] || fail "$1: live table now $(dmsetup table fz)"
	[ "$(readlink -f "$DMP_STAT/fz")" = "$dir" ] || fail "$1: link stat/fz moved"
	read -ra s <"$DMP_STAT/fz/stat"
	[ "${s[0]} ${s[1]}" = "1 1" ] || fail "$1: counters now ${s[*]:0:2}"
	dmb clear fz
}
run_points reload check_reload load fz 0 8192 dmp "$dev 128"
reload_points=$POINTS
dmb_ok resume fz
dmb_ok read fz 0 4096
read -ra s <"$DMP_STAT/fz/stat"
assert_eq "${s[0]} ${s[1]}" "2 1" "counts after the reload went live"
dmb_ok remove fz
clean "after the reload test" fz

# --- insmod
dmb_ok rmmod dmp
check_insmod() {
	if [ "$2" = ok ]; then
		dmb_ok rmmod dmp
	fi
	[ ! -e /sys/module/dmp ] || fail "$1: /sys/module/dmp left"
}
run_points insmod check_insmod insmod "$DMP_KO"
insmod_points=$POINTS
[ -d "$DMP_STAT/all" ] || fail "no stat/all after insmod"
[ "$(stat_files "$DMP_STAT/all" | wc -l)" -gt 20 ] || fail "stat/all incomplete after insmod"
inject_percpu
dmb_ok mk fz 0 8192 dmp "$dev 64"
dmb_ok read fz 0 4096
assert_eq "$(<"$DMP_STAT/all/read_reqs")" 1 "all/read_reqs after the insmod test"
dmb_ok remove fz
log "injection points reached: create $create_points, reload $reload_points, insmod $insmod_points; failures with dmp's message: $DMP_MSGS"
assert_gt "$DMP_MSGS" 0 "failures refused by dmp's constructor with its message"
kmemleak_clean "allocation failures"
