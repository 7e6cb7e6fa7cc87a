#!/bin/bash
# DESCRIPTION: completion-side statistics against oracles: read/write errors
# equal fio's error counts over dm-flakey; latency histograms put fio's
# percentiles (over dm-delay) in the same buckets and dmp's mean lies between
# the injected delay and fio's own mean; size histograms equal fio's I/O log;
# sequential reads count ~100% and random ones ~0%; in_flight follows fio's
# queue depth and the dm device's inflight; reset zeroes it all, a reload
# keeps it; "latency off|on" and the module parameter switch the timing
# (off by default).
. "$(dirname "$0")/lib.sh"
dmp_modprobe -a dm_flakey dm_delay

dev=$(backing_dev 64)
sectors=$(sectors_of "$dev")
d=   # stat directory of the device under test

hist() { read -r -a H <"$d/$1"; }	# file -> array H
sum() { local s=0 v; for v in "$@"; do s=$((s + v)); done; echo $s; }
# the bucket of a latency in ns / a size in bytes (README: layout)
lat_bucket() {
	local us=$(($1 / 1000)) b=1
	[ "$1" -ge 1000 ] || { echo 0; return; }
	while [ $((us >> b)) -gt 0 ] && [ $b -lt 21 ]; do b=$((b + 1)); done
	echo $b
}
size_bucket() {
	local b=0
	while [ $((1024 << b)) -le "$1" ] && [ $b -lt 13 ]; do b=$((b + 1)); done
	echo $b
}
# the bucket where the p-th percentile of histogram H falls
hist_pct() {
	local total i acc=0
	total=$(sum "${H[@]}")
	for i in "${!H[@]}"; do
		acc=$((acc + H[i]))
		if [ $((acc * 100)) -ge $((total * $1)) ]; then echo "$i"; return; fi
	done
}

# --- errors: dm-flakey always down errors reads (and writes with error_writes)
dm_create flk-r "0 $sectors flakey $dev 0 0 1"
dm_create flk-w "0 $sectors flakey $dev 0 0 1 1 error_writes"
dmp_create err-r /dev/mapper/flk-r
dmp_create err-w /dev/mapper/flk-w
n=$(scaled 60)
# fio does not count failed I/O towards number_ios: bound the jobs by size.
common=(--direct=1 --ioengine=libaio --iodepth=4 --continue_on_error=all --randrepeat=0
	--bs=4k --size=$((n * 4))k)
run_fio "$DMP_TMP/er.json" --name=er --filename="$(dm_node err-r)" "${common[@]}" --rw=randread
run_fio "$DMP_TMP/ew.json" --name=ew --filename="$(dm_node err-w)" "${common[@]}" --rw=randrw
d=$(stat_dir err-r)
assert_eq "$(fio_get "$DMP_TMP/er.json" '.jobs[0].total_err')" "$n" "fio's read errors"
assert_eq "$(<"$d/read_errors")" "$n" "read_errors over failing reads"
assert_eq "$(<"$d/read_reqs")" "$n" "read_reqs over failing reads"
d=$(stat_dir err-w)
fw=$(fio_get "$DMP_TMP/ew.json" '.jobs[0].write.total_ios')
assert_eq "$(fio_get "$DMP_TMP/ew.json" '.jobs[0].total_err')" "$fw" "fio's errors (= its writes)"
assert_eq "$(<"$d/write_errors")" "$fw" "write_errors over failing writes"
assert_eq "$(<"$d/read_errors")" 0 "read_errors over failing writes"
assert_eq "$(<"$d/in_flight")" 0 "in_flight after the errors"
dm_remove err-r
dm_remove err-w

# --- latency: reads delayed by 40 ms in dm-delay below dmp
delay_ms=40
dm_create dly "0 $sectors delay $dev 0 $delay_ms"
dmp_create lat /dev/mapper/dly
d=$(stat_dir lat)
assert_eq "$(</sys/module/dmp/parameters/latency)" N "the module parameter's default"
assert_eq "$(<"$d/latency")" off "latency of a new device"
dmsetup message lat 0 latency on
assert_eq "$(<"$d/latency")" on "latency after 'latency on'"
n=$(scaled 64)
run_fio "$DMP_TMP/lat.json" --name=lat --filename="$(dm_node lat)" --direct=1 \
	--ioengine=libaio --iodepth=8 --rw=randread --bs=4k --size=8m --number_ios="$n" \
	--randrepeat=0
