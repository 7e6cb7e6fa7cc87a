#!/bin/bash
# DESCRIPTION: load and unload: dmsetup lists the target, stat/all starts at
# zero with the documented modes, its epoch began at the load (created_ns =
# reset_ns, between two readings of /proc/uptime; resets 0), and rmmod
# leaves nothing under /sys/module.
. "$(dirname "$0")/lib.sh"

# CLOCK_BOOTTIME in ns from /proc/uptime (which has 1/100 s, rounded down)
uptime_ns() {
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000000000 + 10#${up#*.} * 10000000))
}

attrs="read_reqs write_reqs total_reqs read_bytes write_bytes total_bytes
read_avg_size write_avg_size total_avg_size flush_reqs discard_reqs discard_bytes"

# Start from a fresh load, so that "all" has seen nothing.
rmmod dmp
[ ! -e /sys/module/dmp ] || fail "/sys/module/dmp still there after rmmod"
dmesg_mark
before=$(uptime_ns)
insmod "$DMP_KO"
after=$(uptime_ns)

assert_match "$(dmsetup targets)" "(^|$'\n')dmp +v1\.[0-9]+\.[0-9]+" "dmsetup targets"
assert_match "$(dmesg_since)" "device-mapper: dmp: version 1\.[0-9]+\.[0-9]+ loaded" "load message"

[ -d "$DMP_STAT/all" ] || fail "no $DMP_STAT/all"
for a in $attrs; do
	assert_eq "$(all_get "$a")" 0 "all/$a"
	assert_eq "$(stat -c %a "$DMP_STAT/all/$a")" 444 "mode of all/$a"
done
# Every other file (histograms, in_flight, resets, ...) is read-only and
# zero, but for the epoch's times; stat is zero up to them.
for f in "$DMP_STAT"/all/*; do
	a=${f##*/}
	[ "$a" != reset ] || continue
	assert_eq "$(stat -c %a "$f")" 444 "mode of all/$a"
	case $a in
	created_ns | reset_ns) assert_match "$(<"$f")" '^[1-9][0-9]*$' "all/$a" ;;
	stat) assert_match "$(<"$f")" '^(0 ){20}[1-9][0-9]* [1-9][0-9]*$' "all/$a" ;;
	*) assert_match "$(<"$f")" '^(0 )*0$' "all/$a" ;;
	esac
done
read -r -a st <"$DMP_STAT/all/stat"
created=$(all_get created_ns)
assert_eq "$(all_get reset_ns) ${st[20]} ${st[21]}" "$created $created $created" \
	"all/reset_ns and the stat line's created_ns, reset_ns = all/created_ns"
# /proc/uptime is rounded down: the load came after "before" and at most
# 1/100 s after "after"
[ "$created" -ge "$before" ] && [ "$created" -lt $((after + 10000000)) ] ||
	fail "all/created_ns $created not between the uptimes around insmod ($before, $after ns)"
echo "ok: all/created_ns $created ns: between the uptimes around insmod ($before, $after ns)"
assert_eq "$(stat -c %a "$DMP_STAT/all/reset")" 200 "mode of all/reset"
assert_eq "$(ls "$DMP_STAT")" all "entries of stat/"

# The module must unload cleanly after a device came and went.
dev=$(backing_dev 8)
dmp_create load1 "$dev"
[ -d "$(stat_dir load1)" ] || fail "no directory for load1"
must_fail rmmod dmp >/dev/null
dm_remove load1
rmmod dmp
[ ! -e /sys/module/dmp ] || fail "/sys/module/dmp still there after rmmod"
assert_eq "$(dmsetup targets | grep -c '^dmp ' || true)" 0 "dmp in dmsetup targets after rmmod"
insmod "$DMP_KO"
