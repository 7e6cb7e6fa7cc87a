#!/bin/bash
# DESCRIPTION: 100 reload / suspend / resume cycles under fio --verify=crc32c:
# the table is switched between three ways to reach the same bytes (two loop
# devices over one file, and a dm-linear device at another offset), so each
# reload changes the underlying device and the offset, or keeps them, or
# only suspends.  Every fio run verifies what it wrote, and dmp's counts
# equal fio's and /sys/block/dm-N/stat exactly, in one directory that never
# went away.
. "$(dirname "$0")/lib.sh"

cycles=$(scaled 100)
img=$DMP_TMP/shared.img
truncate -s 64M "$img"
# Two loop devices over one file: the same bytes through two block devices
# (buffered loop I/O goes through the file's page cache, shared by both).
loop_a=$(losetup -f --show "$img")
_loops+=("$loop_a")
loop_b=$(losetup -f --show "$img")
_loops+=("$loop_b")
a_t=$(<"/sys/block/${loop_a#/dev/}/dev")
b_t=$(<"/sys/block/${loop_b#/dev/}/dev")
sz=$(sectors_of "$loop_a")
dm_create lin12 "0 $((sz - 2048)) linear $a_t 2048"
lin_t=$(dm_devt lin12)

# Three views of the file's sectors [4096, 4096 + len).
len=$((32 * 2048))
views=("$a_t 4096" "$b_t 4096" "$lin_t 2048")
dmesg_mark
dm_create rv "0 $len dmp ${views[0]}"
devt=$(dm_devt rv)
dir=$(stat_dir rv)
blk=$(dm_block rv)

# fio runs back to back until the cycles are done: random writes of mixed
# sizes, each run then reads everything back and checks its crc32c.
fio_loop() {
	local i=0
	while [ ! -e "$DMP_TMP/stop" ]; do
		run_fio "$DMP_TMP/v.$i.json" --name=verify --filename="$(dm_node rv)" \
			--direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite \
			--bssplit=4k/50:16k/30:64k/20 --size=32m --io_size=4m \
			--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 --randrepeat=0
		i=$((i + 1))
	done
}
bg fio_loop
fio_pid=$!

# Wait until fio's I/O has reached the device, then cycle.
for ((k = 0; k < 600; k++)); do
	[ "$(<"$dir/write_reqs")" -gt 0 ] && break
	sleep 0.1
done
assert_gt "$(<"$dir/write_reqs")" 0 "writes before the first cycle"

dmb_start
view=0 moves=0 same=0 suspends=0
for ((i = 0; i < cycles; i++)); do
	kill -0 "$fio_pid" 2>/dev/null || break
	case $((i % 4)) in
	0)	# suspend + resume
		op=(suspend) suspends=$((suspends + 1)) ;;
	1|3)	# reload onto the next view (other device, other offset)
		view=$(((view + 1) % 3)) op=(load) moves=$((moves + 1)) ;;
	2)	# reload of the same table
		op=(load) same=$((same + 1)) ;;
	esac
	table="0 $len dmp ${views[view]}"
	if ((i % 5 == 0)); then
		# Every 5th cycle through dmsetup itself; a reload onto another
		# view, when it is one, happens while suspended.
		if [ "${op[0]}" = load ]; then
			timeout 60 dmsetup suspend rv || fail "cycle $i: dmsetup suspend"
			timeout 60 dmsetup reload rv --table "$table" || fail "cycle $i: dmsetup reload"
		else
			timeout 60 dmsetup suspend rv || fail "cycle $i: dmsetup suspend"
		fi
		timeout 60 dmsetup resume rv || fail "cycle $i: dmsetup resume"
	else
		if [ "${op[0]}" = load ]; then
			dmb_ok load rv 0 "$len" dmp "${views[view]}"
		else
			dmb_ok suspend rv
		fi
		dmb_ok resume rv
	fi
	[ -d "$dir" ] || fail "cycle $i: $dir is gone"
done
done_cycles=$i
touch "$DMP_TMP/stop"
wait "$fio_pid" || fail "fio failed (verification or I/O error): see above"
assert_eq "$done_cycles" "$cycles" "cycles done while fio ran"
log "$cycles cycles: $moves reloads onto another device and offset, $same reloads of the same table, $suspends suspend/resume"

dmb_ok table rv
assert_eq "${DMB#ok }" "0 $len dmp ${views[view]}" "live table after the cycles"

# fio's counts, over every run (each verified its data: --verify_fatal).
read -r runs fw fwb fr frb < <(jq -s -r '[length, (map(.jobs[0].write.total_ios) | add),
	(map(.jobs[0].write.io_bytes) | add), (map(.jobs[0].read.total_ios) | add),
	(map(.jobs[0].read.io_bytes) | add)] | @tsv' "$DMP_TMP"/v.*.json)
log "$runs fio runs: write $fw ios / $fwb bytes, read (verify) $fr ios / $frb bytes"
assert_gt "$fr" 0 "verify reads"
stat_snap "$dir"
assert_match "$SNAP" "^read_reqs=$fr write_reqs=$fw total_reqs=$((fr + fw)) read_bytes=$frb write_bytes=$fwb " \
	"dmp counters vs fio"
blk_read "$blk"
assert_eq "${BLK[1]} ${BLK[5]} $((BLK[3] * 512)) $((BLK[7] * 512))" "$fr $fw $frb $fwb" \
	"/sys/block stat vs fio"

# One directory for the device's whole life, one "created" line.
assert_eq "$(stat_dir rv)" "$dir" "stat directory after the cycles"
since=$(dmesg_since)
assert_eq "$(grep -c "dmp: $devt: created" <<<"$since" || true)" 1 "'created' lines for $devt"
assert_eq "$(grep -c "dmp: $devt: removed" <<<"$since" || true)" 0 "'removed' lines for $devt"

# The bytes are the same through every view.
sums=
for v in 0 1 2; do
	dmb_ok load rv 0 "$len" dmp "${views[v]}"
	dmb_ok resume rv
	sums+="$(dd if="$(dm_node rv)" bs=1M iflag=direct status=none | sha256sum | cut -c1-16) "
done
read -r s0 s1 s2 <<<"$sums"
assert_eq "$s1 $s2" "$s0 $s0" "contents through the three views"
