#!/bin/bash
# DESCRIPTION: ext4 on a dmp device: mkfs, mount, write files, umount, a
# clean fsck, flushes counted, and the files read back intact after a
# remount; dmp's counters agree with /sys/block/dm-N/stat and dmsetup stats.
. "$(dirname "$0")/lib.sh"

# null_blk with a write cache, so that ext4's flushes reach dmp, and without
# write-zeroes (the block layer would count those as writes, dmp as discards).
dev=$(nullb_dev 256 cache_size=16)
dmp_create fs "$dev"
dir=$(stat_dir fs)
blk=$(dm_block fs)
node=$(dm_node fs)
read -r wc <"$blk/queue/write_cache"
assert_eq "$wc" "write back" "write cache of the dm device"
read -r wz <"$blk/queue/write_zeroes_max_bytes"
assert_eq "$wz" 0 "write_zeroes_max_bytes of the dm device"
dmsetup stats create fs --precise >/dev/null

# No lazy init: no background zeroing after the mount.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$node"
mnt=$DMP_TMP/mnt
mkdir "$mnt"
mount "$node" "$mnt"
_mounts+=("$mnt")

mkdir "$mnt/sub"
files=$(scaled 24)
total=0
for ((i = 0; i < files; i++)); do
	size=$(((RANDOM % 1024 + 1) * 1024 + RANDOM % 1024))	# up to ~1 MiB, odd sizes
	f=$mnt/f$i
	[ $((i % 3)) -ne 0 ] || f=$mnt/sub/f$i
	head -c "$size" /dev/urandom >"$f"
	total=$((total + size))
done
(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$DMP_TMP/sums"
log "$files files, $total bytes"
sync
umount "$mnt"

out=$(fsck.ext4 -fn "$node" 2>&1) || { echo "$out"; fail "fsck.ext4 -fn found errors"; }
echo "$out" | tail -n 1

read -r r w rb wb fl dr db _ <"$dir/stat"
log "dmp: read $r / $rb bytes, write $w / $wb bytes, flush $fl, discard $dr / $db bytes"
assert_gt "$fl" 0 "flush_reqs"
assert_gt "$wb" "$total" "write_bytes"

# /sys/block/dm-N/stat (fields 1 reads, 3 sectors read, 5 writes, 7 sectors
# written, 12 discards, 14 sectors discarded; 13 is discard merges): the
# block layer counts each bio as it enters the dm device.  An empty flush is a write of no sectors there, and a flush with
# data is two writes: the empty flush first, then the data (dmp: one flush
# and one write).  So writes = dmp writes + dmp flushes.
read -r -a b <"$blk/stat"
assert_eq "${b[0]}" "$r" "dm stat reads"
assert_eq "$((b[2] * 512))" "$rb" "dm stat bytes read"
assert_eq "${b[4]}" "$((w + fl))" "dm stat writes = write_reqs + flush_reqs"
assert_eq "$((b[6] * 512))" "$wb" "dm stat bytes written"
assert_eq "${b[11]}" "$dr" "dm stat discards (field 12)"
assert_eq "$((b[13] * 512))" "$db" "dm stat bytes discarded (field 14)"
# dmsetup stats skips bios without data and counts discards as writes.
read -r ds_r ds_rs ds_w ds_ws < <(dmsetup stats print fs --allregions |
	awk 'NR == 1 { print $2, $4, $6, $8 }')
assert_eq "$ds_r" "$r" "dmsetup stats reads"
assert_eq "$((ds_rs * 512))" "$rb" "dmsetup stats bytes read"
assert_eq "$ds_w" "$((w + dr))" "dmsetup stats writes = write_reqs + discard_reqs"
assert_eq "$((ds_ws * 512))" "$((wb + db))" "dmsetup stats bytes written = write_bytes + discard_bytes"

# Remount: the files come back from the device, through dmp, intact.
mount "$node" "$mnt"
_mounts+=("$mnt")
out=$(cd "$mnt" && sha256sum --quiet -c "$DMP_TMP/sums" 2>&1) || { echo "$out"; fail "file checksums after remount"; }
echo "ok: $files file checksums after remount"
umount "$mnt"
read -r rb2 <"$dir/read_bytes"
assert_gt "$((rb2 - rb))" "$((total - 1))" "bytes read through dmp after the remount"
dmsetup stats delete fs --allregions
