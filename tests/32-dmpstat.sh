#!/bin/bash
# DESCRIPTION: dmpstat against sysfs and fio: a single report equals the
# counters (JSON and table); per-interval reports of a running fio add up
# exactly to the counters' change and to fio's counts; p50/p99 over
# dm-delay fall in fio's buckets and equal the documented interpolation of
# the histogram; -d selection; a device removed, one created and a reset
# while it runs; SIGINT; "module not loaded", at start and while running.
# shellcheck disable=SC2154  # J_* and S_* are set by jload and jsum (eval)
. "$(dirname "$0")/lib.sh"
dmp_modprobe dm_delay

[ -x "$DMPSTAT" ] || fail "no $DMPSTAT (make tools)"
on_exit() {
	local rc=$?
	set +e
	dmp_loaded || insmod "$DMP_KO"
	(exit $rc)
	_cleanup
}
trap on_exit EXIT

# jload LINE DEV: the report's top-level values and device DEV's, as J_<key>
# (one jq per report: every process is slow in the guest).
jload() {
	local v
	v=$(jq -r --arg d "$2" '(to_entries[] | select(.key != "devices")),
		(.devices[] | select(.device == $d) | to_entries[]) |
		"J_\(.key)=\(.value | tostring | @sh)"' <<<"$1") || fail "not JSON: $1"
	[[ $v == *J_device=* ]] || fail "no device $2 in: $1"
	unset "${!J_@}"
	eval "$v"
}
# jsum FILE DEV: the sums of device DEV's numbers over the reports in FILE,
# as S_<key>; S_r_x and S_w_x are the sums of r/s and w/s x the device's
# interval.
jsum() {
	local v
	v=$(jq -s -r --arg d "$2" '[.[] | .devices[] | select(.device == $d) |
		. + { r_x: (.r_s * .interval), w_x: (.w_s * .interval) } | to_entries[] | select(.value | type == "number")] |
		group_by(.key)[] | "S_\(.[0].key)=\(map(.value) | add)"' "$1") || fail "not JSON: $1"
	unset "${!S_@}"
	eval "$v"
}
# check EXPR MESSAGE: an awk condition over the variables given after it
check() {
	local cond=$1 what=$2
	shift 2
	awk "${@/#/-v}" "BEGIN { exit !($cond) }" || fail "$what: $*"
	echo "ok: $what: $*"
}
# wait until FILE has at least N lines (a report each)
wait_lines() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l <"$1")" -lt "$2" ] || return 0
		sleep 0.1
	done
	fail "$1: fewer than $2 reports after 30 s"
}
lines_of() { wc -l <"$1"; }

# Latency timing is off by default: the devices of this test are timed.
dmp_load
echo Y >/sys/module/dmp/parameters/latency
dev1=$(backing_dev 64)
dev2=$(backing_dev 64)
dmp_create ds1 "$dev1"
dmp_create ds2 "$dev2"
d1=$(stat_dir ds1)
id1=$(dm_devt ds1)
id2=$(dm_devt ds2)

# --- one report, since the counters began: the counters themselves
run_fio "$DMP_TMP/a.json" --name=a --filename="$(dm_node ds1)" --direct=1 --ioengine=libaio \
	--iodepth=4 --rw=randrw --bssplit=4k/40:16k/30:128k/30 --size=32m \
	--number_ios="$(scaled 200)" --fsync="$(scaled 32)" --randrepeat=0
blkdiscard -f -o 0 -l 1m "$(dm_node ds1)"
read -r up0 _ </proc/uptime
line=$("$DMPSTAT" -j)
read -r -a st <"$d1/stat"
read -r -a all <"$DMP_STAT/all/stat"
read -r up _ </proc/uptime
assert_eq "$(jq -r '[.devices[].device] | join(" ")' <<<"$line")" "ds1 ds2 all" "devices reported"
jload "$line" all
assert_eq "$J_read_reqs $J_write_reqs $J_read_bytes $J_write_bytes $J_flush_reqs $J_discard_reqs $J_discard_bytes $J_read_errors $J_write_errors $J_read_seq_reqs $J_write_seq_reqs $J_read_lat_ns $J_write_lat_ns $J_in_flight" \
	"${all[*]:0:14}" "JSON counters of all = all/stat"
