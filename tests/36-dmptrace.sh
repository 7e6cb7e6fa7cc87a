#!/bin/bash
# DESCRIPTION: dmptrace's live log: N direct I/Os from fio give exactly N
# records with the directions, sectors and sizes of fio's own I/O log, the
# pid and comm of fio's job, errno 0 and a latency, and none for another
# device; three runs at once with different kernel filters (a device by
# name, by major:minor with -w, by path in text form with --bounces) each
# see exactly their own; failed requests carry their errno (as many as
# dmp's read_errors); --summary's sequential count, size and latency percentiles
# against fio and the log, the latencies in dmp's own histogram buckets;
# SIGINT, SIGTERM, a reader that goes away and SIGKILL leave no tracefs
# instance (after a SIGKILL of both processes the next run removes it,
# and never one of a live run); a 4 KiB buffer under a stopped reader
# drops events and says how many: records + dropped = fio's I/Os; errors
# (no module, no tracefs, unknown device, no permission, bad arguments)
# give one line, status 1 and nothing behind.
. "$(dirname "$0")/lib.sh"

[ -x "$DMPTRACE" ] || fail "no $DMPTRACE (make tools)"
[ -d /sys/kernel/tracing/instances ] || fail "no tracefs at /sys/kernel/tracing"
dmp_load
assert_eq "$(dt_instances)" "" "dmptrace instances before the test"
dmp_create ta "$(backing_dev 64)"
dmp_create tb "$(backing_dev 64)"
ta=$(dm_devt ta)
tb=$(dm_devt tb)
cd "$DMP_TMP" || exit

# fio's I/O log (v3: time file action offset length) as "R|W sector bytes".
fio_reqs() {
	awk '$3 == "read" || $3 == "write" {
		printf "%s %d %d\n", $3 == "read" ? "R" : "W", $4 / 512, $5 }' "$1" | sort
}
# dmptrace's JSON records of device $2 as "R|W sector bytes"; every other
# record (another device, another operation) as "bad ...".
dt_reqs() {
	jq -r --arg d "$2" 'select(.rwbs) |
		if .devt != $d then "bad device \(.devt)"
		elif (.rwbs | test("R")) then "R \(.sector) \(.bytes)"
		elif (.rwbs | test("W")) and .bytes > 0 then "W \(.sector) \(.bytes)"
		else "bad rwbs \(.rwbs)" end' "$1" | sort
}

# --- three runs at once, with different filters
log "three runs at once, with different filters (${SECONDS}s)"
n=$(scaled 200)
dt_start a -d ta --json
dt_start b -d "$tb" -w --json -o "$DMP_TMP/b.json"
dt_start c -d /dev/mapper/ta --bounces
assert_eq "$(dt_instances | wc -l)" 3 "instances while three runs trace"
# shellcheck disable=SC2016 # $PPID: for the shell of fio's exec_prerun
run_fio fio.json --direct=1 --ioengine=libaio --iodepth=4 --randrepeat=0 \
	--exec_prerun='echo $PPID' \
	--name=ja --filename="$(dm_node ta)" --rw=randrw --bssplit=4k/50:16k/30:64k/20 \
	--size=16m --number_ios="$n" --write_iolog=ja.log \
	--name=jb --filename="$(dm_node tb)" --rw=randrw --bs=8k --size=16m \
	--number_ios="$n" --write_iolog=jb.log
dt_stop a INT
assert_eq "$DT_RC" 0 "exit status after SIGINT"
dt_stop b TERM
assert_eq "$DT_RC" 0 "exit status after SIGTERM"
dt_stop c INT
assert_eq "$(dt_instances)" "" "instances after SIGINT and SIGTERM"
assert_eq "$(pgrep -c -f "$DMPTRACE" || true)" 0 "dmptrace processes left"

fio_reqs ja.log >a.want
fio_reqs jb.log | grep '^W' >b.want || true
assert_eq "$(wc -l <a.want)" "$n" "fio's I/Os on ta"
dt_reqs a.out "$ta" >a.got
dt_reqs b.json "$tb" >b.got
cmp -s a.want a.got || { diff a.want a.got | head; fail "run a: records differ from fio's I/O log of ta"; }
echo "ok: run a (-d ta): exactly fio's $n I/Os on ta, nothing else"
cmp -s b.want b.got || { diff b.want b.got | head; fail "run b: records differ from fio's writes to tb"; }
echo "ok: run b (-d $tb -w): exactly fio's $(wc -l <b.want) writes to tb, nothing else"
# the text log: a header, then TIME DEVICE MAJ:MIN RWBS SECTOR BYTES LAT_US ERR PID COMM
assert_match "$(head -n 1 c.out)" '^ +TIME +DEVICE +MAJ:MIN +RWBS +SECTOR +BYTES +LAT_US +ERR +PID +COMM$' "text header"
tail -n +2 c.out | awk -v d="$ta" '{
	if ($2 != "ta" || $3 != d || NF != 10) print "bad " $0
	else if ($4 ~ /R/) print "R", $5, $6
	else print "W", $5, $6 }' | sort >c.got
