#!/bin/bash
# DESCRIPTION: atomic writes pass through dmp as through dm-linear.  A
# scsi_debug disk with atomic writes on (kernels from 6.11): the dmp device
# advertises the same atomic write limits as a dm-linear device over the same
# disk (both none before 6.14, where device-mapper passes them through only
# for targets that declare them); where it has them, an RWF_ATOMIC write of
# each allowed size lands, byte for byte, on the disk below and counts as one
# write, and one larger than the limit is refused (EINVAL) as through
# dm-linear and counted nowhere; where it has none, RWF_ATOMIC is refused as
# through dm-linear.  Skipped on kernels without atomic writes.
. "$(dirname "$0")/lib.sh"

ATOMICW=$DMP_SRC/build/bin/atomicw
limits="atomic_write_max_bytes atomic_write_unit_min_bytes atomic_write_unit_max_bytes atomic_write_boundary_bytes"

if ! scsi_debug_load atomic_wr=1 dev_size_mb=64 sector_size=4096; then
	echo "skip: no scsi_debug in this kernel"
	exit 0
fi
trap 'rc=$?; set +e; for n in at-lin at-dmp; do dmsetup remove --retry $n >/dev/null 2>&1; done
	scsi_debug_unload; (exit $rc); _cleanup' EXIT
sd=$SD_DISK
sdq=/sys/block/$sd/queue
[ -e "$sdq/atomic_write_unit_max_bytes" ] || { echo "skip: no atomic write limits in sysfs"; exit 0; }
unit_max=$(<"$sdq/atomic_write_unit_max_bytes")
assert_gt "$unit_max" 0 "atomic write unit of the scsi_debug disk"

n=$(sectors_of "/dev/$sd")
dmp_create at-dmp "/dev/$sd"
dm_create at-lin "0 $n linear /dev/$sd 0"
for l in $limits; do
	assert_eq "$(<"$(dm_block at-dmp)/queue/$l")" "$(<"$(dm_block at-lin)/queue/$l")" \
		"$l through dmp vs dm-linear"
done
umin=$(<"$(dm_block at-dmp)/queue/atomic_write_unit_min_bytes")
umax=$(<"$(dm_block at-dmp)/queue/atomic_write_unit_max_bytes")
d=$(stat_dir at-dmp)

if [ "$umax" = 0 ]; then
	log "device-mapper does not pass atomic writes through on this kernel"
	r=$("$ATOMICW" /dev/mapper/at-dmp 0 4096)
	assert_eq "$r" "$("$ATOMICW" /dev/mapper/at-lin 0 4096)" "RWF_ATOMIC through dmp vs dm-linear"
	assert_match "$r" '^err ' "RWF_ATOMIC refused without atomic write limits"
	assert_eq "$(<"$d/write_reqs")" 0 "writes counted"
	exit 0
fi

# Every power of two from the minimum to the maximum unit, each at an
# offset aligned to itself, with its own byte pattern.
size=$umin off=0 writes=0 bytes=0 pat=1
while [ "$size" -le "$umax" ]; do
	r=$("$ATOMICW" /dev/mapper/at-dmp "$off" "$size" "$pat")
	assert_eq "$r" ok "atomic write of $size bytes at $off through dmp"
	want=$(head -c "$size" /dev/zero | tr '\0' "\\$(printf '%03o' "$pat")" | sha256sum)
	got=$(dd if="/dev/$sd" bs="$size" skip=$((off / size)) count=1 iflag=direct status=none | sha256sum)
	assert_eq "$got" "$want" "the $size bytes on the disk below"
	writes=$((writes + 1)) bytes=$((bytes + size))
	off=$(((off + size + size * 2 - 1) / (size * 2) * (size * 2)))
	size=$((size * 2)) pat=$((pat + 1))
done
assert_eq "$(<"$d/write_reqs") $(<"$d/write_bytes")" "$writes $bytes" "dmp writes and bytes for the atomic writes"
assert_eq "$(blk_stat at-dmp 5)" "$writes" "dm diskstats writes for them"
too=$((umax * 2))
r=$("$ATOMICW" /dev/mapper/at-dmp 0 "$too")
assert_eq "$r" "$("$ATOMICW" /dev/mapper/at-lin 0 "$too")" "an atomic write of $too bytes through dmp vs dm-linear"
assert_match "$r" '^err 22 ' "an atomic write above the limit"
assert_eq "$(<"$d/write_reqs")" "$writes" "writes counted after the refused one"
