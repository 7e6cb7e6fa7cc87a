#!/bin/bash
# DESCRIPTION: faults underneath: dmp over dm-flakey failing all I/O,
# failing writes, dropping writes, and going up and down; dmp over a
# device-mapper device that turns into "error" in the middle of a fio run.
# The errors reach the application (fio and dd get EIO), nothing hangs,
# dmp counts exactly what the block layer counted for the dm device
# (/sys/block/dm-N/stat, errors included), dropped writes change no byte,
# and the dmp device is removed cleanly afterwards.
. "$(dirname "$0")/lib.sh"

dmp_modprobe dm_flakey
dev=$(backing_dev 32)
dev_t=$(<"/sys/block/${dev#/dev/}/dev")
sz=$(sectors_of "$dev")
dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none

# fio_err OUT ARGS...: fio that may meet errors (it exits non-zero then);
# the JSON in OUT, with at most 120 s for the whole run.
fio_err() {
	local out=$1 rc=0
	shift
	timeout 120 fio --output-format=json --output="$out.raw" --continue_on_error=all "$@" \
		>"$out.txt" 2>&1 || rc=$?
	[ $rc -ne 124 ] || fail "fio hung: $*"
	sed -n '/^{/,$p' "$out.raw" >"$out"
	[ -s "$out" ] || fail "fio wrote no result: $(cat "$out.raw" "$out.txt")"
}

# same_as_block NAME WHAT: dmp's read/write counts and bytes of NAME equal
# what the block layer counted for the dm device (errors included).
same_as_block() {
	local r w rb wb
	read -r r w rb wb _ <"$(stat_dir "$1")/stat"
	blk_read "$(dm_block "$1")"
	assert_eq "$r $w $rb $wb" "${BLK[1]} ${BLK[5]} $((BLK[3] * 512)) $((BLK[7] * 512))" \
		"$2: $1 reads, writes, bytes vs /sys/block stat"
}

# fio_check JSON WHAT ERRS: fio saw errors (ERRS=yes: EIO among them) or none.
fio_check() {
	local errs first
	errs=$(fio_get "$1" '.jobs[0].total_err')
	first=$(fio_get "$1" '.jobs[0].error')
	log "$2: fio: $(fio_get "$1" '.jobs[0].read.total_ios') reads, $(fio_get "$1" '.jobs[0].write.total_ios') writes, $errs errors (first: $first)"
	if [ "$3" = yes ]; then
		assert_gt "$errs" 0 "$2: I/O errors seen by fio"
		assert_eq "$first" 5 "$2: fio's error (EIO)"
	else
		assert_eq "$errs $first" "0 0" "$2: fio errors"
	fi
}

remove_clean() {	# name: dmp device removed, its directory and link gone
	local dir
	dir=$(stat_dir "$1")
	timeout 60 dmsetup remove "$1" || fail "dmsetup remove $1 failed"
	dm_forget "$1"
	[ ! -e "$dir" ] && [ ! -L "$DMP_STAT/$1" ] || fail "$1: directory or link left after remove"
}
dm_forget() {
	local n kept=()
	for n in "${_dm_names[@]}"; do
		[ "$n" = "$1" ] || kept+=("$n")
	done
	_dm_names=("${kept[@]}")
}

# (a) Failing reads (and writes): flakey always down, no feature.
dm_create fl-a "0 $sz flakey $dev_t 0 0 1"
dmp_create dmp-a "$(dm_node fl-a)"
out=$(must_fail dd if="$(dm_node dmp-a)" of=/dev/null bs=4k count=1 iflag=direct)
assert_match "$out" "Input/output error" "dd read through dmp over failing flakey"
fio_err "$DMP_TMP/a.json" --name=a --filename="$(dm_node dmp-a)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randread --bs=4k --size=16m --io_size=$(scaled 1024)k
fio_check "$DMP_TMP/a.json" "failing reads" yes
same_as_block dmp-a "failing reads"
assert_gt "$(stat_get dmp-a read_reqs)" 1 "failing reads: reads counted"
remove_clean dmp-a
dm_remove fl-a

# (b) Failing writes: reads work, every write fails.
sum0=$(dd if="$dev" bs=1M iflag=direct status=none | sha256sum)
dm_create fl-b "0 $sz flakey $dev_t 0 0 1 1 error_writes"
dmp_create dmp-b "$(dm_node fl-b)"
out=$(must_fail dd if=/dev/zero of="$(dm_node dmp-b)" bs=4k count=1 oflag=direct)
assert_match "$out" "Input/output error" "dd write through dmp over flakey error_writes"
fio_err "$DMP_TMP/b.json" --name=b --filename="$(dm_node dmp-b)" --direct=1 \
	--ioengine=psync --rw=randrw --bs=4k --size=16m --io_size=$(scaled 1024)k