assert_eq "$J_devt $J_latency $J_reset" "null null false" "all: devt, latency, reset"
jload "$line" ds1
# the stat fields, in README order
assert_eq "$J_read_reqs $J_write_reqs $J_read_bytes $J_write_bytes $J_flush_reqs $J_discard_reqs $J_discard_bytes $J_read_errors $J_write_errors $J_read_seq_reqs $J_write_seq_reqs $J_read_lat_ns $J_write_lat_ns $J_in_flight" \
	"${st[*]:0:14}" "JSON counters of ds1 = its stat"
assert_eq "$J_since_start $J_devt $J_latency $J_reset" "true $id1 true false" \
	"since_start, devt, latency, reset"
assert_eq "$J_read_reqs" "$(fio_get "$DMP_TMP/a.json" '.jobs[0].read.total_ios')" "read_reqs = fio's reads"
assert_gt "$J_flush_reqs" 0 "flushes"
assert_gt "$J_discard_reqs" 0 "discards"
read -r -a H <"$d1/read_lat_hist"
timed=0
for v in "${H[@]}"; do timed=$((timed + v)); done
# first report: the report's interval is the uptime, the device's the time
# since its counters began (reset_ns; /proc/uptime has 1/100 s, rounded
# down); derived values as README and --help define them
check "t0 > 0 && t0 <= up + 0.01 && t >= up0 - rs / 1e9 && t <= up + 0.01 - rs / 1e9 && \
	r_s * t - r < 0.001 * t && r - r_s * t < 0.001 * t" \
	"first report: interval = uptime, device interval = since reset_ns, r/s = reads / it" \
	t0="$(jq .interval <<<"$line")" t="$J_interval" up0="$up0" up="$up" rs="${st[21]}" \
	r_s="$J_r_s" r="${st[0]}"
assert_eq "$J_resets $J_created_ns $J_reset_ns" "${st[*]:19:3}" "ds1's epoch in JSON = its stat"
check "sprintf(\"%.3f %.3f %.3f %.3f\", rb / r / 1024, wb / w / 1024, 100 * s / r, ns / n / 1000) == \
	sprintf(\"%.3f %.3f %.3f %.3f\", rsz, wsz, seq, aw)" "rareq_sz, wareq_sz, r_seq_pct, r_await_us" \
	rb="${st[2]}" r="${st[0]}" wb="${st[3]}" w="${st[1]}" s="${st[9]}" ns="${st[11]}" n="$timed" \
	rsz="$J_rareq_sz" wsz="$J_wareq_sz" seq="$J_r_seq_pct" aw="$J_r_await_us"

# The table: a header and one line per device.
"$DMPSTAT" -d ds1 -d all >"$DMP_TMP/table"
cat "$DMP_TMP/table"
assert_match "$(head -n 1 "$DMP_TMP/table")" \
	'^Device +maj:min +r/s +w/s +rkB/s +wkB/s +rareq-sz +wareq-sz +f/s +d/s +rseq% +wseq% +errs +inflt +r_p50 +r_p99 +w_p50 +w_p99$' \
	"table header"
assert_eq "$(grep -c . "$DMP_TMP/table")" 3 "table lines with -d ds1 -d all"
read -r -a c < <(grep '^ds1 ' "$DMP_TMP/table")
read -r -a a < <(grep '^all ' "$DMP_TMP/table")
assert_eq "${c[1]} ${a[1]} ${c[12]} ${c[13]}" "$id1 - 0 0" "maj:min of ds1 and all, errs, inflt"
# The table rounds the exact values to 2 (1) decimals, JSON to 3: equal
# within both roundings (re-rounding JSON's 40.525 could give 40.52 where
# the table rightly shows 40.53).
check "(t1 - rsz) ^ 2 <= 0.0055 ^ 2 && (t2 - wsz) ^ 2 <= 0.0055 ^ 2 && (t3 - seq) ^ 2 <= 0.0505 ^ 2" \
	"table rareq-sz wareq-sz rseq% = JSON" \
	rsz="$J_rareq_sz" wsz="$J_wareq_sz" seq="$J_r_seq_pct" t1="${c[6]}" t2="${c[7]}" t3="${c[10]}"
