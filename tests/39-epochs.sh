#!/bin/bash
# DESCRIPTION: epochs seen by the tools.  Between two readings of a running
# dmpstat (held with SIGSTOP), one device is reset and then does more I/O
# than it had before, another is removed and created again under the same
# name and number, then does more I/O: the next report of each counts
# exactly fio's I/O since (JSON counters, table and JSON rates), marked
# reset / recreated with the epoch of the sysfs files (resets, created_ns,
# reset_ns), over the time since the reset or creation, with one note each
# on stderr; "all" counts on.  dmpstat --prometheus: promtool accepts it,
# dmp_resets_total, dmp_created_time_seconds and dmp_start_time_seconds are
# the sysfs epoch in Unix time (/proc/stat btime + the CLOCK_BOOTTIME ns);
# the README's query, run by promtool over the two scrapes, leaves out the
# two devices whose counters went up across a new epoch (which rate() alone
# takes for traffic) and keeps "all".
# shellcheck disable=SC2154  # J_* are set by jload (eval)
. "$(dirname "$0")/lib.sh"

[ -x "$DMPSTAT" ] || fail "no $DMPSTAT (make tools)"
command -v promtool >/dev/null || fail "promtool is not installed (Debian: prometheus)"

# CLOCK_BOOTTIME in ns from /proc/uptime (which has 1/100 s, rounded down)
uptime_ns() {
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000000000 + 10#${up#*.} * 10000000))
}
# jload LINE DEV: device DEV's values in report LINE as J_<key>, and the
# report's own interval as J_report_interval
jload() {
	local v
	v=$(jq -r --arg d "$2" '"J_report_interval=\(.interval)",
		(.devices[] | select(.device == $d) | to_entries[] |
		"J_\(.key)=\(.value | tostring | @sh)")' <<<"$1") || fail "not JSON: $1"
	[[ $v == *J_device=* ]] || fail "no device $2 in: $1"
	unset "${!J_@}"
	eval "$v"
}
# check EXPR MESSAGE VAR=VALUE...: an awk condition
check() {
	local cond=$1 what=$2
	shift 2
	awk "${@/#/-v}" "BEGIN { exit !($cond) }" || fail "$what: $*"
	echo "ok: $what: $*"
}
wait_lines() {	# FILE N: until FILE has N lines
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l <"$1")" -lt "$2" ] || return 0
		sleep 0.1
	done
	fail "$1: fewer than $2 lines after 30 s"
}
stopped() {	# PID: until the process is stopped (state T)
	local i s
	for ((i = 0; i < 100; i++)); do
		s=$(awk '{ print $3 }' "/proc/$1/stat")
		[ "$s" != T ] || return 0
		sleep 0.05
	done
	fail "process $1 did not stop (state $s)"
}
# fio_rw NAME JSON IOS: IOS random 4-64 KiB reads and as many writes on NAME
# (two jobs, one report)
fio_rw() {
	run_fio "$2" --filename="$(dm_node "$1")" --direct=1 --ioengine=psync \
		--bssplit=4k/50:16k/25:64k/25 --size=32m --number_ios="$3" --randrepeat=0 \
		--group_reporting --name=r --rw=randread --name=w --rw=randwrite
	read -r FR FW FRB FWB < <(fio_get "$2" '.jobs[0] |
		[.read.total_ios, .write.total_ios, .read.io_bytes, .write.io_bytes] | @tsv')
}
# prom FILE METRIC LABELS: the value of one series
prom() {
	local v
	v=$(awk -v s="$2{$3}" '$1 == s { print $2 }' "$1")
	[ -n "$v" ] || fail "no $2{$3} in $1"
	echo "$v"
}
# unix_ms NS: btime + CLOCK_BOOTTIME ns as Unix seconds with 3 decimals
# (how README says dmp_*_time_seconds are computed)
unix_ms() {
	local ms=$((btime * 1000 + $1 / 1000000))
	printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
btime=$(awk '$1 == "btime" { print $2 }' /proc/stat)
epoch_of() {	# DIR: "resets created_ns reset_ns" of a stat directory
	local r c t
	read -r r <"$1/resets"
	read -r c <"$1/created_ns"
	read -r t <"$1/reset_ns"
	echo "$r $c $t"
}

# A stopped process does not act on SIGTERM: continue them before cleaning up.
pj= pt=
on_exit() {
	local rc=$?
	set +e
	kill -CONT $pj $pt 2>/dev/null
	(exit $rc)
	_cleanup
}
trap on_exit EXIT

dmp_load
dev1=$(backing_dev 64)
dev2=$(backing_dev 64)
dmp_create ep1 "$dev1"
dmp_create ep2 "$dev2"
id1=$(dm_devt ep1)
id2=$(dm_devt ep2)
d1=$DMP_STAT/$id1
d2=$DMP_STAT/$id2
l1="device=\"ep1\",devt=\"$id1\""
l2="device=\"ep2\",devt=\"$id2\""
n=$(scaled 100)

# --- the epoch before: some I/O on both
fio_rw ep1 "$DMP_TMP/a1.json" "$n"
fio_rw ep2 "$DMP_TMP/a2.json" "$n"
"$DMPSTAT" --prometheus >"$DMP_TMP/p1.prom"
read -r -a e1 < <(epoch_of "$d1")
read -r -a e2 < <(epoch_of "$d2")
read -r -a eall < <(epoch_of "$DMP_STAT/all")
assert_eq "${e1[0]} ${e1[2]} ${e2[0]} ${e2[2]}" "0 ${e1[1]} 0 ${e2[1]}" \
	"resets and reset_ns = created_ns of the new devices"

# Reading 1: the first report of two dmpstat processes, one JSON, one table;
# then they are stopped, so that everything below falls between it and
# their next reading (15 s later, or at once when they are continued after
# that).
bg "$DMPSTAT" -j -d ep1 -d ep2 -d all 15 2 >"$DMP_TMP/iv.json" 2>"$DMP_TMP/iv.err"
pj=$!
bg "$DMPSTAT" -d ep1 -d ep2 15 2 >"$DMP_TMP/iv.table" 2>"$DMP_TMP/iv.terr"
pt=$!
wait_lines "$DMP_TMP/iv.json" 1
wait_lines "$DMP_TMP/iv.table" 4	# header, ep1, ep2, blank line
kill -STOP $pj $pt
stopped $pj
stopped $pt
[ "$(wc -l <"$DMP_TMP/iv.json") $(wc -l <"$DMP_TMP/iv.table")" = "1 4" ] ||
	fail "a dmpstat took its second reading before it was stopped (a guest more than 15 s slow?)"
before=$(head -n 1 "$DMP_TMP/iv.json")
jload "$before" ep1
r1=$J_read_reqs w1=$J_write_reqs
assert_eq "$J_read_reqs $J_write_reqs $J_reset $J_resets $J_created_ns $J_reset_ns" \
	"$(fio_get "$DMP_TMP/a1.json" '.jobs[0] | "\(.read.total_ios) \(.write.total_ios)"') false ${e1[*]}" \
	"ep1 in reading 1: fio's I/O, its epoch"
jload "$before" ep2
r2=$J_read_reqs w2=$J_write_reqs

# ep1: reset, then 4 times as much I/O as before.  (A second after reading
# 1, so that the time since the reset is clearly shorter than the interval.)
sleep 1
t_reset=$(uptime_ns)
echo 1 >"$d1/reset"
fio_rw ep1 "$DMP_TMP/b1.json" $((4 * n))
fr1=$FR fw1=$FW frb1=$FRB fwb1=$FWB
# ep2: removed and created again, the same name, the same number; then 4
# times as much I/O.
dm_remove ep2
dmp_create ep2 "$dev2"
assert_eq "$(dm_devt ep2)" "$id2" "number of the new ep2"
fio_rw ep2 "$DMP_TMP/b2.json" $((4 * n))
fr2=$FR fw2=$FW frb2=$FRB fwb2=$FWB
[ "$fr1" -gt "$r1" ] && [ "$fw1" -gt "$w1" ] && [ "$fr2" -gt "$r2" ] && [ "$fw2" -gt "$w2" ] ||
	fail "not more I/O than before: ep1 $r1/$w1 -> $fr1/$fw1, ep2 $r2/$w2 -> $fr2/$fw2"
echo "ok: more I/O than before: ep1 $r1/$w1 -> $fr1/$fw1 reads/writes, ep2 $r2/$w2 -> $fr2/$fw2"
read -r -a f1 <"$d1/stat"
read -r -a f2 <"$d2/stat"
read -r -a n1 < <(epoch_of "$d1")
read -r -a n2 < <(epoch_of "$d2")
assert_eq "${f1[*]:0:4} ${f2[*]:0:4}" "$fr1 $fw1 $frb1 $fwb1 $fr2 $fw2 $frb2 $fwb2" "sysfs counts = fio's"
assert_eq "${n1[0]} ${n1[1]} ${f1[*]:19:3}" "1 ${e1[1]} ${n1[*]}" "ep1: one reset, same creation; stat's epoch"
[ "${n1[2]}" -gt "$t_reset" ] || fail "ep1's reset_ns ${n1[2]} before the reset ($t_reset)"
assert_eq "${n2[0]} ${n2[2]} ${f2[*]:19:3}" "0 ${n2[1]} ${n2[*]}" "new ep2: no reset; stat's epoch"
[ "${n2[1]}" -gt "${n1[2]}" ] || fail "created_ns of the new ep2 ${n2[1]} not after ep1's reset ${n1[2]}"
"$DMPSTAT" --prometheus >"$DMP_TMP/p2.prom"
t_cont=$(uptime_ns)
kill -CONT $pj $pt
rc=0
wait $pj || rc=$?
t_done=$(uptime_ns)	# after the JSON reading 2
wait $pt || rc=$?
assert_eq "$rc" 0 "exit status of both dmpstat"

# --- JSON: reading 2 counts from the new epoch on, exactly fio's I/O
assert_eq "$(wc -l <"$DMP_TMP/iv.json")" 2 "JSON reports"
after=$(tail -n 1 "$DMP_TMP/iv.json")
jload "$after" ep1
assert_eq "$J_reset $J_recreated $J_resets $J_created_ns $J_reset_ns" "true false ${n1[*]}" \
	"ep1 in reading 2: reset, not re-created, the sysfs epoch"
assert_eq "$J_read_reqs $J_write_reqs $J_read_bytes $J_write_bytes" "$fr1 $fw1 $frb1 $fwb1" \
	"ep1 in reading 2: fio's I/O since the reset"
# The rates are over the time since the reset: from reset_ns to a moment
# after dmpstat was continued and before it ended (/proc/uptime is rounded
# down: + 1/100 s), shorter than the report's interval.
check "t < rt && t >= (c - rs) / 1e9 && t <= (d + 1e7 - rs) / 1e9 && \
	r_s * t - r < 0.001 * t && r - r_s * t < 0.001 * t" \
	"ep1: interval since the reset, r/s = reads / it" t="$J_interval" rt="$J_report_interval" \
	c="$t_cont" d="$t_done" rs="${n1[2]}" r_s="$J_r_s" r="$fr1"
j1_rs=$J_r_s j1_sz=$J_rareq_sz
jload "$after" ep2
assert_eq "$J_devt $J_reset $J_recreated $J_resets $J_created_ns $J_reset_ns" "$id2 true true ${n2[*]}" \
	"ep2 in reading 2: re-created, the sysfs epoch"
assert_eq "$J_read_reqs $J_write_reqs $J_read_bytes $J_write_bytes" "$fr2 $fw2 $frb2 $fwb2" \
	"ep2 in reading 2: fio's I/O since it was created"
check "t < rt && t >= (c - cr) / 1e9 && t <= (d + 1e7 - cr) / 1e9 && \
	w_s * t - w < 0.001 * t && w - w_s * t < 0.001 * t" \
	"ep2: interval since the creation, w/s = writes / it" t="$J_interval" rt="$J_report_interval" \
	c="$t_cont" d="$t_done" cr="${n2[1]}" w_s="$J_w_s" w="$fw2"
jload "$after" all
assert_eq "$J_reset $J_recreated $J_resets $J_created_ns $J_reset_ns" "false false ${eall[*]}" \
	"all in reading 2: same epoch"
assert_eq "$J_read_reqs $J_write_reqs" "$((fr1 + fr2)) $((fw1 + fw2))" "all in reading 2: both fio runs"
cat "$DMP_TMP/iv.err"
grep -q "^dmpstat: counters of ep1 ($id1) were reset: this report counts the [0-9.]* s since$" "$DMP_TMP/iv.err" ||
	fail "no note of ep1's reset"
grep -q "^dmpstat: device ep2 ($id2) was removed and created again: this report counts the [0-9.]* s since it was created$" \
	"$DMP_TMP/iv.err" || fail "no note of ep2's re-creation"
assert_eq "$(wc -l <"$DMP_TMP/iv.err")" 2 "notes of the JSON dmpstat"

# --- the table: the same notes; ep1's rates within 5 % of the JSON ones
# (the two processes read at slightly different times after the reset;
# rates over the whole interval, from a difference with reading 1, would
# be far off), sizes the same
assert_eq "$(sed 's/[0-9.]* s since/X s since/' "$DMP_TMP/iv.terr")" \
	"$(sed 's/[0-9.]* s since/X s since/' "$DMP_TMP/iv.err")" "notes of the table"
read -r -a c < <(grep '^ep1 ' "$DMP_TMP/iv.table" | tail -n 1)
check "(t - j) ^ 2 <= (0.05 * j) ^ 2 && (ts - js) ^ 2 <= 0.0055 ^ 2" "table ep1 r/s, rareq-sz ~ JSON" \
	t="${c[2]}" j="$j1_rs" ts="${c[6]}" js="$j1_sz"

# --- Prometheus: the epoch in Unix time, the counters as in sysfs
for p in p1 p2; do
	out=$(promtool check metrics <"$DMP_TMP/$p.prom" 2>&1) || fail "promtool check metrics $p: $out"
done
echo "ok: promtool check metrics accepts both scrapes"
get() { prom "$DMP_TMP/$1.prom" "$2" "$3"; }
assert_eq "$(get p1 dmp_resets_total "$l1") $(get p1 dmp_created_time_seconds "$l1") $(get p1 dmp_start_time_seconds "$l1")" \
	"0 $(unix_ms "${e1[1]}") $(unix_ms "${e1[2]}")" "scrape 1: ep1's epoch"
assert_eq "$(get p2 dmp_resets_total "$l1") $(get p2 dmp_created_time_seconds "$l1") $(get p2 dmp_start_time_seconds "$l1")" \
	"1 $(unix_ms "${n1[1]}") $(unix_ms "${n1[2]}")" "scrape 2: ep1's epoch"
assert_eq "$(get p2 dmp_resets_total "$l2") $(get p2 dmp_created_time_seconds "$l2") $(get p2 dmp_start_time_seconds "$l2")" \
	"0 $(unix_ms "${n2[1]}") $(unix_ms "${n2[1]}")" "scrape 2: the new ep2's epoch"
for p in p1 p2; do
	assert_eq "$(get $p dmp_resets_total 'device="all"') $(get $p dmp_start_time_seconds 'device="all"')" \
		"${eall[0]} $(unix_ms "${eall[2]}")" "scrape ${p#p}: all's epoch"
done
assert_eq "$(get p2 dmp_read_requests_total "$l1") $(get p2 dmp_write_requests_total "$l2")" "$fr1 $fw2" \
	"scrape 2: ep1's reads, ep2's writes"
[ "$(get p2 dmp_read_requests_total "$l1")" -gt "$(get p1 dmp_read_requests_total "$l1")" ] ||
	fail "ep1's read counter did not go up across the reset"

# --- the README's query, by promtool over the two scrapes 15 s apart: rate()
# alone shows the devices' counters going up as traffic; the query leaves
# them out and keeps "all".
query='rate(dmp_read_requests_total[5m])
  unless on(device, devt) changes(dmp_start_time_seconds[5m]) > 0'
grep -qF "$query" "$DMP_SRC/README.md" || fail "README.md does not have the query"
series() {	# METRIC LABELS
	printf "      - series: '%s{%s}'\n        values: '%s %s'\n" "$1" "$2" \
		"$(get p1 "$1" "$2")" "$(get p2 "$1" "$2")"
}
{
	printf 'rule_files: []\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n'
	for l in "$l1" "$l2" 'device="all"'; do
		series dmp_read_requests_total "$l"
		series dmp_start_time_seconds "$l"
	done
	cat <<EOF
    promql_expr_test:
      - expr: count by (device) (rate(dmp_read_requests_total[5m]) > 0)
        eval_time: 15s
        exp_samples:
          - labels: '{device="ep1"}'
            value: 1
          - labels: '{device="ep2"}'
            value: 1
          - labels: '{device="all"}'
            value: 1
      - expr: changes(dmp_start_time_seconds[5m])
        eval_time: 15s
        exp_samples:
          - labels: '{$l1}'
            value: 1
          - labels: '{$l2}'
            value: 1
          - labels: '{device="all"}'
            value: 0
      - expr: count by (device) (${query//$'\n'/ })
        eval_time: 15s
        exp_samples:
          - labels: '{device="all"}'
            value: 1
EOF
} >"$DMP_TMP/rules-test.yml"
out=$(cd "$DMP_TMP" && promtool test rules rules-test.yml 2>&1) || {
	cat "$DMP_TMP/rules-test.yml"
	fail "promtool test rules: $out"
}
echo "ok: promtool test rules: rate() alone counts ep1 and ep2, the README's query only all"