cmp -s a.want c.got || { diff a.want c.got | head; fail "run c (text): records differ from fio's I/O log of ta"; }
echo "ok: run c (-d /dev/mapper/ta, text): the same $n requests"

# pid and comm: fio's job process (its exec_prerun printed its pid)
pa=$(<ja.prerun.txt)
pb=$(<jb.prerun.txt)
assert_eq "$(jq -r 'select(.rwbs) | "\(.pid) \(.comm)"' a.out | sort -u)" "$pa fio" "pid and comm in run a"
assert_eq "$(jq -r 'select(.rwbs) | "\(.pid) \(.comm)"' b.json | sort -u)" "$pb fio" "pid and comm in run b"
assert_eq "$(tail -n +2 c.out | awk '{ print $9, $10 }' | sort -u)" "$pa fio" "pid and comm in run c"
assert_eq "$(jq -r 'select(.rwbs) | select(.error != 0 or .lat_ns <= 0 or .time < 0) | .sector' a.out | wc -l)" 0 \
	"records with an error, no latency or a negative time"
# the summary: a JSON line at the end, and one line on stderr
assert_eq "$(tail -n 1 a.out | jq -c '.summary | [.requests, .read, .write, .dropped, .bounces_shown]')" \
	"[$n,$(grep -c '^R' a.want),$(grep -c '^W' a.want),0,false]" "run a's JSON summary"
assert_eq "$(tail -n 1 a.out | jq -r .summary.filter)" "dev == $(( (${ta%:*} << 20) | ${ta#*:} ))&&error != -11" \
	"run a's kernel filter"
assert_eq "$(tail -n 1 b.json | jq -r .summary.filter)" \
	"dev == $(( (${tb%:*} << 20) | ${tb#*:} ))&&rwbs~\"*W*\"&&error != -11" "run b's kernel filter"
assert_match "$(tail -n 1 c.err)" "^dmptrace: $n requests \\($(grep -c '^R' a.want) reads, $(grep -c '^W' a.want) writes, 0 flushes, 0 discards, 0 other; 0 failed, 0 bounced\\) in [0-9.]+ s; 0 events dropped by the kernel$" \
	"run c's summary line (with --bounces)"

# --- failed requests: dmp over a device that fails every request
log "failed requests (${SECONDS}s)"
dm_create terr "0 16384 error"
dmp_create te "$(dm_node terr)"
dt_start e -d te --json
for i in 1 2 3; do
	if dd if="$(dm_node te)" of=/dev/null bs=4k count=1 skip=$i iflag=direct status=none 2>/dev/null; then
		fail "a read of te did not fail"
	fi
done
dt_stop e
assert_eq "$(jq -r 'select(.rwbs) | "\(.sector) \(.error)"' e.out | tr '\n' ' ')" "8 -5 16 -5 24 -5 " \
	"records of the failed reads (sector, error)"
assert_eq "$(tail -n 1 e.out | jq .summary.errors)" "$(stat_get te read_errors)" "failed requests = dmp's read_errors"
dm_remove te
dm_remove terr

# --- --summary: a sequential reader, timed by dmp too
log "--summary (${SECONDS}s)"
dmsetup message ta 0 latency on
dmsetup message ta 0 reset
ns=$(scaled 64)
dt_start s -d ta -s -j -o "$DMP_TMP/s.json"
run_fio fs.json --name=seq --filename="$(dm_node ta)" --direct=1 --ioengine=psync \
	--rw=read --bs=4k --number_ios="$ns" --size=16m
dt_stop s
dmsetup message ta 0 latency off
jq -c '.profile[] | select(.group == "device") | .read |
	[.requests, .bytes, .sequential, .size.p50, .size.max]' s.out >s.prof
assert_eq "$(<s.prof)" "[$ns,$((ns * 4096)),$((ns - 1)),4096,4096]" \
	"profile of a sequential read: requests, bytes, sequential, size p50 and max"