hist read_lat_hist
assert_eq "${#H[@]}" 22 "read_lat_hist buckets"
assert_eq "$(sum "${H[@]}")" "$n" "read_lat_hist total"
for p in 50 99; do
	fio_ns=$(fio_get "$DMP_TMP/lat.json" ".jobs[0].read.clat_ns.percentile[\"$p.000000\"]")
	assert_eq "$(hist_pct $p)" "$(lat_bucket "$fio_ns")" "bucket of p$p (fio: $fio_ns ns)"
done
mean=$(($(<"$d/read_lat_ns") / n))
fio_mean=$(fio_get "$DMP_TMP/lat.json" '.jobs[0].read.lat_ns.mean | floor')
# dm-delay counts its delay in jiffies from the tick a request arrived in,
# so a request can leave up to one tick early; 6.1 hands it on through a
# timer and a workqueue (always late in practice), 6.12 polls jiffies from
# a kthread for delays under 50 ms (leaves within the tick).
hz=$(sed -n 's/^CONFIG_HZ=//p' "${DMP_KCONFIG:-/boot/config-$(uname -r)}")
[ -n "$hz" ] || fail "no CONFIG_HZ in ${DMP_KCONFIG:-/boot/config-$(uname -r)}"
min=$((delay_ms * 1000000 - 1000000000 / hz))
[ "$mean" -ge "$min" ] ||
	fail "mean latency $mean ns below the injected ${delay_ms} ms less one tick (HZ=$hz)"
[ "$mean" -le "$fio_mean" ] || fail "mean latency $mean ns above fio's $fio_mean ns"
echo "ok: ${delay_ms} ms - 1 tick = $min ns <= dmp mean $mean ns <= fio mean $fio_mean ns"
hist write_lat_hist
assert_eq "$(sum "${H[@]}")" 0 "write_lat_hist total"

# --- in flight: 8 requests queued below dmp for a second each, submitted
# 8 at a time, so that the queue is full nearly all the time even on the
# sanitizer kernel under TCG (at 40 ms each, one at a time, it took about
# as long to complete and resubmit a request as dm-delay held it, and was
# never seen with 8 queued); fio runs until the full queue has been seen.
dm_create dlyq "0 $sectors delay $dev 0 1000"
dmp_create q /dev/mapper/dlyq
dq=$(stat_dir q)
bg fio --name=q --filename="$(dm_node q)" --direct=1 --ioengine=libaio --iodepth=8 \
	--iodepth_batch_submit=8 --rw=randread --bs=4k --size=8m --time_based --runtime=300 \
	--output=/dev/null
fio_pid=$!
max=0
blk=$(dm_block q)
for _ in $(seq 1 600); do
	read -r v <"$dq/in_flight"
	read -r br _ <"$blk/inflight"
	[ "$v" -le 8 ] || fail "in_flight $v with fio's queue depth 8"
	[ "$v" -gt "$max" ] && max=$v
	[ "$v" -eq 8 ] && [ "$br" -eq 8 ] && break
	sleep 0.05
done
kill -INT "$fio_pid" 2>/dev/null || true
assert_eq "$max" 8 "highest in_flight seen while fio keeps 8 requests queued"
assert_eq "$br" 8 "the dm device's inflight then"
wait
assert_eq "$(<"$dq/in_flight")" 0 "in_flight after fio"
dm_remove q
dm_remove dlyq

