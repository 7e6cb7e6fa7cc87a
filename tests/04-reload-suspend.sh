#!/bin/bash
# DESCRIPTION: counters belong to the mapped device, not to a table: suspend,
# resume and reload while fio runs, and a reload onto another offset between
# two fio runs, lose or double nothing and keep the same stat directory; a
# table with two dmp segments has one directory, counts each empty flush once,
# and "dmsetup table" prints a table that maps the same device again.
. "$(dirname "$0")/lib.sh"

# The counts fio reports, summed over all jobs: "reads writes rbytes wbytes syncs".
fio_counts() {	# json
	jq -r '[([.jobs[].read.total_ios] | add), ([.jobs[].write.total_ios] | add),
		([.jobs[].read.io_bytes] | add), ([.jobs[].write.io_bytes] | add),
		([.jobs[].sync.total_ios] | add)] | map(tostring) | join(" ")' "$1"
}

# Add a fio run to the expected counts of the device.
exp_r=0 exp_w=0 exp_rb=0 exp_wb=0
expect_fio() {	# json
	local r w rb wb s
	read -r r w rb wb s < <(fio_counts "$1")
	if [ "$r" -eq 0 ] || [ "$w" -eq 0 ]; then fail "fio did no reads or no writes ($1)"; fi
	log "fio ${1##*/}: read $r ios / $rb bytes, write $w ios / $wb bytes"
	exp_r=$((exp_r + r)) exp_w=$((exp_w + w))
	exp_rb=$((exp_rb + rb)) exp_wb=$((exp_wb + wb))
}

# The device's counters equal the expected ones, in sysfs, in "dmsetup
# status" and in the block layer's statistics of the dm device (fields 1, 3,
# 5, 7: reads, sectors read, writes, sectors written).  Builtins only where
# possible: forks are slow in the guest.
check_counts() {	# name what
	local name=$1 what=$2 line b
	line=$(stat_req "$dir/stat")
	assert_eq "$line" "$exp_r $exp_w $exp_rb $exp_wb 0 0 0" "$what: $name stat"
	read -r line <"$dir/total_reqs"
	assert_eq "$line" "$((exp_r + exp_w))" "$what: $name total_reqs"
	line=$(status_req "$name")
	assert_eq "$line" "0 $len dmp $exp_r $exp_w $exp_rb $exp_wb 0 0 0" "$what: dmsetup status $name"
	read -r -a b <"$blk/stat"
	assert_eq "${b[0]} ${b[4]} $((b[2] * 512)) $((b[6] * 512))" "$exp_r $exp_w $exp_rb $exp_wb" \
		"$what: $name dm stat reads, writes, bytes read, bytes written"
}

dev=$(backing_dev 64)
dev2=$(backing_dev 64)
len=$((32 * 2048))		# 32 MiB: leaves room to move the offset

# (a) suspend/resume and reload/resume cycles while fio runs.
dmesg_mark
dmp_create rs "$dev" 0 "$len"
devt=$(dm_devt rs)
dir=$(stat_dir rs)
blk=$(dm_block rs)
table=$(dmsetup table rs)

# Rate-limited, so that it lasts through several cycles; the counts must be
# exact however many cycles land in it.
bg run_fio "$DMP_TMP/a.json" --name=a --filename="$(dm_node rs)" \
	--direct=1 --rw=randrw --rwmixread=50 --bssplit=4k/60:16k/20:64k/20 \
	--ioengine=libaio --iodepth=8 --size=32m --io_size="$(scaled 3)m" \
	--rate_iops=50 --randrepeat=0
fio_pid=$!
cycles=0
min_cycles=$(scaled 3)
while [ $cycles -lt "$min_cycles" ] || kill -0 "$fio_pid" 2>/dev/null; do
	dmsetup suspend rs
	dmsetup resume rs
	dmsetup reload rs --table "$table"
	dmsetup resume rs
	cycles=$((cycles + 1))
done
wait "$fio_pid" || fail "fio failed"
log "$cycles suspend/resume + reload/resume cycles while fio ran"
expect_fio "$DMP_TMP/a.json"
check_counts rs "after cycles under fio"

assert_eq "$(stat_dir rs)" "$dir" "stat directory after the cycles"
assert_eq "$(readlink -f "$DMP_STAT/rs")" "$dir" "link rs after the cycles"
since=$(dmesg_since)
assert_eq "$(grep -c "dmp: $devt: created, name \"rs\"" <<<"$since" || true)" 1 "'created' lines for $devt"
assert_eq "$(grep -c "dmp: $devt: removed" <<<"$since" || true)" 0 "'removed' lines for $devt"

# (b) between two fio runs: reload onto another offset, then suspend/resume.
run_fio "$DMP_TMP/b1.json" --name=b1 --filename="$(dm_node rs)" \
	--direct=1 --rw=randrw --bs=8k --ioengine=psync --size=32m \
	--io_size="$(scaled 2)m" --randrepeat=0