# latency percentiles by nearest rank, from the log's latencies (awk)
jq -r 'select(.rwbs) | .lat_ns' s.json | sort -n | awk '{ v[NR] = $1 } END {
	split("50 90 99 100", p, " ")
	for (i = 1; i <= 4; i++) { r = int((NR * p[i] + 99) / 100); printf "%s%d", (i > 1 ? "," : "["), v[r] }
	print "]" }' >s.pct
assert_eq "$(jq -c '.profile[0].read.lat_ns | [.p50, .p90, .p99, .max]' s.out)" "$(<s.pct)" \
	"latency percentiles = nearest rank of the log's latencies"
# every latency in the bucket dmp's histogram put it in (the same lat_ns)
jq -r 'select(.rwbs) | .lat_ns' s.json | awk '{
	us = int($1 / 1000); b = 0
	while (us >= 1) { us = int(us / 2); b++ }
	if (b > 21) b = 21
	h[b]++ }
	END { for (i = 0; i < 22; i++) printf "%s%d", i ? " " : "", h[i] + 0; print "" }' >s.hist
assert_eq "$(<s.hist)" "$(stat_get ta read_lat_hist)" "the log's latencies in dmp's read_lat_hist buckets"

# --- the reader goes away: dmptrace | head ends at once, by SIGPIPE
log "the reader goes away (${SECONDS}s)"
( set +o pipefail; "$DMPTRACE" -d ta 2>p.err | head -n 2 >p.out ) & ppid=$!
for ((i = 0; i < 300; i++)); do ! grep -q '^dmptrace: tracing' p.err 2>/dev/null || break; sleep 0.1; done
dd if="$(dm_node ta)" of=/dev/null bs=4k count=5 iflag=direct status=none
wait $ppid
assert_eq "$(wc -l <p.out)" 2 "lines read by head"
for ((i = 0; i < 100; i++)); do [ -n "$(pgrep -f "$DMPTRACE" || true)" ] || break; sleep 0.1; done
assert_eq "$(pgrep -c -f "$DMPTRACE" || true)" 0 "dmptrace processes after its reader went away"
assert_eq "$(dt_instances)" "" "instances after its reader went away"

# --- SIGKILL: its reaper removes the instance; if both die, the next run does
log "SIGKILL (${SECONDS}s)"
dt_start live -d ta --json		# a live run: never removed by another
dt_start k -d ta -q
dt_start k2 -d ta -q
inst() { grep -o 'dmptrace-[0-9]*-[0-9]*' "$DMP_TMP/$1.err" | head -n 1; }
live=$(inst live)
stale=$(inst k2)
reaper=$(pgrep -P "${DT_PID[k2]}")
kill -9 "$reaper"		# first: it would remove the instance at once
while [ -e "/proc/$reaper" ] && [ "$(awk '{ print $3 }' "/proc/$reaper/stat" 2>/dev/null)" != Z ]; do
	sleep 0.1
done
kill -9 "${DT_PID[k]}" "${DT_PID[k2]}"
wait "${DT_PID[k]}" "${DT_PID[k2]}" || true
for ((i = 0; i < 100; i++)); do
	[ "$(dt_instances | wc -l)" -gt 2 ] || break
	sleep 0.1
done
assert_eq "$(dt_instances | tr '\n' ' ')" "$(printf '%s\n' "$live" "$stale" | sort | tr '\n' ' ')" \
	"instances after a SIGKILL of one run (its reaper removed it) and of another and its reaper (left)"
"$DMPTRACE" -d ta -q 1 2>next.err || fail "the next run failed: $(cat next.err)"
assert_eq "$(head -n 1 next.err)" \
	"dmptrace: removed the tracefs instance $stale left by dmptrace process ${DT_PID[k2]}, which is gone" \
	"the next run's note"
assert_eq "$(dt_instances)" "$live" "instances after the next run (the live one)"
dd if="$(dm_node ta)" of=/dev/null bs=4k count=7 iflag=direct status=none
dt_stop live
assert_eq "$(jq -r 'select(.rwbs) | .sector' live.out | wc -l)" 7 "records of the live run"
assert_eq "$(dt_instances)" "" "instances at the end"

