#!/bin/bash
# DESCRIPTION: every allocation failing, one at a time.  With the kernel's
# fault injection (the sanitizer kernel: failslab, fail_function, and
# /proc/thread-self/fail-nth, which fails the N-th fallible call of one
# thread), "dmsetup create" (create + load + resume, by ioctl; each step
# run with its 1st, 2nd, 3rd, ... call failing, until it succeeds without
# reaching N, then the next step: the same points as failing the N-th call
# of the three, without re-creating the device for each) meets a failure at
# every slab allocation on the way (dm's, dmp's context, counters'
# container, directory, attribute files, link, index) and in dmp's per-CPU
# counters (dmp_stats_init, by fail_function).  After each failure: an
# error to the caller, the failing constructor's message in dmesg, no
# device, directory, link or list entry left, the module's use count back;
# after the success the device counts exactly.  The same for a reload of a
# live device (which keeps its table, counters and link) and for insmod.
# kmemleak is clean at the end.  Skipped on kernels without fail-nth and
# failslab.
#
# On the sanitizer kernel every load and unload waits for the delayed
# releases of the module's kobjects (DEBUG_KOBJECT_RELEASE, 1-4 s each):
# the insmod part alone takes about 15 minutes there (1,088 s in all).
# TIMEOUT: 3000
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
dmesg_mark

