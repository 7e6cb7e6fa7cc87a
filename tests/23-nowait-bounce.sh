#!/bin/bash
# DESCRIPTION: requests that bounce unserviced are not counted as I/O.
# io_uring submits REQ_NOWAIT bios; a device with no free tag, or a bio that
# would need a split below dmp, completes them at once with EAGAIN and
# io_uring sends them again.  On a shallow null_blk (2 tags, 5 ms per
# request), io_uring at iodepth 32, submitting 32 at a time (so that the
# third of a batch finds no tag even on a sanitizer kernel under TCG),
# reading, writing and mixing sizes: dmp's
# reads, writes, bytes and size histograms equal fio's issued counts (and
# its I/O log), no error is counted, and bounced_reqs is exactly what the
# dm device's diskstats counted beyond them (diskstats count every attempt).
# Requests larger than the device takes in one piece bounce every time:
# counted once each, and as sequential as without the bounce (one CPU
# online, so that the per-CPU sequentiality does not depend on where
# io_uring's worker runs).  Two dmptrace runs trace the 128 KiB reads at
# once: "-r" logs exactly fio's requests (its I/O log: sectors and sizes,
# error 0), "--bounces -r" also each bounce (error -11, the same sectors)
# and counts them apart in its summary.  Polled io_uring (--hipri) on a
# polling device is counted exactly.
. "$(dirname "$0")/lib.sh"

[ -x "$DMPTRACE" ] || fail "no $DMPTRACE (make tools)"
n_ios=$(scaled 400)

# counts DIR: "r w rb wb re we bounced" of a stat directory.
counts() {
	local -a f
	read -ra f <"$1/stat"
	echo "${f[0]} ${f[1]} ${f[2]} ${f[3]} ${f[7]} ${f[8]} ${f[14]}"
}