assert_match "${c[14]}" '^[0-9.]+(us|ms|s)$' "table r_p50"

# --- -d selection and bad arguments
sel() { "$DMPSTAT" -j "$@" | jq -r '[.devices[] | "\(.device)/\(.devt)"] | join(" ")'; }
assert_eq "$(sel)" "ds1/$id1 ds2/$id2 all/null" "no -d"
assert_eq "$(sel -d ds2)" "ds2/$id2" "-d ds2"
assert_eq "$(sel -d "$id1" -d all)" "ds1/$id1 all/null" "-d $id1 -d all"
out=$(must_fail "$DMPSTAT" -d ds1 -d nosuch)
assert_eq "$out" 'dmpstat: no dmp device "nosuch" in /sys/module/dmp/stat' "unknown -d"
for args in "0" "-1" "1 0" "1 2 3" "x" "-y" "--prometheus 1" "-j --prometheus" "--bogus"; do
	# shellcheck disable=SC2086
	must_fail "$DMPSTAT" $args >/dev/null
done
echo "ok: bad arguments fail"
assert_match "$("$DMPSTAT" --help)" "^usage: dmpstat" "--help"

# --- intervals: the reports of a running fio add up to the counters
echo 1 >"$d1/reset"
bg "$DMPSTAT" -j -d ds1 1 >"$DMP_TMP/iv.json" 2>"$DMP_TMP/iv.err"
pid=$!
wait_lines "$DMP_TMP/iv.json" 1
run_fio "$DMP_TMP/iv-fio.json" --name=iv --filename="$(dm_node ds1)" --direct=1 \
	--ioengine=libaio --iodepth=2 --rw=randrw --bssplit=4k/50:64k/50 --size=32m \
	--number_ios="$(scaled 200)" --rate_iops=100 --randrepeat=0
wait_lines "$DMP_TMP/iv.json" $(($(lines_of "$DMP_TMP/iv.json") + 2))	# a whole interval after fio
kill -INT $pid
rc=0
wait $pid || rc=$?
assert_eq "$rc" 0 "dmpstat's exit status after SIGINT"
lines=$(lines_of "$DMP_TMP/iv.json")
assert_gt "$lines" 2 "reports during fio"
[ ! -s "$DMP_TMP/iv.err" ] || fail "stderr: $(cat "$DMP_TMP/iv.err")"
jsum "$DMP_TMP/iv.json" ds1
read -r -a st <"$d1/stat"
assert_eq "$S_read_reqs $S_write_reqs $S_read_bytes $S_write_bytes $S_read_seq_reqs $S_write_seq_reqs $S_read_lat_ns $S_write_lat_ns" \
	"${st[0]} ${st[1]} ${st[2]} ${st[3]} ${st[9]} ${st[10]} ${st[11]} ${st[12]}" \
	"sums over $lines reports = the counters"
assert_eq "$S_read_reqs $S_write_reqs" \
	"$(fio_get "$DMP_TMP/iv-fio.json" '"\(.jobs[0].read.total_ios) \(.jobs[0].write.total_ios)"')" \
	"sums of reads and writes = fio's"
# rates are printed to 1/1000, intervals to 1/1000000
check "rx - r < 0.002 * n && r - rx < 0.002 * n && wx - w < 0.002 * n && w - wx < 0.002 * n" \
	"sums of r/s, w/s x interval" rx="$S_r_x" r="$S_read_reqs" wx="$S_w_x" w="$S_write_reqs" n="$lines"

