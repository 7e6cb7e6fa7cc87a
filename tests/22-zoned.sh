#!/bin/bash
# DESCRIPTION: zoned devices through dmp, as through dm-linear: a zoned
# null_blk (host-managed) mapped at a zone-aligned offset; the zone report
# through dmp equals dm-linear's and the device's own, translated by the
# offset, write pointers included; zone management requests (reset, open,
# close, finish) reach the device and count in their own counters, never as
# reads or writes; fio --zonemode=zbd is counted exactly (fio, and the dm
# device's diskstats, which count zone management as writes of 0 sectors);
# btrfs in zoned mode (data by zone append) and f2fs on dmp: mkfs, write,
# sync, unmount, check clean, counted exactly against diskstats;
# misaligned tables and a partial last zone are refused with dmp's message;
# a host-aware scsi_debug disk (zoned before 6.8, a regular disk after)
# comes out as through dm-linear, its zone report included.
. "$(dirname "$0")/lib.sh"

zone_mb=8
zs=$((zone_mb * 2048))		# zone size in sectors
nz=40				# zones of the device, the first 8 conventional
off=2				# dmp starts at zone 2 (conventional) ...
len=36				# ... and maps 36 zones: 6 conventional, 30 sequential
z=$(nullb_dev $((nz * zone_mb)) zoned=1 zone_size=$zone_mb zone_nr_conv=8)
zq=/sys/block/${z#/dev/}/queue
assert_eq "$(<"$zq/zoned")" host-managed "zoned model of $z"

dmp_create zd "$z" $((off * zs)) $((len * zs))
dm_create zl "0 $((len * zs)) linear $z $((off * zs))"
d=$(stat_dir zd)
q=$(dm_block zd)/queue
assert_eq "$(<"$q/zoned")" host-managed "zoned model of the dmp device"
assert_eq "$(<"$q/chunk_sectors")" "$zs" "zone size of the dmp device"
assert_eq "$(<"$q/nr_zones")" "$len" "zones of the dmp device"

# report DEV [SHIFT]: the zone report of DEV, each zone's start moved by
# SHIFT sectors (the dmp device's zones, as the device below has them).
report() {
	local line start
	blkzone report "$1" | while IFS= read -r line; do
		start=${line#*start: }
		start=${start%%,*}
		printf '  start: 0x%09x,%s\n' $((start + ${2:-0})) "${line#*start: *,}"
	done
}
# same_zones WHAT: the reports of the dmp device, of dm-linear and of the
# device below (its zones off .. off + len - 1) are the same.
same_zones() {
	local dmp lin dev
	dmp=$(report /dev/mapper/zd $((off * zs)))
	lin=$(report /dev/mapper/zl $((off * zs)))
	dev=$(blkzone report -o $((off * zs)) -c $len "$z")
	[ "$(wc -l <<<"$dmp")" = "$len" ] || fail "$1: dmp reports $(wc -l <<<"$dmp") zones"
	[ "$dmp" = "$lin" ] || { diff <(echo "$lin") <(echo "$dmp"); fail "$1: dmp's zone report is not dm-linear's"; }
	[ "$dmp" = "$dev" ] || { diff <(echo "$dev") <(echo "$dmp"); fail "$1: dmp's zone report is not the device's"; }
	echo "ok: $1: $len zones reported through dmp = through dm-linear = on $z at +$((off * zs))"
}
zone() { echo $(($1 * zs)); }	# start sector of zone N of the dmp device

# Write pointers in three sequential zones: 5, 3 and 1 blocks of 64 KiB.
for i in 6 7 8; do
	dd if=/dev/urandom of=/dev/mapper/zd bs=64k count=$((2 * (i - 6) + 1)) \
		seek=$(($(zone $i) / 128)) oflag=direct status=none
done
same_zones "after writes"
wp=$(blkzone report -o "$(zone 8)" -c 1 /dev/mapper/zd | sed -n 's/.*wptr \(0x[0-9a-f]*\).*/\1/p')
assert_eq "$((wp))" 640 "write pointer of zone 8 (5 x 64 KiB written)"

# delta DIR: dmp's counters since "mark", as "r w rb wb open close finish
# reset" in $DD, and the dm device's diskstats "reads writes rsect wsect"
# in $BD.
mark() {
	read -ra M0 <"$d/stat"
	read -ra B0 <"$(dm_block zd)/stat"
}
delta() {
	local -a a b
	read -ra a <"$d/stat"
	read -ra b <"$(dm_block zd)/stat"
	DD="$((a[0] - M0[0])) $((a[1] - M0[1])) $((a[2] - M0[2])) $((a[3] - M0[3]))"
	DD+=" $((a[15] - M0[15])) $((a[16] - M0[16])) $((a[17] - M0[17])) $((a[18] - M0[18]))"
	BD="$((b[0] - B0[0])) $((b[4] - B0[4])) $((b[2] - B0[2])) $((b[6] - B0[6]))"
	FL=$((a[4] - M0[4]))
}

# Zone management, each op on its own zones: counted apart, never as
# reads or writes; device-mapper's diskstats count each as a write of 0
# sectors.
mark
blkzone reset -o "$(zone 6)" -c 3 /dev/mapper/zd
blkzone open -o "$(zone 10)" -c 2 /dev/mapper/zd
blkzone close -o "$(zone 10)" -c 1 /dev/mapper/zd
blkzone finish -o "$(zone 12)" -c 2 /dev/mapper/zd
delta
assert_eq "$DD" "0 0 0 0 2 1 2 3" "dmp delta (r w rb wb open close finish reset) for 3 resets, 2 opens, 1 close, 2 finishes"
assert_eq "$BD" "0 8 0 0" "dm diskstats delta (reads writes rsect wsect) for them"
same_zones "after zone management"
cond=$(blkzone report -o $(($(zone 10) + off * zs)) -c 4 "$z" | sed -n 's/.*zcond: *[0-9]*(\([a-z]*\)).*/\1/p' | tr '\n' ' ')
assert_eq "$cond" "em oe fu fu " "conditions of the zones below (opened and closed: empty; open; full; full)"
blkzone reset /dev/mapper/zd

# fio in zoned mode: writes at the write pointers, then reads; fio resets
# zones as it needs (counted as zone resets, and by diskstats as writes).
mark
run_fio "$DMP_TMP/zw.json" --name=zw --filename=/dev/mapper/zd --direct=1 \
	--zonemode=zbd --max_open_zones=4 --rw=randwrite --bs=64k \
	--io_size="$(scaled 24)"m --ioengine=libaio --iodepth=4
# Reads at 64 KiB boundaries, so that none crosses a zone's end: the
# kernel splits one that does (from 6.10 on, in device-mapper, before dmp
# sees it), and dmp would count two where fio issued one.
run_fio "$DMP_TMP/zr.json" --name=zr --filename=/dev/mapper/zd --direct=1 \
	--zonemode=zbd --rw=randread --bssplit=4k/50:16k/30:64k/20 --blockalign=64k \
	--io_size="$(scaled 8)"m --ioengine=psync
read -r fw fwb < <(fio_get "$DMP_TMP/zw.json" '.jobs[0].write | [.total_ios, .io_bytes] | @tsv')
read -r fr frb < <(fio_get "$DMP_TMP/zr.json" '.jobs[0].read | [.total_ios, .io_bytes] | @tsv')
delta
read -r dr dw drb dwb zo zc zf zr <<<"$DD"
log "fio: $fw writes ($fwb bytes), $fr reads ($frb bytes); dmp: zone resets $zr"
assert_eq "$dr $dw $drb $dwb" "$fr $fw $frb $fwb" "dmp reads, writes and bytes vs fio in zoned mode"
assert_eq "$zo $zc $zf" "0 0 0" "zone opens, closes, finishes during fio"
assert_eq "$BD" "$fr $((fw + zr)) $((frb / 512)) $((fwb / 512))" \
	"dm diskstats (reads, writes = fio's + zone resets, sectors) during fio"
same_zones "after fio"

# A zoned file system: btrfs writes its data by zone append (a write of its
# size to dmp); then f2fs.  Every request is in diskstats: writes there =
# dmp's writes + empty flushes + zone management.
mkdir -p "$DMP_TMP/mnt"
zfs() {	# NAME MKFS-COMMAND... : mkfs, mount, write, sync, umount, counts
	local fs=$1
	shift
	blkzone reset /dev/mapper/zd
	mark
	"$@" /dev/mapper/zd >"$DMP_TMP/mkfs.log" 2>&1 || { cat "$DMP_TMP/mkfs.log"; fail "mkfs $fs"; }
	mount -t "$fs" /dev/mapper/zd "$DMP_TMP/mnt"
	_mounts+=("$DMP_TMP/mnt")
	dd if=/dev/urandom of="$DMP_TMP/mnt/a" bs=1M count="$(scaled 24)" status=none
	dd if=/dev/urandom of="$DMP_TMP/mnt/b" bs=64k count=7 conv=fsync status=none
	sum=$(cat "$DMP_TMP/mnt/a" "$DMP_TMP/mnt/b" | sha256sum)
	sync
	umount "$DMP_TMP/mnt"
	mount -t "$fs" /dev/mapper/zd "$DMP_TMP/mnt"
	assert_eq "$(cat "$DMP_TMP/mnt/a" "$DMP_TMP/mnt/b" | sha256sum)" "$sum" "$fs: files after remount"
	umount "$DMP_TMP/mnt"
	unset '_mounts[-1]'
	delta
	read -r dr dw drb dwb zo zc zf zr <<<"$DD"
	log "$fs: dmp reads $dr, writes $dw ($dwb bytes), flushes $FL, zone open/close/finish/reset $zo/$zc/$zf/$zr"
	assert_gt "$dw" 0 "$fs: writes"
	assert_eq "$BD" "$dr $((dw + FL + zo + zc + zf + zr)) $((drb / 512)) $((dwb / 512))" \
		"$fs: dm diskstats (reads, writes = dmp's + flushes + zone ops, sectors)"
}
dmp_modprobe btrfs 2>/dev/null || true
if grep -qw btrfs /proc/filesystems && command -v mkfs.btrfs >/dev/null; then
	zfs btrfs mkfs.btrfs -f -O zoned -d single -m single
	btrfs check /dev/mapper/zd >"$DMP_TMP/fsck.log" 2>&1 || { cat "$DMP_TMP/fsck.log"; fail "btrfs check"; }
	echo "ok: btrfs check is clean"
else
	log "no btrfs in this kernel: skipped"
fi
dmp_modprobe f2fs 2>/dev/null || true
if grep -qw f2fs /proc/filesystems && command -v mkfs.f2fs >/dev/null; then
	zfs f2fs mkfs.f2fs -f -m
	fsck.f2fs -f /dev/mapper/zd >"$DMP_TMP/fsck.log" 2>&1 || { cat "$DMP_TMP/fsck.log"; fail "fsck.f2fs"; }
	if grep -q 'Fail' "$DMP_TMP/fsck.log"; then cat "$DMP_TMP/fsck.log"; fail "fsck.f2fs found errors"; fi
	echo "ok: fsck.f2fs is clean"
else
	log "no f2fs in this kernel: skipped"
fi
same_zones "after the file systems"

# Tables device-mapper cannot use on a zoned device: refused by dmp, with
# its message, and nothing left.
refused() {	# TABLE WHAT
	dmesg_mark
	must_fail dmsetup create zbad --table "$1" >/dev/null
	dmesg_since | grep -q 'dmp: Offset or length not aligned to the zones of the zoned device (-EINVAL)' ||
		fail "$2: no dmp message in dmesg"
	[ ! -e /dev/mapper/zbad ] || fail "$2: device left"
	dmsetup remove zbad >/dev/null 2>&1 || true
	echo "ok: $2 refused"
}
refused "0 $zs dmp $z 100" "an offset inside a zone"
refused "0 $((zs + 8)) dmp $z $((8 * zs))" "a length that ends inside a zone"
runt=$(nullb_dev $((4 * zone_mb + zone_mb / 2)) zoned=1 zone_size=$zone_mb)
assert_eq "$(<"/sys/block/${runt#/dev/}/queue/nr_zones")" 5 "zones of a device with a smaller last zone"
refused "0 $((4 * zs + zs / 2)) dmp $runt 0" "a table with the partial last zone"
dmp_create runt4 "$runt" 0 $((4 * zs))
assert_eq "$(<"$(dm_block runt4)/queue/nr_zones")" 4 "the whole zones of that device, mapped"
dm_remove runt4

# A host-aware disk (scsi_debug): zoned before Linux 6.8, a regular disk
# since; through dmp exactly what it is through dm-linear.
if scsi_debug_load zbc=host-aware dev_size_mb=32 zone_size_mb=4; then
	trap 'rc=$?; set +e; dmsetup remove --retry hal >/dev/null 2>&1
		dmsetup remove --retry had >/dev/null 2>&1; scsi_debug_unload; (exit $rc); _cleanup' EXIT
	sd=$SD_DISK
	sdq=/sys/block/$sd/queue
	n=$(sectors_of "/dev/$sd")
	dmp_create had "/dev/$sd" 8192 $((n - 8192))
	dm_create hal "0 $((n - 8192)) linear /dev/$sd 8192"
	model=$(<"$sdq/zoned")
	assert_eq "$(<"$(dm_block had)/queue/zoned")" "$model" "zoned model through dmp (the disk: $model)"
	assert_eq "$(<"$(dm_block hal)/queue/zoned")" "$model" "zoned model through dm-linear"
	if [ "$model" != none ]; then
		dmpr=$(blkzone report /dev/mapper/had)
		[ "$dmpr" = "$(blkzone report /dev/mapper/hal)" ] || fail "host-aware: dmp's zone report is not dm-linear's"
		assert_eq "$(wc -l <<<"$dmpr")" $(((n - 8192) / 8192)) "host-aware zones reported through dmp"
		dd if=/dev/zero of=/dev/mapper/had bs=4k count=3 oflag=direct status=none
		assert_match "$(blkzone report -c 1 /dev/mapper/had)" 'wptr 0x000018' "host-aware write pointer through dmp"
	else
		must_fail blkzone report /dev/mapper/had >/dev/null
		echo "ok: no zone report through dmp, as through dm-linear, on a regular disk"
	fi
	dm_remove hal
	dm_remove had
	scsi_debug_unload
else
	log "no scsi_debug in this kernel: host-aware part skipped"
fi