# size_buckets LOG DIR: dmp's size histograms of reads and writes, and the
# same computed from fio's I/O log (version 3: time, file, action,
# offset, length), in $HD and $HF ("r: ... w: ...").
size_buckets() {
	HD="r: $(<"$2/read_size_hist") w: $(<"$2/write_size_hist")"
	HF=$(awk '
		function bucket(b,   i) { if (b < 1024) return 0; i = 0
			while (b >= 2048) { b /= 2; i++ } return i < 13 ? i + 1 : 13 }
		$3 == "read" || $3 == "write" { h[$3, bucket($5)]++ }
		END {
			printf "r:"; for (i = 0; i < 14; i++) printf " %d", h["read", i]
			printf " w:"; for (i = 0; i < 14; i++) printf " %d", h["write", i]
			print ""
		}' "$1")
}

# --- a shallow device: bounces for want of a tag
dev=$(nullb_dev 256 hw_queue_depth=2 irqmode=2 completion_nsec=5000000)
echo none >"/sys/block/${dev#/dev/}/queue/scheduler"
dmp_create bn "$dev"
d=$(stat_dir bn)
for job in "randread:--rw=randread --bs=4k" "randwrite:--rw=randwrite --bs=4k" \
	"mix:--rw=randrw --rwmixread=50 --bssplit=4k/40:16k/30:64k/20:128k/10"; do
	wl=${job%%:*}
	read -ra args <<<"${job#*:}"
	echo 1 >"$d/reset"
	blk_read "$(dm_block bn)"
	b0=("${BLK[@]}")
	run_fio "$DMP_TMP/$wl.json" --name="$wl" --filename=/dev/mapper/bn --ioengine=io_uring \
		--direct=1 --iodepth=32 --iodepth_batch_submit=32 --number_ios="$n_ios" \
		--size=128m "${args[@]}" \
		--write_iolog="$DMP_TMP/$wl.iolog"
	read -r fr fw frb fwb fe < <(fio_get "$DMP_TMP/$wl.json" \
		'.jobs[0] | [.read.total_ios, .write.total_ios, .read.io_bytes, .write.io_bytes, .error] | @tsv')
	read -r r w rb wb re we bounced < <(counts "$d")
	blk_read "$(dm_block bn)"
	log "$wl: fio $fr reads, $fw writes, error $fe; dmp bounced $bounced"
	assert_eq "$fe" 0 "$wl: fio's errors"
	assert_eq "$r $w $rb $wb" "$fr $fw $frb $fwb" "$wl: dmp reads, writes and bytes vs fio"
	assert_eq "$re $we" "0 0" "$wl: dmp read and write errors"
	assert_gt "$bounced" 0 "$wl: bounces (the device must have made some)"
	assert_eq "$((BLK[1] - b0[1] + BLK[5] - b0[5]))" "$((fr + fw + bounced))" \
		"$wl: dm diskstats requests = fio's + dmp's bounces"
	size_buckets "$DMP_TMP/$wl.iolog" "$d"
	assert_eq "$HD" "$HF" "$wl: size histograms vs fio's I/O log"
	assert_eq "$(<"$d/total_avg_size")" "$(((frb + fwb) / (fr + fw)))" "$wl: total_avg_size vs fio"
done
dm_remove bn

# --- requests larger than the device takes: each one bounces, then goes
# through split.  One CPU online, so that every mapping happens on it.
big=$(nullb_dev 256 max_sectors=128)
assert_eq "$(<"/sys/block/${big#/dev/}/queue/max_sectors_kb")" 64 "max_sectors_kb of the device"
dmp_create bb "$big"
d=$(stat_dir bb)
cpu1=/sys/devices/system/cpu/cpu1/online
one_cpu=0
if [ "$(nproc)" = 1 ]; then
	one_cpu=1
elif [ -w "$cpu1" ] && [ "$(nproc)" = 2 ]; then
	trap 'rc=$?; echo 1 >'"$cpu1"'; (exit $rc); _cleanup' EXIT
	echo 0 >"$cpu1"
	one_cpu=1
	log "cpu1 offline"
fi
n_big=$(scaled 64)
seq_run() {	# ENGINE RW: sequential 128 KiB requests, one at a time
	echo 1 >"$d/reset"
	blk_read "$(dm_block bb)"
	b0=("${BLK[@]}")
	run_fio "$DMP_TMP/big-$1-$2.json" --name=big --filename=/dev/mapper/bb --ioengine="$1" \
		--direct=1 --iodepth=1 --rw="$2" --bs=128k --number_ios="$n_big" --size=128m \
		--write_iolog="$DMP_TMP/big-$1-$2.iolog"
	blk_read "$(dm_block bb)"
	read -ra S <"$d/stat"
}
# dt_json FILE ERROR: the records of dmptrace's JSON log FILE with that
# error, as "R sector bytes", sorted; any other record as "bad ...".
dt_json() {
	jq -r --arg e "$2" --arg d "$(dm_devt bb)" 'select(.rwbs) | select(.error == ($e | tonumber)) |
		if .devt != $d or (.rwbs | test("R") | not) then "bad \(.devt) \(.rwbs)"
		else "R \(.sector) \(.bytes)" end' "$1" | sort
}
for rw in read write; do
	k=0 what=reads
	[ $rw = read ] || { k=1 what=writes; }
	seq_run psync $rw
	psync_line="${S[*]:0:11} ${S[14]}"
	[ $rw = write ] || { dt_start br -d bb -r -j; dt_start bbo -d bb -r --bounces -j; }
	seq_run io_uring $rw
	read -r fn fb < <(fio_get "$DMP_TMP/big-io_uring-$rw.json" ".jobs[0].$rw | [.total_ios, .io_bytes] | @tsv")
	assert_eq "$fn $fb" "$n_big $((n_big << 17))" "128 KiB $what issued by fio"
	assert_eq "${S[k]} ${S[2 + k]}" "$fn $fb" "128 KiB $what counted by dmp"
	assert_eq "${S[14]}" "$n_big" "bounces of 128 KiB $what (each one)"
	assert_eq "$((BLK[1 + 4 * k] - b0[1 + 4 * k]))" "$((2 * n_big))" "$what in the dm diskstats (twice each)"
	if [ $rw = read ]; then
		dt_stop br
		assert_eq "$DT_RC" 0 "dmptrace -r: exit status"
		dt_stop bbo
		assert_eq "$DT_RC" 0 "dmptrace -r --bounces: exit status"
		awk '$3 == "read" { printf "R %d %d\n", $4 / 512, $5 }' \
			"$DMP_TMP/big-io_uring-read.iolog" | sort >"$DMP_TMP/big.want"
		assert_eq "$(wc -l <"$DMP_TMP/big.want")" "$n_big" "reads in fio's I/O log"
		dt_json "$DMP_TMP/br.out" 0 >"$DMP_TMP/br.got"
		assert_eq "$(diff "$DMP_TMP/big.want" "$DMP_TMP/br.got")" "" "dmptrace -r vs fio's I/O log"
		assert_eq "$(jq -s '[.[] | select(.rwbs)] | length' "$DMP_TMP/br.out")" "$n_big" \
			"dmptrace -r: records (no bounce among them)"
		assert_eq "$(jq -r 'select(.summary) | .summary | "\(.read) \(.write) \(.bounced) \(.bounces_shown) \(.dropped)"' \
			"$DMP_TMP/br.out")" "$n_big 0 0 false 0" "dmptrace -r: summary (reads, writes, bounced, shown, dropped)"
		dt_json "$DMP_TMP/bbo.out" 0 >"$DMP_TMP/bbo.got"
		assert_eq "$(diff "$DMP_TMP/big.want" "$DMP_TMP/bbo.got")" "" "dmptrace --bounces: serviced reads vs fio's I/O log"
		dt_json "$DMP_TMP/bbo.out" -11 >"$DMP_TMP/bbo.bounced"
		assert_eq "$(diff "$DMP_TMP/big.want" "$DMP_TMP/bbo.bounced")" "" \
			"dmptrace --bounces: a bounce (error -11) at each request's sector and size"
		assert_eq "$(jq -r 'select(.summary) | .summary | "\(.requests) \(.errors) \(.bounced) \(.bounces_shown)"' \
			"$DMP_TMP/bbo.out")" "$((2 * n_big)) 0 $n_big true" \
			"dmptrace --bounces: summary (records, errors, bounced, shown)"
		echo "ok: dmptrace -r logged fio's $n_big reads; --bounces also their $n_big bounces"
	fi
	if [ $one_cpu = 0 ]; then
		log "more than one CPU online: sequential counts not compared"
		continue
	fi
	assert_eq "${S[*]:0:11} 0" "$psync_line" \
		"dmp's counts of io_uring $what with bounces vs psync's without (sequential counts included)"
	assert_eq "$(<"$d/${rw}_seq_reqs")" "$((n_big - 1))" "sequential $what"
done
[ ! -w "$cpu1" ] || echo 1 >"$cpu1"
dm_remove bb

# --- polled I/O, where the kernel polls dm devices
# Not memory-backed: null_blk's memory-backed polling allocates pages
# inside an RCU read-side section (a kernel report of null_blk's own).
pol=$(nullb_dev 256 poll_queues=2 memory_backed=0)
dmp_create bp "$pol"
d=$(stat_dir bp)
if [ "$(<"$(dm_block bp)/queue/io_poll")" = 1 ]; then
	run_fio "$DMP_TMP/poll.json" --name=poll --filename=/dev/mapper/bp --ioengine=io_uring \
		--hipri --direct=1 --iodepth=16 --rw=randrw --bs=4k --number_ios="$n_ios" --size=128m
	read -r fr fw frb fwb < <(fio_get "$DMP_TMP/poll.json" \
		'.jobs[0] | [.read.total_ios, .write.total_ios, .read.io_bytes, .write.io_bytes] | @tsv')
	read -r r w rb wb re we bounced < <(counts "$d")
	assert_eq "$r $w $rb $wb $re $we" "$fr $fw $frb $fwb 0 0" "polled I/O: dmp vs fio"
	assert_eq "$(($(blk_stat bp 1) + $(blk_stat bp 5)))" "$((fr + fw + bounced))" \
		"polled I/O: dm diskstats requests = fio's + dmp's bounces ($bounced)"
else
	log "this kernel does not poll the dmp device: polled part skipped"
fi