expect_fio "$DMP_TMP/b1.json"
check_counts rs "after fio b1"

dmsetup reload rs --table "0 $len dmp $dev 32768"
dmsetup resume rs
assert_match "$(dmsetup table rs)" "^0 $len dmp [0-9]+:[0-9]+ 32768\$" "table after reload"
check_counts rs "after reload to offset 32768"
dmsetup suspend rs
assert_match "$(dmsetup info rs)" "State: +SUSPENDED" "state after suspend"
check_counts rs "while suspended"
dmsetup resume rs

run_fio "$DMP_TMP/b2.json" --name=b2 --filename="$(dm_node rs)" \
	--direct=1 --rw=randrw --bs=16k --ioengine=libaio --iodepth=4 --size=32m \
	--io_size="$(scaled 2)m" --randrepeat=0
expect_fio "$DMP_TMP/b2.json"
check_counts rs "after fio b2"
assert_eq "$(stat_dir rs)" "$dir" "stat directory after (b)"
dm_remove rs

# (c) two dmp segments over two devices make one mapped device.  The second
# maps its device at an offset, so that the table text has to carry it.
half=$((8 * 2048))
dmesg_mark
dm_create seg "0 $half dmp $dev 0
$half $half dmp $dev2 2048"
segdir=$(stat_dir seg)
entries=$(cd "$DMP_STAT" && echo *)
assert_eq "$entries" "${segdir##*/} all seg" "entries of stat/"
assert_eq "$(dmesg_since | grep -c 'dmp: .*: created' || true)" 1 "'created' lines for seg"

# One job per segment, so that no request crosses the boundary; the first
# one calls fsync every 4 writes, each an empty flush to both segments.
loop_sectors() {	# loop-device field
	local s
	read -r -a s <"/sys/block/${1#/dev/}/stat"
	echo "${s[$2 - 1]}"
}
w1=$(loop_sectors "$dev" 7) w2=$(loop_sectors "$dev2" 7)
r1=$(loop_sectors "$dev" 3) r2=$(loop_sectors "$dev2" 3)
run_fio "$DMP_TMP/c.json" --filename="$(dm_node seg)" --direct=1 --randrepeat=0 \
	--name=first --offset=0 --size=8m --rw=randrw --rwmixread=30 --bs=4k \
	--ioengine=psync --fsync=4 --io_size="$(scaled 2)m" \
	--name=second --offset=8m --size=8m --rw=randrw --bs=32k \
	--ioengine=libaio --iodepth=4 --io_size="$(scaled 4)m"
read -r r w rb wb syncs < <(fio_counts "$DMP_TMP/c.json")
log "fio c: read $r ios / $rb bytes, write $w ios / $wb bytes, $syncs syncs"
[ "$syncs" -gt 0 ] || fail "fio c: no fsync"
line=$(stat_req "$segdir/stat")
assert_eq "$line" "$r $w $rb $wb $syncs 0 0" "seg stat (flush_reqs = fio syncs, once per flush)"
status=$(status_req seg)
assert_eq "$status" "0 $half dmp $r $w $rb $wb $syncs 0 0
$half $half dmp $r $w $rb $wb $syncs 0 0" "dmsetup status seg"
# The block layer counts an empty flush as a write of no sectors.
read -r -a b <"$(dm_block seg)/stat"
assert_eq "${b[0]} ${b[4]} $((b[2] * 512)) $((b[6] * 512))" "$r $((w + syncs)) $rb $wb" \
	"seg dm stat reads, writes (+ flushes), bytes read, bytes written"
# Each segment's bytes reached its own backing device.
for k in 0 1; do
	if [ $k = 0 ]; then d=$dev; w0=$w1; r0=$r1; else d=$dev2; w0=$w2; r0=$r2; fi
	jb=$(jq -r ".jobs[$k].write.io_bytes" "$DMP_TMP/c.json")
	rbk=$(jq -r ".jobs[$k].read.io_bytes" "$DMP_TMP/c.json")
	assert_eq "$((($(loop_sectors "$d" 7) - w0) * 512))" "$jb" "bytes written to $d by segment $k"
	assert_eq "$((($(loop_sectors "$d" 3) - r0) * 512))" "$rbk" "bytes read from $d by segment $k"
done

# What "dmsetup table" prints makes the same device again.
dm_create seg-copy "$(dmsetup table seg)"
assert_eq "$(dmsetup table seg-copy)" "$(dmsetup table seg)" "table of seg-copy"
# Every count of the new device is 0 (the stat line's first 20 fields; the
# last two are the times of its epoch).
read -ra f <"$(stat_dir seg-copy)/stat"
assert_match "${f[*]:0:20}" '^(0 )*0$' "seg-copy stat counts"
sum_seg=$(dd if="$(dm_node seg)" bs=1M iflag=direct status=none | sha256sum)
sum_copy=$(dd if="$(dm_node seg-copy)" bs=1M iflag=direct status=none | sha256sum)
assert_eq "$sum_copy" "$sum_seg" "contents of seg-copy"