fio_check "$DMP_TMP/b.json" "failing writes" yes
assert_eq "$(stat_get dmp-b read_reqs)" "$(fio_get "$DMP_TMP/b.json" '.jobs[0].read.total_ios')" \
	"failing writes: reads vs fio"
same_as_block dmp-b "failing writes"
remove_clean dmp-b
dm_remove fl-b
assert_eq "$(dd if="$dev" bs=1M iflag=direct status=none | sha256sum)" "$sum0" "contents of $dev after failed writes"

# (c) Dropped writes: they succeed, are counted, and change nothing.
dm_create fl-c "0 $sz flakey $dev_t 0 0 1 1 drop_writes"
dmp_create dmp-c "$(dm_node fl-c)"
fio_err "$DMP_TMP/c.json" --name=c --filename="$(dm_node dmp-c)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randrw --bssplit=4k/50:64k/50 --size=16m \
	--io_size=$(scaled 2048)k
fio_check "$DMP_TMP/c.json" "dropped writes" no
read -r fr fw frb fwb < <(fio_get "$DMP_TMP/c.json" '.jobs[0] |
	[.read.total_ios, .write.total_ios, .read.io_bytes, .write.io_bytes] | @tsv')
read -r r w rb wb _ <"$(stat_dir dmp-c)/stat"
assert_eq "$r $w $rb $wb" "$fr $fw $frb $fwb" "dropped writes: dmp counts vs fio"
same_as_block dmp-c "dropped writes"
remove_clean dmp-c
dm_remove fl-c
assert_eq "$(dd if="$dev" bs=1M iflag=direct status=none | sha256sum)" "$sum0" "contents of $dev after dropped writes"

# (d) Up 1 s, down 1 s, under fio for 5 s: some I/O fails, all is counted.
dm_create fl-d "0 $sz flakey $dev_t 0 1 1"
dmp_create dmp-d "$(dm_node fl-d)"
fio_err "$DMP_TMP/d.json" --name=d --filename="$(dm_node dmp-d)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randrw --bs=4k --size=16m \
	--time_based --runtime=5 --rate_iops=200
fio_check "$DMP_TMP/d.json" "flakey up and down" yes
same_as_block dmp-d "flakey up and down"
remove_clean dmp-d
dm_remove fl-d

# (e) The device below turns into "error" while fio runs (writes with
# fsyncs, reads): fio gets EIO from then on; dmp counts every request.
dm_create lo-e "0 $sz linear $dev_t 0"
dmp_create dmp-e "$(dm_node lo-e)"
# Long enough for the switch below to happen while fio runs: on the
# sanitizer kernel starting fio and each dmsetup take seconds.
runtime=6
on_debug_kernel && runtime=30
fio_err "$DMP_TMP/e.json" --name=e --filename="$(dm_node dmp-e)" --direct=1 \
	--ioengine=libaio --iodepth=8 --rw=randrw --bs=4k --size=16m --fsync=16 \
	--time_based --runtime=$runtime --rate_iops=300 &
fio_pid=$!
for ((k = 0; k < 100; k++)); do
	[ "$(stat_get dmp-e write_reqs)" -gt 0 ] && break
	sleep 0.1
done
sleep 1
timeout 60 dmsetup reload lo-e --table "0 $sz error" || fail "reload of lo-e to error"
timeout 60 dmsetup resume lo-e || fail "resume of lo-e"
before_err=$(stat_get dmp-e total_reqs)
wait "$fio_pid" || fail "fio (e)"
fio_check "$DMP_TMP/e.json" "device failing mid-run" yes
assert_gt "$(stat_get dmp-e total_reqs)" "$before_err" "dmp-e: requests after the switch to error"
read -r r w rb wb f _ <"$(stat_dir dmp-e)/stat"
blk_read "$(dm_block dmp-e)"
# The block layer counts an empty flush as a write of no sectors.
assert_eq "$r $((w + f)) $rb $wb" "${BLK[1]} ${BLK[5]} $((BLK[3] * 512)) $((BLK[7] * 512))" \
	"device failing mid-run: dmp reads, writes + flushes, bytes vs /sys/block stat"
assert_gt "$f" 0 "device failing mid-run: flushes counted"
out=$(must_fail dd if="$(dm_node dmp-e)" of=/dev/null bs=4k count=1 iflag=direct)
assert_match "$out" "Input/output error" "dd read after the switch to error"
remove_clean dmp-e
dm_remove lo-e