# --- percentiles over dm-delay: reads 40 ms, writes 20 ms (plus a few ms: timer
# and workqueue; both well inside a bucket, [32.8, 65.5) and [16.4, 32.8) ms).
# The sanitizer kernel adds ~12 ms: there 80 and 40 ms, inside the next
# buckets up.
rdelay=40 wdelay=20
on_debug_kernel && rdelay=80 wdelay=40
sectors=$(sectors_of "$dev2")
dm_create dly "0 $sectors delay $dev2 0 $rdelay $dev2 0 $wdelay"
dmp_create lat /dev/mapper/dly
dl=$(stat_dir lat)
for dir in read write; do	# one after the other: reads do not wait behind writes
	run_fio "$DMP_TMP/$dir.json" --name=lat --filename="$(dm_node lat)" --direct=1 \
		--ioengine=libaio --iodepth=4 --rw=rand$dir --bs=4k --size=8m \
		--number_ios="$(scaled 64)" --randrepeat=0
done
line=$("$DMPSTAT" -j -d lat)
jload "$line" lat
# the bucket [lo, hi) of a latency in ns, in us (README: layout)
bucket_us() {
	local us=$(($1 / 1000)) b=1
	[ "$1" -ge 1000 ] || { echo "0 1"; return; }
	while [ $((us >> b)) -gt 0 ] && [ $b -lt 21 ]; do b=$((b + 1)); done
	echo "$((1 << (b - 1))) $((1 << b))"
}
# the documented estimate: linear inside the bucket that reaches p% (p50 and
# p99 of the read and the write histogram)
mapfile -t interp < <(awk '{ t = 0; for (i = 1; i <= NF; i++) t += $i
	for (p = 50; p <= 99; p += 49) {
		c = 0
		for (i = 1; i <= NF; i++) {
			if ($i && (c + $i) * 100 >= t * p) break
			c += $i }
		lo = i > 1 ? 2 ^ (i - 2) : 0; hi = 2 ^ (i - 1)
		printf "%.3f\n", lo + (hi - lo) * (t * p / 100 - c) / $i } }' \
	"$dl/read_lat_hist" "$dl/write_lat_hist")
i=0
for dir in read write; do
	x=${dir:0:1}
	read -r -a fio_ns < <(fio_get "$DMP_TMP/$dir.json" \
		".jobs[0].$dir.clat_ns.percentile | \"\\(.[\"50.000000\"]) \\(.[\"99.000000\"])\"")
	for p in 50 99; do
		var=J_${x}_p${p}_us
		v=${!var}
		ns=${fio_ns[p / 99]}
		read -r lo hi < <(bucket_us "$ns")
		if [ "${v%.*}" -lt "$lo" ] || [ "${v%.*}" -gt "$hi" ]; then
			fail "${x}_p${p}_us $v us not in fio's bucket [$lo, $hi) us (fio: $ns ns)"
		fi
		echo "ok: ${x}_p${p}_us $v us in fio's bucket [$lo, $hi) us"
		assert_eq "$(printf %.3f "$v")" "${interp[i]}" "${x}_p${p}_us = interpolation of ${dir}_lat_hist"
		i=$((i + 1))
	done
done
# the table shows the same, in 3 digits and a unit
read -r -a c < <("$DMPSTAT" -d lat | grep '^lat ')
awk -v t="${c[*]:14:4}" -v j="$J_r_p50_us $J_r_p99_us $J_w_p50_us $J_w_p99_us" 'BEGIN {
	split(t, T, " "); split(j, J, " ")
	for (i = 1; i <= 4; i++) {
		u = T[i] ~ /us$/ ? 1 : T[i] ~ /ms$/ ? 1000 : 1000000
		v = (T[i] + 0) * u
		if (v - J[i] > J[i] * 0.005 || J[i] - v > J[i] * 0.005) exit 1
	} }' || fail "table r_p50 r_p99 w_p50 w_p99: ${c[*]:14:4}, JSON: $J_r_p50_us $J_r_p99_us $J_w_p50_us $J_w_p99_us"
echo "ok: table r_p50 r_p99 w_p50 w_p99: ${c[*]:14:4}"
# no timed request: null / "-"
dmsetup message lat 0 latency off
echo 1 >"$dl/reset"
dd if="$(dm_node lat)" of=/dev/null bs=4k count=2 iflag=direct status=none
jload "$("$DMPSTAT" -j -d lat)" lat
assert_eq "$J_latency $J_read_reqs $J_r_p50_us $J_r_await_us $J_w_seq_pct" "false 2 null null null" \
	"latency off: no percentiles, no write sequentiality"
