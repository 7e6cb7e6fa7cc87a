#!/bin/bash
# DESCRIPTION: exact counts of the requests that are neither reads nor
# writes: empty flushes (fio's fsyncs; once per flush on a two-segment table),
# discards (blkdiscard, whole and stepped) and write zeroes (fallocate
# --punch-hole) in flush_reqs, discard_reqs and discard_bytes, checked
# against fio and /sys/block/dm-N/stat; none of them moves read_reqs or
# write_reqs.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 64)
half=$(($(sectors_of "$dev") / 2))
quarter=$((half / 2))
dmp_create fd-one "$dev" 0 "$half"
# Two segments, so that device-mapper sends each flush to both targets.
dm_create fd-two "0 $quarter dmp $dev $half
$quarter $quarter dmp $dev $((half + quarter))"

t1=$(dm_devt fd-one)
t2=$(dm_devt fd-two)
blk1=/sys/dev/block/$t1

assert_eq "$(<"$blk1/queue/write_cache")" "write back" "fd-one write cache (else flushes never reach dmp)"
assert_gt "$(<"$blk1/queue/discard_max_bytes")" 0 "fd-one discard_max_bytes"
assert_gt "$(<"$blk1/queue/write_zeroes_max_bytes")" 0 "fd-one write_zeroes_max_bytes"

# mark MAJ:MIN, then delta MAJ:MIN: what changed since, as "r w rb wb f d
# db" (dmp's stat line) in $DD, and as "reads rsect writes wsect discards
# dsect" (fields 1 3 5 7 12 14 of the dm device's stat) in $BD.
declare -A M0 MB0
mark() {
	local -a f
	read -ra f <"$DMP_STAT/$1/stat"
	M0[$1]="${f[*]}"
	read -ra f <"/sys/dev/block/$1/stat"
	MB0[$1]="${f[0]} ${f[2]} ${f[4]} ${f[6]} ${f[11]} ${f[13]}"
}
delta() {
	local -a a b
	local i
	read -ra a <"$DMP_STAT/$1/stat"
	read -ra b <<<"${M0[$1]}"
	DD=
	for i in 0 1 2 3 4 5 6; do
		DD+="$((a[i] - b[i])) "
	done
	DD=${DD% }
	read -ra a <"/sys/dev/block/$1/stat"
	a=("${a[0]}" "${a[2]}" "${a[4]}" "${a[6]}" "${a[11]}" "${a[13]}")
	read -ra b <<<"${MB0[$1]}"
	BD=
	for i in 0 1 2 3 4 5; do
		BD+="$((a[i] - b[i])) "
	done
	BD=${BD% }
}
# expect_delta MAJ:MIN "r w rb wb f d db" "reads rsect writes wsect discards dsect" WHAT
expect_delta() {
	delta "$1"
	assert_eq "$DD" "$2" "dmp delta (r w rb wb flush discard dbytes) $4"
	assert_eq "$BD" "$3" "dm stat delta (r rsect w wsect discards dsect) $4"
}

bdiscard() {	# blkdiscard -f ARGS... (-f: no signature probe, which reads)
	blkdiscard -f "$@" 2>"$DMP_TMP/err" || fail "blkdiscard $*: $(<"$DMP_TMP/err")"
}

# fsync_fio NAME JSON: 4 KiB direct writes with an fsync every 8; the
# numbers of writes and of fsyncs fio issued in $FW and $FS.
fsync_fio() {
	run_fio "$2" --name=flush --filename="/dev/mapper/$1" --direct=1 \
		--rw=write --bs=4k --size="$(scaled 1)"m --fsync=8 --ioengine=psync
	read -r FW FS < <(fio_get "$2" '.jobs[0] | [.write.total_ios, .sync.total_ios] | @tsv')
	log "$1: fio issued $FW writes and $FS fsyncs"
	[ "$FS" -gt 0 ] || fail "fio issued no fsync"
}

# Empty flushes: one per fsync; dm counts each as a write of 0 sectors.
mark "$t1"
fsync_fio fd-one "$DMP_TMP/one.json"
expect_delta "$t1" "0 $FW 0 $((FW * 4096)) $FS 0 0" "0 0 $((FW + FS)) $((FW * 8)) 0 0" \
	"for fio with fsync on fd-one"

# On two segments each flush reaches both targets and still counts once.
mark "$t2"
fsync_fio fd-two "$DMP_TMP/two.json"
expect_delta "$t2" "0 $FW 0 $((FW * 4096)) $FS 0 0" "0 0 $((FW + FS)) $((FW * 8)) 0 0" \
	"for fio with fsync on fd-two"

# Discards: 8 steps of 1 MiB, then the whole device in one request.
mark "$t1"
bdiscard -o 1M -l 8M --step 1M /dev/mapper/fd-one
expect_delta "$t1" "0 0 0 0 0 8 $((8 << 20))" "0 0 0 0 8 $((8 << 11))" "for 8 discards of 1 MiB"
mark "$t1"
bdiscard /dev/mapper/fd-one
expect_delta "$t1" "0 0 0 0 0 1 $((half * 512))" "0 0 0 0 1 $half" "for a discard of all of fd-one"
# 4 KiB at 512: the block layer cuts it at the 4 KiB discard granularity.
mark "$t1"
bdiscard -o 512 -l 4096 /dev/mapper/fd-one
expect_delta "$t1" "0 0 0 0 0 2 4096" "0 0 0 0 2 8" "for a discard of 4 KiB at 512"

# A discard across both segments: device-mapper cuts it at the boundary
# and resubmits the rest as a bio of its own, so dm and dmp count two.
mark "$t2"
bdiscard /dev/mapper/fd-two
expect_delta "$t2" "0 0 0 0 0 2 $((half * 512))" "0 0 0 0 2 $half" "for a discard of all of fd-two"

# Write zeroes: "fallocate --punch-hole" on a block device is one
# REQ_OP_WRITE_ZEROES (no fallback to writes), and fallocate(1) fsyncs
# before it exits (one empty flush).  dm counts write zeroes as writes.
# ("blkdiscard -z" is no good here: loop turns its write zeroes into
# FALLOC_FL_ZERO_RANGE, which tmpfs refuses, and the kernel falls back to
# writing pages of zeroes.)
mark "$t1"
fallocate --punch-hole -o 0 -l 1M /dev/mapper/fd-one
fallocate --punch-hole -o 2M -l 3M /dev/mapper/fd-one
expect_delta "$t1" "0 0 0 0 2 2 $((4 << 20))" "0 0 4 $((4 << 11)) 0 0" \
	"for write zeroes of 1 MiB and 3 MiB"

# Secure erase: loop does not support it, the ioctl fails before any bio.
mark "$t1"
if blkdiscard -f -s -o 0 -l 1M /dev/mapper/fd-one 2>/dev/null; then
	fail "secure erase accepted: extend this test to count it"
fi
log "secure erase: not supported by loop, not counted (nothing to count)"
expect_delta "$t1" "0 0 0 0 0 0 0" "0 0 0 0 0 0" "for a refused secure erase"

# The derived attributes agree: no discard or flush in the request totals.
read -r r w rb wb _ <"$DMP_STAT/$t1/stat"
assert_eq "$(<"$DMP_STAT/$t1/total_reqs") $(<"$DMP_STAT/$t1/total_bytes")" "$((r + w)) $((rb + wb))" \
	"fd-one total_reqs, total_bytes"
