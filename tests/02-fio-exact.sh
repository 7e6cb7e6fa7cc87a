#!/bin/bash
# DESCRIPTION: exact counts against fio with every ioengine: random mixed
# I/O from 512 B to 256 KiB, two jobs; dmp's counters equal fio's issued
# counts and bytes, the dm device's /sys/block/dm-N/stat, and dmsetup stats.
. "$(dirname "$0")/lib.sh"

engines=${DMP_FIO_ENGINES:-libaio io_uring psync sync pvsync posixaio}
size_mb=64
dev=$(backing_dev $size_mb)

for engine in $engines; do
	name=fio-$engine
	dmp_create "$name" "$dev"
	# The kernel's own statistics as a second oracle, on the same device.
	dmsetup stats create "$name" --precise >/dev/null

	run_fio "$DMP_TMP/$engine.json" --name=mix --filename="$(dm_node "$name")" \
		--direct=1 --rw=randrw --rwmixread=60 --ioengine="$engine" \
		--iodepth=8 --numjobs=2 --group_reporting \
		--bssplit=512/10:4k/30:16k/20:64k/25:256k/15 \
		--size=16m --io_size=$(scaled 12)m --randrepeat=0

	j=$DMP_TMP/$engine.json
	fio_r=$(fio_get "$j" '.jobs[0].read.total_ios')
	fio_w=$(fio_get "$j" '.jobs[0].write.total_ios')
	fio_rb=$(fio_get "$j" '.jobs[0].read.io_bytes')
	fio_wb=$(fio_get "$j" '.jobs[0].write.io_bytes')
	[ "$fio_r" -gt 0 ] && [ "$fio_w" -gt 0 ] || fail "$engine: fio did no I/O"
	log "$engine: fio read $fio_r ios / $fio_rb bytes, write $fio_w ios / $fio_wb bytes"

	assert_eq "$(stat_get "$name" read_reqs)" "$fio_r" "$engine read_reqs vs fio"
	assert_eq "$(stat_get "$name" write_reqs)" "$fio_w" "$engine write_reqs vs fio"
	assert_eq "$(stat_get "$name" total_reqs)" "$((fio_r + fio_w))" "$engine total_reqs vs fio"
	assert_eq "$(stat_get "$name" read_bytes)" "$fio_rb" "$engine read_bytes vs fio"
	assert_eq "$(stat_get "$name" write_bytes)" "$fio_wb" "$engine write_bytes vs fio"
	assert_eq "$(stat_get "$name" read_avg_size)" "$((fio_rb / fio_r))" "$engine read_avg_size vs fio"
	assert_eq "$(stat_get "$name" write_avg_size)" "$((fio_wb / fio_w))" "$engine write_avg_size vs fio"
	assert_eq "$(stat_get "$name" total_avg_size)" "$(((fio_rb + fio_wb) / (fio_r + fio_w)))" \
		"$engine total_avg_size vs fio"
	assert_eq "$(stat_get "$name" flush_reqs)" 0 "$engine flush_reqs"
	assert_eq "$(stat_get "$name" discard_reqs)" 0 "$engine discard_reqs"

	# /sys/block/dm-N/stat: reads (1), sectors read (3), writes (5), sectors written (7)
	assert_eq "$(blk_stat "$name" 1)" "$fio_r" "$engine dm stat reads"
	assert_eq "$(blk_stat "$name" 5)" "$fio_w" "$engine dm stat writes"
	assert_eq "$(($(blk_stat "$name" 3) * 512))" "$fio_rb" "$engine dm stat bytes read"
	assert_eq "$(($(blk_stat "$name" 7) * 512))" "$fio_wb" "$engine dm stat bytes written"

	# dmsetup stats print: <start>+<len> reads merged sectors ms writes merged sectors ...
	read -r ds_r ds_rs ds_w ds_ws < <(dmsetup stats print "$name" --allregions |
		awk 'NR == 1 { print $2, $4, $6, $8 }')
	assert_eq "$ds_r" "$fio_r" "$engine dmsetup stats reads"
	assert_eq "$ds_w" "$fio_w" "$engine dmsetup stats writes"
	assert_eq "$((ds_rs * 512))" "$fio_rb" "$engine dmsetup stats bytes read"
	assert_eq "$((ds_ws * 512))" "$fio_wb" "$engine dmsetup stats bytes written"

	dmsetup stats delete "$name" --allregions
	dm_remove "$name"
done
