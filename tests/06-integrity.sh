#!/bin/bash
# DESCRIPTION: data integrity through a dmp device mapped at an offset: fio
# writes and verifies (crc32c) every block, the bytes read through dmp are
# the bytes of the backing device at that offset, and the regions of the
# backing device before and after the mapping are untouched.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 32)
off=2048			# sectors before the mapping
rest=2048			# sectors after it
len=$(($(sectors_of "$dev") - off - rest))

# Known random patterns outside the mapping.
head -c $((off * 512)) /dev/urandom >"$DMP_TMP/head"
head -c $((rest * 512)) /dev/urandom >"$DMP_TMP/tail"
dd if="$DMP_TMP/head" of="$dev" bs=1M oflag=direct status=none
dd if="$DMP_TMP/tail" of="$dev" bs=1M oflag=direct,seek_bytes seek=$(((off + len) * 512)) status=none
sum_head=$(sha256sum <"$DMP_TMP/head")
sum_tail=$(sha256sum <"$DMP_TMP/tail")

# Read LEN sectors of the backing device from sector START, bypassing its
# page cache (the writes through dmp never went through it).
backing_sum() {	# start len
	dd if="$dev" bs=1M iflag=direct,skip_bytes,count_bytes skip=$(($1 * 512)) \
		count=$(($2 * 512)) status=none | sha256sum
}
assert_eq "$(backing_sum 0 "$off")" "$sum_head" "backing device before the mapping, as written"

dmp_create integ "$dev" "$off" "$len"

# Write every block once with a checksum header, then read all back and
# verify; fio fails on the first bad block.  (fio itself, not run_fio, so
# that its exit status reaches the "||".)
j=$DMP_TMP/v.json
fio --output-format=json --output="$j.raw" --name=verify --filename="$(dm_node integ)" \
	--direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite \
	--bssplit=4k/40:16k/30:64k/30 --size=$((len * 512)) --io_size="$(scaled 30)m" \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
	--randrepeat=0 || fail "fio --verify=crc32c: what was read back through dmp is not what was written"
sed -n '/^{/,$p' "$j.raw" >"$j"
assert_eq "$(fio_get "$j" '.jobs[0].error')" 0 "fio error"
fio_rb=$(fio_get "$j" '.jobs[0].read.io_bytes')
fio_wb=$(fio_get "$j" '.jobs[0].write.io_bytes')
log "fio wrote $fio_wb bytes and read $fio_rb bytes to verify them"
[ "$fio_wb" -gt 0 ] || fail "fio wrote nothing"
assert_eq "$fio_rb" "$fio_wb" "fio verified every byte it wrote"
assert_eq "$(stat_get integ write_bytes)" "$fio_wb" "dmp write_bytes vs fio"
assert_eq "$(stat_get integ read_bytes)" "$fio_rb" "dmp read_bytes vs fio"

# The same bytes through dmp and on the backing device at the offset.
sum_dmp=$(dd if="$(dm_node integ)" bs=1M iflag=direct status=none | sha256sum)
assert_eq "$(backing_sum "$off" "$len")" "$sum_dmp" "backing device at offset $off vs dmp"
[ "$sum_dmp" != "$(head -c $((len * 512)) /dev/zero | sha256sum)" ] || fail "dmp device reads as zeroes"

# Nothing outside the mapping changed.
assert_eq "$(backing_sum 0 "$off")" "$sum_head" "backing device before the mapping"
assert_eq "$(backing_sum $((off + len)) "$rest")" "$sum_tail" "backing device after the mapping"
