#!/bin/bash
# DESCRIPTION: two dmp devices at once, over two different backing devices,
# with different fio workloads running side by side: each directory counts
# exactly its own device's I/O (fio and /sys/block/dm-N/stat agree), "all"
# counts the sum, and removing one device leaves "all" as it was while its
# directory and name link go away.
. "$(dirname "$0")/lib.sh"

attrs="read_reqs write_reqs total_reqs read_bytes write_bytes total_bytes
read_avg_size write_avg_size total_avg_size flush_reqs discard_reqs discard_bytes"

# Every attribute of a stat directory on one line: "name=value ...".
snapshot() {	# dir
	local a out=
	for a in $attrs; do
		out+="$a=$(cat "$1/$a") "
	done
	out+="stat=$(stat_req "$1/stat") "
	echo "${out% }"
}

# A fresh load, so that "all" has counted nothing yet.
rmmod dmp
insmod "$DMP_KO"
assert_eq "$(stat_req "$DMP_STAT/all/stat")" "0 0 0 0 0 0 0" "all/stat after load"

dev_a=$(backing_dev 64)		# loop device
dev_b=$(nullb_dev 64)		# null_blk
dmp_create two-a "$dev_a"
dmp_create two-b "$dev_b"
dir_a=$(stat_dir two-a)
dir_b=$(stat_dir two-b)
[ "$dir_a" != "$dir_b" ] || fail "both devices share $dir_a"
assert_eq "$(readlink -f "$DMP_STAT/two-a")" "$dir_a" "link two-a"
assert_eq "$(readlink -f "$DMP_STAT/two-b")" "$dir_b" "link two-b"

# a: random 4 KiB reads, libaio, deep queue.  b: 64 KiB psync, mostly writes.
bg run_fio "$DMP_TMP/a.json" --name=a --filename="$(dm_node two-a)" \
	--direct=1 --rw=randread --bs=4k --ioengine=libaio --iodepth=16 \
	--numjobs=2 --group_reporting --size=64m --io_size="$(scaled 6)m" --randrepeat=0
pid_a=$!
bg run_fio "$DMP_TMP/b.json" --name=b --filename="$(dm_node two-b)" \
	--direct=1 --rw=randrw --rwmixread=25 --bs=64k --ioengine=psync \
	--numjobs=1 --group_reporting --size=64m --io_size="$(scaled 16)m" --randrepeat=0
pid_b=$!
wait "$pid_a" || fail "fio on two-a failed"
wait "$pid_b" || fail "fio on two-b failed"

declare -A want
for d in a b; do
	j=$DMP_TMP/$d.json
	want[$d.r]=$(fio_get "$j" '.jobs[0].read.total_ios')
	want[$d.w]=$(fio_get "$j" '.jobs[0].write.total_ios')
	want[$d.rb]=$(fio_get "$j" '.jobs[0].read.io_bytes')
	want[$d.wb]=$(fio_get "$j" '.jobs[0].write.io_bytes')
	log "fio $d: read ${want[$d.r]} ios / ${want[$d.rb]} bytes, write ${want[$d.w]} ios / ${want[$d.wb]} bytes"
done
if [ "${want[a.r]}" -eq 0 ] || [ "${want[a.w]}" -ne 0 ]; then fail "fio a: not a read-only workload"; fi
if [ "${want[b.r]}" -eq 0 ] || [ "${want[b.w]}" -le "${want[b.r]}" ]; then fail "fio b: not a write-mostly workload"; fi

for d in a b; do
	name=two-$d
	r=${want[$d.r]} w=${want[$d.w]} rb=${want[$d.rb]} wb=${want[$d.wb]}
	assert_eq "$(stat_get "$name" read_reqs)" "$r" "$name read_reqs vs fio"
	assert_eq "$(stat_get "$name" write_reqs)" "$w" "$name write_reqs vs fio"
	assert_eq "$(stat_get "$name" read_bytes)" "$rb" "$name read_bytes vs fio"
	assert_eq "$(stat_get "$name" write_bytes)" "$wb" "$name write_bytes vs fio"
	assert_eq "$(stat_get "$name" total_reqs)" "$((r + w))" "$name total_reqs"
	assert_eq "$(stat_get "$name" total_bytes)" "$((rb + wb))" "$name total_bytes"
	assert_eq "$(stat_req "$(stat_dir "$name")/stat")" "$r $w $rb $wb 0 0 0" "$name stat"
	# The block layer's view of the same dm device.
	assert_eq "$(blk_stat "$name" 1)" "$r" "$name dm stat reads"
	assert_eq "$(($(blk_stat "$name" 3) * 512))" "$rb" "$name dm stat bytes read"
	assert_eq "$(blk_stat "$name" 5)" "$w" "$name dm stat writes"
	assert_eq "$(($(blk_stat "$name" 7) * 512))" "$wb" "$name dm stat bytes written"
done

# "all" is the sum of the two devices, every attribute of it.
declare -A sum
for a in read_reqs write_reqs read_bytes write_bytes flush_reqs discard_reqs discard_bytes; do
	sum[$a]=$(($(stat_get two-a "$a") + $(stat_get two-b "$a")))
done
sum[total_reqs]=$((sum[read_reqs] + sum[write_reqs]))
sum[total_bytes]=$((sum[read_bytes] + sum[write_bytes]))
sum[read_avg_size]=$((sum[read_bytes] / sum[read_reqs]))
sum[write_avg_size]=$((sum[write_bytes] / sum[write_reqs]))
sum[total_avg_size]=$((sum[total_bytes] / sum[total_reqs]))
for a in $attrs; do
	assert_eq "$(all_get "$a")" "${sum[$a]}" "all/$a = two-a + two-b"
done
assert_eq "$(stat_req "$DMP_STAT/all/stat")" "${sum[read_reqs]} ${sum[write_reqs]} ${sum[read_bytes]} ${sum[write_bytes]} 0 0 0" \
	"all/stat = two-a + two-b"

# Remove b: nothing in "all" moves, its directory and its link are gone,
# and a keeps its own counts.
before_all=$(snapshot "$DMP_STAT/all")
before_a=$(snapshot "$dir_a")
dm_remove two-b
[ ! -e "$dir_b" ] || fail "$dir_b still there after remove"
if [ -L "$DMP_STAT/two-b" ] || [ -e "$DMP_STAT/two-b" ]; then fail "link two-b still there after remove"; fi
assert_eq "$(snapshot "$DMP_STAT/all")" "$before_all" "every attribute of all after removing two-b"
assert_eq "$(snapshot "$dir_a")" "$before_a" "every attribute of two-a after removing two-b"
assert_eq "$(readlink -f "$DMP_STAT/two-a")" "$dir_a" "link two-a after removing two-b"

# "all" still adds the live device's new I/O to what the removed one left.
dd if="$(dm_node two-a)" of=/dev/null bs=64k count=3 iflag=direct status=none
assert_eq "$(all_get read_reqs)" "$((sum[read_reqs] + 3))" "all/read_reqs after 3 more reads on two-a"
assert_eq "$(all_get read_bytes)" "$((sum[read_bytes] + 3 * 65536))" "all/read_bytes after 3 more reads on two-a"
assert_eq "$(stat_get two-a read_reqs)" "$((${want[a.r]} + 3))" "two-a read_reqs after 3 more reads"
