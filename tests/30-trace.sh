#!/bin/bash
# DESCRIPTION: per-request tracepoints: N direct I/Os from fio produce
# exactly N dmp_submit and N dmp_complete records for that device, with the
# sectors (on dmp and below), sizes and directions fio used (from fio's own
# I/O log), fio's pid, a latency and errno 0; a filter on one device and on
# writes selects just those; trace-cmd records the same; nothing is recorded
# while the events are disabled.
. "$(dirname "$0")/lib.sh"

T=/sys/kernel/tracing
[ -d "$T/events/dmp" ] || fail "no $T/events/dmp"
off=2048
dev=$(backing_dev 64)
dmp_create tr1 "$dev" "$off"
dmp_create tr2 "$dev" 0 $((off))
devt=$(dm_devt tr1)
kdev=$(( (${devt%:*} << 20) | ${devt#*:} ))	# the kernel's dev_t encoding
under=$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')

trace_reset() {
	echo 0 >"$T/tracing_on"
	echo 0 >"$T/events/dmp/enable"
	echo 0 >"$T/events/dmp/filter"
	: >"$T/trace"
	echo 1 >"$T/tracing_on"
}
trap 'trace_reset; _cleanup' EXIT
trace_reset

# fio's I/O log (v3: "time file action offset length") is the oracle.
n=$(scaled 200)
echo "dev == $kdev" >"$T/events/dmp/filter"
echo 1 >"$T/events/dmp/enable"
run_fio "$DMP_TMP/fio.json" --name=tr --filename="$(dm_node tr1)" --direct=1 \
	--ioengine=libaio --iodepth=4 --rw=randrw --bssplit=4k/50:16k/30:64k/20 \
	--size=8m --number_ios="$n" --write_iolog="$DMP_TMP/io.log" --randrepeat=0
# I/O to another dmp device is not selected by the filter.
dd if="$(dm_node tr2)" of=/dev/null bs=4k count=8 iflag=direct status=none
echo 0 >"$T/events/dmp/enable"
cp "$T/trace" "$DMP_TMP/trace"

ios=$(fio_get "$DMP_TMP/fio.json" '.jobs[0].read.total_ios + .jobs[0].write.total_ios')
assert_eq "$ios" "$n" "fio's I/O count"

awk '$3 == "read" || $3 == "write" {
	printf "%s %d %d\n", $3 == "read" ? "R" : "W", $4 / 512, $5 }' \
	"$DMP_TMP/io.log" | sort >"$DMP_TMP/want"
# "<comm>-<pid> [cpu] flags ts: dmp_submit: 254,0 R 2048 + 4096 bytes -> 7,0 4096"
parse() {	# event
	awk -v ev="$1:" -v dev="${devt/:/,}" -v under="${under/:/,}" -v off="$off" '
	$0 ~ ev {
		for (i = 1; i <= NF; i++) if ($i == ev) break
		if ($(i + 1) != dev) { print "wrong device: " $0; next }
		if ($(i + 8) != under) { print "wrong underlying device: " $0; next }
		if ($(i + 9) != $(i + 3) + off) { print "wrong underlying sector: " $0; next }
		rw = $(i + 2); sub(/S$/, "", rw)
		print rw, $(i + 3), $(i + 5)
	}' "$DMP_TMP/trace" | sort
}
parse dmp_submit >"$DMP_TMP/submit"
parse dmp_complete >"$DMP_TMP/complete"
assert_eq "$(wc -l <"$DMP_TMP/submit")" "$n" "dmp_submit records"
assert_eq "$(wc -l <"$DMP_TMP/complete")" "$n" "dmp_complete records"
cmp -s "$DMP_TMP/want" "$DMP_TMP/submit" || {
	diff "$DMP_TMP/want" "$DMP_TMP/submit" | head
	fail "dmp_submit records differ from fio's I/O log"
}
cmp -s "$DMP_TMP/want" "$DMP_TMP/complete" || fail "dmp_complete records differ from fio's I/O log"
echo "ok: every fio I/O appears once at submission and once at completion"

# Completion records carry a latency and errno 0; records carry fio's comm.
assert_eq "$(grep -c 'dmp_complete:.* lat_ns=[1-9][0-9]* error=0$' "$DMP_TMP/trace")" "$n" \
	"completions with a latency and error=0"
assert_eq "$(grep 'dmp_submit:' "$DMP_TMP/trace" | grep -vc '^ *fio-[0-9]' || true)" 0 \
	"submissions not by fio"
# Completions name the submitter (their own process is whoever completed
# them): fio's pids, as in the submissions, and its comm.
assert_eq "$(grep 'dmp_complete:' "$DMP_TMP/trace" | sed -n 's/.* pid=\([0-9]*\) comm=fio$/\1/p' | sort -u)" \
	"$(sed -n 's/^ *fio-\([0-9]*\) .*dmp_submit:.*/\1/p' "$DMP_TMP/trace" | sort -u)" \
	"pids of the submitters in dmp_complete records"

# A filter on writes (rwbs contains W) and the device.
trace_reset
echo "dev == $kdev && rwbs ~ \"*W*\"" >"$T/events/dmp/dmp_submit/filter"
echo 1 >"$T/events/dmp/dmp_submit/enable"
dd if=/dev/zero of="$(dm_node tr1)" bs=4k count=5 oflag=direct status=none
dd if="$(dm_node tr1)" of=/dev/null bs=4k count=7 iflag=direct status=none
echo 0 >"$T/events/dmp/dmp_submit/enable"
echo 0 >"$T/events/dmp/dmp_submit/filter"
assert_eq "$(grep -c 'dmp_submit:.* W' "$T/trace")" 5 "write records with the write filter"
assert_eq "$(grep -c 'dmp_submit:' "$T/trace")" 5 "records with the write filter"

# Empty flushes have no position: every segment's copy shows sector 0 on
# both sides (the second segment's used to wrap below 0).
dm_create tr3 "0 2048 dmp $dev 8192
2048 2048 dmp $dev 16384"
kdev3=$(( ($(dm_devt tr3 | cut -d: -f1) << 20) | $(dm_devt tr3 | cut -d: -f2) ))
trace_reset
echo "dev == $kdev3 && bytes == 0" >"$T/events/dmp/dmp_submit/filter"
echo 1 >"$T/events/dmp/dmp_submit/enable"
dd if=/dev/zero of="$(dm_node tr3)" bs=4k count=1 conv=fsync status=none
echo 0 >"$T/events/dmp/dmp_submit/enable"
echo 0 >"$T/events/dmp/dmp_submit/filter"
grep 'dmp_submit:' "$T/trace" | sed 's/.*dmp_submit: //' >"$DMP_TMP/flushes"
assert_eq "$(wc -l <"$DMP_TMP/flushes")" 2 "empty flush records (one per segment)"
assert_eq "$(awk '{ print $2, $3, $9 }' "$DMP_TMP/flushes" | sort -u)" "FWS 0 0" \
	"empty flush records: operation, sector on dmp, sector below"
dm_remove tr3

# Disabled: nothing is recorded.
trace_reset
dd if="$(dm_node tr1)" of=/dev/null bs=4k count=16 iflag=direct status=none
assert_eq "$(grep -c 'dmp_' "$T/trace" || true)" 0 "records while disabled"

# trace-cmd record / report see the same events.
if command -v trace-cmd >/dev/null; then
	(cd "$DMP_TMP" && trace-cmd record -q -e dmp -f "dev == $kdev" \
		dd if="$(dm_node tr1)" of=/dev/null bs=4k count=9 iflag=direct status=none) \
		>"$DMP_TMP/tc.log" 2>&1 || { cat "$DMP_TMP/tc.log"; fail "trace-cmd record"; }
	(cd "$DMP_TMP" && trace-cmd report 2>/dev/null) >"$DMP_TMP/report"
	assert_eq "$(grep -c 'dmp_submit:' "$DMP_TMP/report")" 9 "trace-cmd dmp_submit records"
	assert_eq "$(grep -c 'dmp_complete:' "$DMP_TMP/report")" 9 "trace-cmd dmp_complete records"
else
	fail "trace-cmd is not installed"
fi