# A device named like the directory fz is going to get (the next minor):
# its link stat/<major>:<minor> gives way to fz's directory, and must be
# back after every creation of fz that failed.
dmb_ok mk hold 0 4096 dmp "$dev 0"
dmb_ok info hold
read -r _ hdev _ <<<"$DMB"
hdir=$DMP_STAT/$hdev
next=${hdev%:*}:$((${hdev#*:} + 1))
dmb_ok rename hold "$next"
dmb_ok suspend "$next"
dmb_ok resume "$next"
[ "$(readlink -f "$DMP_STAT/$next")" = "$hdir" ] || fail "no link stat/$next to $hdir"
e0=("$DMP_STAT"/*)
ref0=$(dmp_refcnt)

# clean WHAT NAME: after a failure, nothing of device NAME is left;
# clean_tables WHAT NAME: nothing of a table of NAME.  No process is
# started: on the sanitizer kernel each one costs about a second.
clean() {
	dmb info "$2"
	[[ $DMB == err* ]] || fail "$1: device $2 left: $DMB"
	clean_tables "$@"
}
clean_tables() {
	local -a e
	local ref
	[ ! -e "$DMP_STAT/$2" ] || fail "$1: link stat/$2 left"
	e=("$DMP_STAT"/*)
	[ "${e[*]}" = "${e0[*]}" ] || fail "$1: stat/ holds ${e[*]}, not ${e0[*]}"
	[ "$DMP_STAT/$next" -ef "$hdir" ] || fail "$1: stat/$next is not the link to $hdir"
	read -r ref </sys/module/dmp/refcnt
	[ "$ref" = "$ref0" ] || fail "$1: module use count $ref, was $ref0"
}

# run_points WHAT CHECK CMD...: CMD with the 1st, 2nd, ... call failing,
# until it succeeds without reaching the N-th; CHECK WHAT ok|err runs
# after each failure (ok: the call failed but CMD succeeded, a fallback).
# Counts in POINTS (calls reached), FAILED (CMD failed), TOLERATED.
run_points() {
	local what=$1 check=$2 n
	shift 2
	POINTS=0 FAILED=0 TOLERATED=0
	for ((n = 1; n <= max; n++)); do
		dmb_ok kmark
		dmb fail "$n" "$@"
		case $DMB in
		"ok "*"nth=0" | "ok nth=0")
			TOLERATED=$((TOLERATED + 1)) POINTS=$n
			"$check" "$what, call $n failed (tolerated)" ok ;;
		ok*)
			break ;;
		*"nth=0")
			FAILED=$((FAILED + 1)) POINTS=$n
			echo "$what, call $n: ${DMB% nth=*}"
			"$check" "$what, call $n failed" err ;;
		*)
			fail "$what, call $n: $DMB" ;;
		esac
	done
	[ "$n" -le "$max" ] || fail "$what: still failing after $max calls"
	log "$what: $POINTS calls reached, $FAILED failed it, $TOLERATED tolerated"
	TOTAL=$((${TOTAL:-0} + POINTS))
}

table=(0 8192 dmp "$dev 64")
# --- dmsetup create, step 1: the device
check_create() {
	if [ "$2" = ok ]; then
		dmb_ok remove fz
	fi
	clean "$1" fz
}
run_points "create: device" check_create create fz
# Step 2: its table.
check_load() {
	if [ "$2" = ok ]; then
		dmb_ok clear fz
	else
		# A failure in dmp's constructor is refused with dmp's own
		# message (device-mapper prints ti->error, "Unknown error"
		# if the constructor set none); failures in device-mapper's
		# own allocations, before it, give the caller ENOMEM alone.
		dmb_ok kgrep "dmp: Unknown error"
		[ "$DMB" = "ok 0" ] || fail "$1: dmp refused the table without a message"
	fi
	dmb table fz
	[ "$DMB" = ok ] || fail "$1: fz has a live table: $DMB"
	clean_tables "$1" fz
}
run_points "create: table" check_load load fz "${table[@]}"
# Step 3: the resume that makes it live (a failure destroys the table).
check_resume() {
	dmb_ok remove fz
	clean "$1" fz
	dmb_ok create fz
	dmb_ok load fz "${table[@]}"
}
run_points "create: resume" check_resume resume fz
assert_eq "$(readlink -f "$DMP_STAT/fz")" "$DMP_STAT/$next" "fz's directory, where hold's link was"
create_points=$TOTAL
dmb_ok read fz 0 4096
dmb_ok write fz 8 512
read -ra s <"$DMP_STAT/fz/stat"
assert_eq "${s[0]} ${s[1]} ${s[2]} ${s[3]}" "1 1 4096 512" "counts of the device created at last"
assert_eq "$(blk_stat fz 1) $(blk_stat fz 5)" "1 1" "its dm diskstats"

# --- a reload (a table load) of the live device fz onto another offset
live=$(dmsetup table fz)
check_reload() {
	[ "$(dmsetup table fz)" = "$live" ] || fail "$1: live table now $(dmsetup table fz)"
	[ "$DMP_STAT/fz" -ef "$DMP_STAT/$next" ] || fail "$1: link stat/fz moved"
	read -ra s <"$DMP_STAT/fz/stat"
	[ "${s[0]} ${s[1]}" = "1 1" ] || fail "$1: counters now ${s[*]:0:2}"
	dmb clear fz
}
TOTAL=0
run_points reload check_reload load fz 0 8192 dmp "$dev 128"
reload_points=$TOTAL
dmb_ok resume fz
dmb_ok read fz 0 4096
read -ra s <"$DMP_STAT/fz/stat"
assert_eq "${s[0]} ${s[1]}" "2 1" "counts after the reload went live"
dmb_ok remove fz
clean "after the reload test" fz

# --- insmod: the calls from dmp's init on.  They are the last ones of an
# insmod, so count down from the last: each one failing fails dmp's init
# with its message, or is tolerated, until a failure that is not dmp's (the
# module loader's last call before the init).  The loader's own calls are
# the kernel's: failing them makes its tracing setup WARN and vmalloc dump
# stacks, which are no faults of dmp.
dmb_ok remove "$next"
# fail_function's probe on dmp_stats_init() (not called by insmod) goes
# with the module.
[ ! -d "$dbg/fail_function" ] || echo >"$dbg/fail_function/inject"
dmb_ok rmmod dmp
# (dmbatch keeps the module file open from its first insmod on: the
# failures fall into the loads, not into the file's open or close.)
dmb_ok insmod "$DMP_KO"
dmb_ok rmmod dmp
dmb fail 1000000 insmod "$DMP_KO"
[[ $DMB == "ok nth="* ]] || fail "insmod with nothing failing: $DMB"
last=$((1000000 - ${DMB#ok nth=}))
dmb_ok rmmod dmp
log "insmod makes $last fallible calls"
own=0 tolerated=0 unreached=0
# DMP_FAULT_STRIDE=K (CI: 5) fails every K-th of them only (odd: about
# every other call of dmp's init is one that is tolerated); each costs
# a load and an unload, seconds apiece on the sanitizer kernel.
stride=${DMP_FAULT_STRIDE:-1}
for ((n = last; n >= 1; n -= stride)); do
	dmb_ok kmark
	dmb fail "$n" insmod "$DMP_KO"
	case $DMB in
	"ok nth=0")
		tolerated=$((tolerated + 1))
		dmb_ok rmmod dmp
		continue ;;
	"ok nth="*)
		# This load made fewer calls than the first (the loader's
		# own allocations vary a little): nothing failed.
		unreached=$((unreached + 1))
		dmb_ok rmmod dmp
		continue ;;
	"err "*"nth=0")
		;;
	*)
		fail "insmod, call $n: $DMB" ;;
	esac
	[ ! -e /sys/module/dmp ] || fail "insmod, call $n failed: /sys/module/dmp left"
	dmb_ok kgrep "dmp: cannot create /sys/module/dmp/stat"
	if [ "$DMB" = "ok 0" ]; then
		log "insmod, call $n: the loader's (${DMB#ok })"
		break
	fi
	own=$((own + 1))
	echo "insmod, call $n: dmp's init refused with its message"
done
insmod_points=$((last - n + 1))
log "insmod: calls $n to $last reached ($insmod_points$([ "$stride" = 1 ] || echo ", every ${stride}th failed")): $own failed dmp's init, $tolerated tolerated, $unreached not reached, call $n the loader's"
assert_gt "$own" 0 "insmod failures in dmp's init"
dmb_ok insmod "$DMP_KO"
[ -d "$DMP_STAT/all" ] || fail "no stat/all after insmod"
[ "$(stat_files "$DMP_STAT/all" | wc -l)" -gt 20 ] || fail "stat/all incomplete after insmod"
inject_percpu
dmb_ok mk fz 0 8192 dmp "$dev 64"
dmb_ok read fz 0 4096
assert_eq "$(<"$DMP_STAT/all/read_reqs")" 1 "all/read_reqs after the insmod test"
dmb_ok remove fz
log "injection points reached: create $create_points, reload $reload_points, insmod $insmod_points"
# The failures in dmp's constructor said so, with dmp's own message.
dmesg_since | grep -v FAULT_INJECTION | grep 'dmp: ' | sed 's/^\[[ 0-9.]*\] //; s/^device-mapper: table: [0-9:]*: //' |
	sort | uniq -c >"$DMP_TMP/msgs"
cat "$DMP_TMP/msgs"
for m in "Cannot allocate dmp context" "Cannot allocate the device's statistics"; do
	assert_gt "$(grep -c "dmp: $m (-ENOMEM)" "$DMP_TMP/msgs")" 0 "failures refused with \"$m\""
done
kmemleak_clean "allocation failures"