read -r -a c < <("$DMPSTAT" -d lat | grep '^lat ')
assert_eq "${c[11]} ${c[14]} ${c[15]}" "- - -" "table without writes or timing"
dm_remove lat
dm_remove dly

# --- devices removed and created, a reset, while it runs
bg "$DMPSTAT" -j 1 >"$DMP_TMP/ch.json" 2>"$DMP_TMP/ch.err"
pid=$!
wait_lines "$DMP_TMP/ch.json" 2
dm_remove ds2
wait_lines "$DMP_TMP/ch.json" $(($(lines_of "$DMP_TMP/ch.json") + 2))
dmp_create ds3 "$dev2"
id3=$(dm_devt ds3)
dd if="$(dm_node ds3)" of=/dev/null bs=4k count=5 iflag=direct status=none
wait_lines "$DMP_TMP/ch.json" $(($(lines_of "$DMP_TMP/ch.json") + 2))
# ds1 has hundreds of reads: after a reset and 3 reads it is lower
echo 1 >"$d1/reset"
dd if="$(dm_node ds1)" of=/dev/null bs=4k count=3 iflag=direct status=none
wait_lines "$DMP_TMP/ch.json" $(($(lines_of "$DMP_TMP/ch.json") + 2))
kill -INT $pid
rc=0
wait $pid || rc=$?
assert_eq "$rc" 0 "dmpstat's exit status after SIGINT"
cat "$DMP_TMP/ch.err"
assert_eq "$(grep -c "device ds2 ($id2) removed" "$DMP_TMP/ch.err")" 1 "note: ds2 removed"
assert_eq "$(grep -c "device ds3 ($id3) appeared" "$DMP_TMP/ch.err")" 1 "note: ds3 appeared"
assert_eq "$(grep -c "counters of ds1 ($id1) were reset" "$DMP_TMP/ch.err")" 1 "note: ds1 reset"
assert_eq "$(lines_of "$DMP_TMP/ch.err")" 3 "notes"
# which reports show which device: ds2 first, then ds3, never both; the reads
# of ds3; of ds1 from the reset on; of all (never reset) since the start
assert_eq "$(jq -s -r '(map([.devices[].device] | join(" ")) | reduce .[] as $x ([]; if .[-1] == $x then . else . + [$x] end) | join("|")),
	([.[].devices[] | select(.device == "ds3") | .read_reqs] | add),
	([.[].devices[] | select(.device == "ds1")] | (map(.reset) | index(true)) as $i |
		"\(map(select(.reset)) | length) \(.[$i:] | map(.read_reqs) | add)"),
	([.[].devices[] | select(.device == "all") | .read_reqs] | add)' "$DMP_TMP/ch.json" | tr '\n' ,)" \
	"ds1 ds2 all|ds1 all|ds1 ds3 all,5,1 3,$(all_get read_reqs)," \
	"devices over time, reads of ds3, resets of ds1 and its reads since, reads of all"

# --- the module goes away: at start, and while dmpstat runs
bg "$DMPSTAT" -j 1 >"$DMP_TMP/rm.json" 2>"$DMP_TMP/rm.err"
pid=$!
wait_lines "$DMP_TMP/rm.json" 1
dm_remove ds3
dm_remove ds1
rmmod dmp
rc=0
wait $pid || rc=$?
assert_eq "$rc" 1 "dmpstat's exit status when the module goes away"
assert_eq "$(tail -n 1 "$DMP_TMP/rm.err")" "dmpstat: dmp module not loaded (no /sys/module/dmp/stat)" \
	"message when the module goes away"
jq -e . "$DMP_TMP/rm.json" >/dev/null || fail "a report is not JSON"
for args in "" "-j" "-j 1 2" "--prometheus" "-d all"; do
	# shellcheck disable=SC2086
	out=$(must_fail "$DMPSTAT" $args)
	assert_eq "$out" "dmpstat: dmp module not loaded (no /sys/module/dmp/stat)" "dmpstat $args without the module"
done
insmod "$DMP_KO"
assert_eq "$(sel)" "all/null" "after reloading"