# --- overrun: a 4 KiB buffer, a stopped reader, 1000 requests
log "overrun (${SECONDS}s)"
no=1000		# not scaled: it must overflow a 4 KiB buffer on any kernel
dt_start o -d ta -b 4 --json
kill -STOP "${DT_PID[o]}"
run_fio fo.json --name=flood --filename="$(dm_node ta)" --direct=1 --ioengine=libaio \
	--iodepth=8 --rw=randread --bs=4k --size=16m --number_ios="$no" --randrepeat=0
kill -CONT "${DT_PID[o]}"
dt_stop o
read -r recs dropped < <(jq -r '.summary | select(.) | "\(.requests) \(.dropped)"' o.out)
assert_gt "$dropped" 0 "events dropped by the kernel"
assert_eq "$((recs + dropped))" "$no" "records + dropped events"
assert_eq "$(jq -r 'select(.rwbs) | .sector' o.out | wc -l)" "$recs" "records in the log"
assert_eq "$(jq -r '.summary | select(.) | .dropped_per_cpu | add' o.out)" "$dropped" "dropped per CPU, added"
assert_match "$(tail -n 1 o.err)" "; $dropped events dropped by the kernel \\(ring buffer overrun: a larger -b, or fewer requests\\)$" \
	"the summary line"
log "lost markers in the log: $(grep -c '"lost":' o.out || true)"

# --- errors: one line on stderr, status 1, nothing on stdout, nothing left
log "errors (${SECONDS}s)"
err_case() {	# expected-message command...
	local want=$1 rc=0
	shift
	"$@" >e.out 2>e.err || rc=$?
	assert_eq "$rc" 1 "exit status of: ${*#"$DMPTRACE"}"
	assert_eq "$(<e.err)" "$want" "message of: ${*#"$DMPTRACE"}"
	[ ! -s e.out ] || fail "output on stdout of: ${*#"$DMPTRACE"}"
	assert_eq "$(dt_instances)" "" "instances after: ${*#"$DMPTRACE"}"
}
loopdev=$(backing_dev 8)
err_case 'dmptrace: no dmp device "nosuch" (see /sys/module/dmp/stat)' "$DMPTRACE" -d nosuch
err_case "dmptrace: 7:${loopdev#/dev/loop} is not a dmp device (no /sys/module/dmp/stat/7:${loopdev#/dev/loop})" \
	"$DMPTRACE" -d "7:${loopdev#/dev/loop}"
err_case "dmptrace: $loopdev (7:${loopdev#/dev/loop}, ${loopdev#/dev/}) is not a dmp device" "$DMPTRACE" -d "$loopdev"
err_case "dmptrace: /dev/nosuch: No such file or directory" "$DMPTRACE" -d /dev/nosuch
err_case "dmptrace: -r and -w exclude each other (neither: both)" "$DMPTRACE" -r -w
err_case 'dmptrace: bad duration "2x" (seconds, or with a suffix s, m or h)' "$DMPTRACE" 2x
err_case 'dmptrace: bad buffer size "0" (KiB per CPU, at least 1)' "$DMPTRACE" -b 0
err_case "dmptrace: cannot write $DMP_TMP/no/such: No such file or directory" \
	"$DMPTRACE" -d ta -o "$DMP_TMP/no/such"
err_case "dmptrace: cannot write $DMP_TMP/no/iolog: No such file or directory" \
	"$DMPTRACE" -d ta -o "$DMP_TMP/o.txt" -i "$DMP_TMP/no/iolog"
[ ! -e o.txt ] || fail "a failed run left its log file behind"
err_case "dmptrace: cannot use tracefs at /sys/kernel/tracing: Permission denied (dmptrace needs root)" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$DMPTRACE" -d ta
err_case "dmptrace: tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)" \
	unshare -m sh -c "umount /sys/kernel/tracing; umount /sys/kernel/debug 2>/dev/null; exec $DMPTRACE -d ta"
rc=0
"$DMPTRACE" --nosuch >e.out 2>e.err || rc=$?
assert_eq "$rc" 1 "exit status of an unknown option"
grep -q '^usage: dmptrace' e.err || fail "no usage after an unknown option"
assert_match "$("$DMPTRACE" --help)" "^usage: dmptrace" "--help"
assert_match "$("$DMPTRACE" -V)" "^dmptrace [0-9]+\\.[0-9]+\\.[0-9]+$" "-V"
# no dmp module at all
dm_remove ta
dm_remove tb
rmmod dmp
err_case "dmptrace: dmp module not loaded (no /sys/module/dmp/stat)" "$DMPTRACE"
dmp_load
log "done (${SECONDS}s)"