# --- a reload keeps everything, a reset zeroes everything (but in_flight)
before=$(cat "$d"/*_hist "$d/read_lat_ns" "$d/stat")
dmsetup reload lat --table "0 $sectors dmp /dev/mapper/dly 0"
dmsetup resume lat
assert_eq "$(cat "$d"/*_hist "$d/read_lat_ns" "$d/stat")" "$before" "statistics after a reload"
echo 1 >"$d/reset"
for f in read_lat_hist write_lat_hist read_size_hist write_size_hist read_lat_ns \
	read_seq_reqs read_errors; do
	[[ $(<"$d/$f") =~ ^(0 )*0$ ]] || fail "$f after reset: $(<"$d/$f")"
done
echo "ok: histograms and sums are zero after a reset"

# --- latency off / on, per device and by the module parameter
dmsetup message lat 0 latency off
assert_eq "$(<"$d/latency")" off "latency after 'latency off'"
dd if="$(dm_node lat)" of=/dev/null bs=4k count=4 iflag=direct status=none
assert_eq "$(<"$d/read_reqs")" 4 "reads counted with latency off"
hist read_lat_hist
assert_eq "$(sum "${H[@]}")" 0 "read_lat_hist with latency off"
assert_eq "$(<"$d/read_lat_ns")" 0 "read_lat_ns with latency off"
dmsetup message lat 0 latency on
dd if="$(dm_node lat)" of=/dev/null bs=4k count=3 iflag=direct status=none
hist read_lat_hist
assert_eq "$(sum "${H[@]}")" 3 "read_lat_hist after 'latency on'"
must_fail dmsetup message lat 0 latency maybe >/dev/null
must_fail dmsetup message lat 0 latency >/dev/null
dmsetup message lat 0 latency off
echo Y >/sys/module/dmp/parameters/latency
dmp_create lat2 "$dev"
assert_eq "$(<"$(stat_dir lat2)/latency")" on "latency of a device created with latency=Y"
echo N >/sys/module/dmp/parameters/latency
assert_eq "$(<"$(stat_dir lat2)/latency")" on "the parameter does not change existing devices"
assert_eq "$(<"$d/latency")" off "nor 'latency off' devices"
dm_remove lat2
dm_remove lat
dm_remove dly

# --- sizes and sequentiality against fio's I/O log
# fio's buffers in huge pages: a direct I/O is one bio only if its pages fit
# into one bio's 256 segments, and over 4 KiB pages anything above 1 MiB may
# be split (by how contiguous the pages happen to be) before dm sees it.
dmp_create sz "$dev"
d=$(stat_dir sz)
huge0=$(</proc/sys/vm/nr_hugepages)
echo $((huge0 + 24)) >/proc/sys/vm/nr_hugepages
assert_eq "$(($(</proc/sys/vm/nr_hugepages) - huge0))" 24 "huge pages reserved for fio"
run_fio "$DMP_TMP/sz.json" --name=sz --filename="$(dm_node sz)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randrw --randrepeat=0 --size=32m \
	--bssplit=512/10:1k/10:3k/10:4k/20:64k/20:192k/10:1m/10:4m/10 \
	--iomem=shmhuge --hugepage-size=2m \
	--number_ios="$(scaled 300)" --write_iolog="$DMP_TMP/sz.log"
echo "$huge0" >/proc/sys/vm/nr_hugepages
for dir in read write; do
	want=(0 0 0 0 0 0 0 0 0 0 0 0 0 0)
	while read -r size; do
		b=$(size_bucket "$size")
		want[b]=$((want[b] + 1))
	done < <(awk -v d="$dir" '$3 == d { print $5 }' "$DMP_TMP/sz.log")
	assert_eq "$(<"$d/${dir}_size_hist")" "${want[*]}" "${dir}_size_hist vs fio's I/O log"
done
echo 1 >"$d/reset"
n=$(scaled 128)
run_fio "$DMP_TMP/seq.json" --name=seq --filename="$(dm_node sz)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=read --bs=64k --number_ios="$n"
seq=$(<"$d/read_seq_reqs")
assert_eq "$(<"$d/read_reqs")" "$n" "sequential job's reads"
[ $((seq * 100)) -ge $((n * 90)) ] || fail "sequential job: only $seq of $n reads sequential"
echo "ok: sequential job: $seq of $n reads sequential"
echo 1 >"$d/reset"
run_fio "$DMP_TMP/rnd.json" --name=rnd --filename="$(dm_node sz)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randread --bs=4k --number_ios="$n" --randrepeat=0
seq=$(<"$d/read_seq_reqs")
[ $((seq * 100)) -le $((n * 5)) ] || fail "random job: $seq of $n reads sequential"
echo "ok: random job: $seq of $n reads sequential"
