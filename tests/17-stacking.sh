#!/bin/bash
# DESCRIPTION: stacking: dmp over dmp ... 8 deep, each level at an offset of
# 8 sectors: fio with verify and fsyncs on the top, and every level counts
# exactly fio's reads, writes, bytes and flushes (equal to its own
# /sys/block/dm-N/stat), "all" counts 8 times as much, the data sits 64
# sectors into the bottom device; a lower level cannot be removed while an
# upper one holds it.  And dmp beside dm-linear in one table: dmp counts
# the I/O of its own segments only, each flush once.
. "$(dirname "$0")/lib.sh"

levels=8
base=$(backing_dev 64)
base_t=$(<"/sys/block/${base#/dev/}/dev")
len=$(($(sectors_of "$base") - 8))

declare -A all0
for c in read_reqs write_reqs read_bytes write_bytes flush_reqs; do
	all0[$c]=$(all_get "$c")
done

# (a) 8 levels: L1 over the backing device, Lk over Lk-1, each at +8 sectors.
below=$base_t
for ((k = 1; k <= levels; k++)); do
	dm_create "st-L$k" "0 $len dmp $below 8"
	below=$(dm_devt "st-L$k")
	len=$((len - 8))
done
top=$(dm_node "st-L$levels")

run_fio "$DMP_TMP/deep.json" --name=deep --filename="$top" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randwrite --bssplit=4k/40:16k/30:128k/30 \
	--size=32m --io_size="$(scaled 8)m" --fsync=8 --verify=crc32c --do_verify=1 \
	--verify_fatal=1 --verify_state_save=0 --randrepeat=0
read -r fr fw frb fwb fs < <(fio_get "$DMP_TMP/deep.json" '.jobs[0] | [.read.total_ios,
	.write.total_ios, .read.io_bytes, .write.io_bytes, .sync.total_ios] | @tsv')
log "fio on st-L$levels: read $fr ios / $frb bytes, write $fw ios / $fwb bytes, $fs fsyncs"
[ "$fr" -gt 0 ] && [ "$fs" -gt 0 ] || fail "fio did not read back or fsync"
for ((k = 1; k <= levels; k++)); do
	read -r r w rb wb f d db _ <"$(stat_dir "st-L$k")/stat"
	assert_eq "$r $w $rb $wb $f $d $db" "$fr $fw $frb $fwb $fs 0 0" "st-L$k stat vs fio"
	blk_read "$(dm_block "st-L$k")"
	assert_eq "${BLK[1]} ${BLK[5]} $((BLK[3] * 512)) $((BLK[7] * 512))" "$fr $((fw + fs)) $frb $fwb" \
		"st-L$k /sys/block stat (writes + flushes)"
done
for c in read_reqs write_reqs read_bytes write_bytes flush_reqs; do
	case $c in
	read_reqs) v=$fr ;; write_reqs) v=$fw ;; read_bytes) v=$frb ;;
	write_bytes) v=$fwb ;; flush_reqs) v=$fs ;;
	esac
	assert_eq "$(($(all_get "$c") - all0[$c]))" "$((levels * v))" "growth of all/$c ($levels levels)"
done

# The data is 8 x 8 sectors into the bottom device.
sum_top=$(dd if="$top" bs=1M iflag=direct status=none | sha256sum)
sum_base=$(dd if="$base" bs=1M iflag=direct,skip_bytes,count_bytes skip=$((levels * 8 * 512)) \
	count=$(($(sectors_of "$top") * 512)) status=none | sha256sum)
assert_eq "$sum_top" "$sum_base" "st-L$levels contents vs the bottom device at sector $((levels * 8))"

# A lower level is held by the one above: it cannot go first.
stat_snap "$(stat_dir st-L1)"
snap1=$SNAP
out=$(must_fail dmsetup remove st-L1)
assert_match "$out" "Device or resource busy" "dmsetup remove st-L1 under st-L2"
stat_snap "$(stat_dir st-L1)"
assert_eq "$SNAP" "$snap1" "st-L1 counters after the refused remove"
for ((k = levels; k >= 1; k--)); do
	dir=$(stat_dir "st-L$k")
	dm_remove "st-L$k"
	[ ! -e "$dir" ] || fail "$dir left after removing st-L$k"
done

# (b) dmp, dm-linear, dmp in one table, over one device, identity mapped.
seg=$((8 * 2048))
dm_create mix "0 $seg dmp $base_t 0
$seg $seg linear $base_t $seg
$((2 * seg)) $seg dmp $base_t $((2 * seg))"
mixdir=$(stat_dir mix)
blk_read "$(dm_block mix)"
blk0=("${BLK[@]}")
# One job per segment; the one on the linear segment also fsyncs: every
# flush reaches all three segments, and dmp counts it once.
run_fio "$DMP_TMP/mix.json" --filename="$(dm_node mix)" --direct=1 --randrepeat=0 \
	--ioengine=psync --rw=randrw --bs=4k --io_size="$(scaled 2)m" --size=8m \
	--name=dmp0 --offset=0 \
	--name=lin --offset=8m --fsync=4 \
	--name=dmp2 --offset=16m --bs=16k
jobs() { fio_get "$DMP_TMP/mix.json" "[.jobs[$1] | .read.total_ios, .write.total_ios,
	.read.io_bytes, .write.io_bytes, .sync.total_ios] | @tsv"; }
read -r r0 w0 rb0 wb0 _ < <(jobs 0)
read -r r1 w1 rb1 wb1 s1 < <(jobs 1)
read -r r2 w2 rb2 wb2 _ < <(jobs 2)
log "fio: dmp segment 0: $r0 reads, $w0 writes; linear: $r1 reads, $w1 writes, $s1 fsyncs; dmp segment 2: $r2 reads, $w2 writes"
[ "$s1" -gt 0 ] || fail "no fsync on the linear segment"
read -r r w rb wb f d db _ <"$mixdir/stat"
assert_eq "$r $w $rb $wb $f $d $db" "$((r0 + r2)) $((w0 + w2)) $((rb0 + rb2)) $((wb0 + wb2)) $s1 0 0" \
	"mix stat: the dmp segments' I/O, each flush once"
assert_eq "$(dmsetup status mix | awk '{ print $3 }' | tr '\n' ' ')" "dmp linear dmp " "targets of mix"
blk_read "$(dm_block mix)"
assert_eq "$((BLK[1] - blk0[1])) $((BLK[5] - blk0[5]))" "$((r0 + r1 + r2)) $((w0 + w1 + w2 + s1))" \
	"mix /sys/block stat reads, writes (+ flushes): all three segments"
sum_mix=$(dd if="$(dm_node mix)" bs=1M iflag=direct status=none | sha256sum)
sum_base=$(dd if="$base" bs=1M count=24 iflag=direct status=none | sha256sum)
assert_eq "$sum_mix" "$sum_base" "contents of mix vs the backing device"
