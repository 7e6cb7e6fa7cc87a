#!/bin/bash
# DESCRIPTION: dmpstat --prometheus: "promtool check metrics" accepts it;
# every counter and gauge of every device and of "all" equals sysfs, with
# the device and devt labels (a name with a quote and a backslash escaped);
# each histogram's buckets are the cumulative sums of the sysfs histogram,
# rising with le, +Inf = _count, _sum from the byte and nanosecond counters;
# dmp_resets_total, dmp_created_time_seconds and dmp_start_time_seconds are
# the directory's epoch (btime of /proc/stat + the CLOCK_BOOTTIME ns, to the
# millisecond), after a reset too; -d selects; --prometheus-file writes the
# same text atomically (mode 0644, no temporary file left) and rewrites it
# every INTERVAL.
. "$(dirname "$0")/lib.sh"

[ -x "$DMPSTAT" ] || fail "no $DMPSTAT (make tools)"
command -v promtool >/dev/null || fail "promtool is not installed (Debian: prometheus)"
# Names as they are, not mangled by dmsetup (for the quote and backslash).
export DM_DEFAULT_NAME_MANGLING_MODE=none

# promtool does look at what it checks: a counter without _total is refused.
printf '# HELP x_bytes X.\n# TYPE x_bytes counter\nx_bytes 1\n' >"$DMP_TMP/bad.prom"
must_fail promtool check metrics <"$DMP_TMP/bad.prom"

# Latency timing is off by default: the devices of this test are timed.
dmp_load
echo Y >/sys/module/dmp/parameters/latency
dev1=$(backing_dev 64)
dev2=$(backing_dev 64)
weird='pm"2\x'
dmp_create pm1 "$dev1"
dmp_create "$weird" "$dev2"
# pm1 is reset once (before its I/O): its start time is not its creation.
echo 1 >"$(stat_dir pm1)/reset"
assert_eq "$(stat_get pm1 resets)" 1 "resets of pm1"
run_fio "$DMP_TMP/1.json" --name=a --filename="$(dm_node pm1)" --direct=1 --ioengine=libaio \
	--iodepth=4 --rw=randrw --bssplit=512/10:4k/40:64k/30:256k/10:1m/10 --size=60m \
	--number_ios="$(scaled 300)" --fsync="$(scaled 20)" --randrepeat=0
dd if="$(dm_node "$weird")" of=/dev/null bs=16k count=256 iflag=direct status=none
blkdiscard -f -o 1m -l 2m "$(dm_node pm1)"

"$DMPSTAT" --prometheus >"$DMP_TMP/m.prom"
head -n 20 "$DMP_TMP/m.prom"
out=$(promtool check metrics <"$DMP_TMP/m.prom" 2>&1) || fail "promtool check metrics: $out"
assert_eq "$out" "" "promtool check metrics output"

# Every expected line must be there, exactly: written to $DMP_TMP/want,
# then looked up all at once (a process per line is slow in the guest).
want() { echo "$1" >>"$DMP_TMP/want"; }
scalars="dmp_read_requests_total dmp_write_requests_total dmp_read_bytes_total
dmp_write_bytes_total dmp_flush_requests_total dmp_discard_requests_total dmp_discard_bytes_total
dmp_read_errors_total dmp_write_errors_total dmp_read_sequential_requests_total
dmp_write_sequential_requests_total"	# stat fields 1-11, then in_flight (14)
# le of latency bucket b: 2^b us in seconds; of size bucket b: (1024 << b) - 1
mapfile -t lat_le < <(awk 'BEGIN { for (b = 0; b < 21; b++) printf "%.6f\n", 2 ^ b / 1e6 }')
btime=$(awk '$1 == "btime" { print $2 }' /proc/stat)
unix_ms() {	# NS: btime + CLOCK_BOOTTIME ns in Unix seconds, 3 decimals
	local ms=$((btime * 1000 + $1 / 1000000))
	printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
check_dev() {	# label-set stat-dir
	local lbl=$1 dir=$2 m i=0 kind dir2 h cum b le n ns
	local -a st
	read -r -a st <"$dir/stat"
	for m in $scalars; do
		want "$m{$lbl} ${st[i]}"
		i=$((i + 1))
	done
	want "dmp_in_flight_requests{$lbl} ${st[13]}"
	want "dmp_resets_total{$lbl} $(<"$dir/resets")"
	want "dmp_created_time_seconds{$lbl} $(unix_ms "$(<"$dir/created_ns")")"
	want "dmp_start_time_seconds{$lbl} $(unix_ms "$(<"$dir/reset_ns")")"
	for kind in lat size; do
		for dir2 in read write; do
			read -r -a h <"$dir/${dir2}_${kind}_hist"
			if [ $kind = lat ]; then m=dmp_${dir2}_latency_seconds; else m=dmp_${dir2}_size_bytes; fi
			cum=0
			n=${#h[@]}
			for ((b = 0; b < n; b++)); do
				cum=$((cum + h[b]))
				if [ $b -eq $((n - 1)) ]; then
					le=+Inf
				elif [ $kind = lat ]; then
					le=${lat_le[b]}
				else
					le=$(((1024 << b) - 1))
				fi
				want "${m}_bucket{$lbl,le=\"$le\"} $cum"
			done
			want "${m}_count{$lbl} $cum"
			if [ $kind = lat ]; then
				[ $dir2 = read ] && ns=${st[11]} || ns=${st[12]}
				want "${m}_sum{$lbl} $((ns / 1000000000)).$(printf %09d $((ns % 1000000000)))"
			else
				[ $dir2 = read ] && b=${st[2]} || b=${st[3]}
				want "${m}_sum{$lbl} $b"
				# quiescent: the size histogram counts every request
				[ $dir2 = read ] && n=${st[0]} || n=${st[1]}
				assert_eq "$cum" "$n" "$m count = ${dir2}_reqs {$lbl}"
			fi
		done
	done
}
check_dev "device=\"pm1\",devt=\"$(dm_devt pm1)\"" "$(stat_dir pm1)"
check_dev "device=\"pm\\\"2\\\\x\",devt=\"$(dm_devt "$weird")\"" "$(stat_dir "$weird")"
check_dev 'device="all"' "$DMP_STAT/all"
want "dmp_latency_timing_enabled{device=\"pm1\",devt=\"$(dm_devt pm1)\"} 1"
grep -vxFf "$DMP_TMP/m.prom" "$DMP_TMP/want" >"$DMP_TMP/missing" || true
[ ! -s "$DMP_TMP/missing" ] || fail "not in the output: $(head -n 5 "$DMP_TMP/missing")"
echo "ok: all $(wc -l <"$DMP_TMP/want") expected series and values are in the output"
assert_gt "$(stat_get pm1 flush_reqs)" 0 "flushes"
assert_gt "$(stat_get pm1 discard_reqs)" 0 "discards"

# Generic: buckets rise with le and end at +Inf = _count, for every series.
awk '
/^#/ { next }
{
	split($1, a, "{"); name = a[1]; lbl = a[2]; v = $2
	if (name ~ /_bucket$/) {
		base = substr(name, 1, length(name) - 7)
		le = lbl; sub(/.*le="/, "", le); sub(/".*/, "", le)
		key = base "{" lbl; sub(/,?le="[^"]*"/, "", key)
		if (key in last && (v < last[key] || (le != "+Inf" && le + 0 <= lastle[key] + 0))) {
			print "not rising: " $0; bad = 1
		}
		last[key] = v; lastle[key] = le
		if (le == "+Inf") inf[key] = v
		nb++
	} else if (name ~ /_count$/) {
		count[substr(name, 1, length(name) - 6) "{" lbl] = v
	}
}
END {
	for (k in count) if (!(k in inf) || inf[k] != count[k]) { print "+Inf != _count: " k; bad = 1 }
	printf "%d buckets in %d histograms\n", nb, length(count)
	exit bad
}' "$DMP_TMP/m.prom" || fail "histograms are not cumulative"
# 3 stat directories x 4 histograms
assert_eq "$(grep -c '_count{' "$DMP_TMP/m.prom")" 12 "histogram series"
assert_eq "$(grep -c '^# TYPE .* histogram$' "$DMP_TMP/m.prom")" 4 "histogram families"

# -d: only that device
"$DMPSTAT" --prometheus -d pm1 >"$DMP_TMP/pm1.prom"
promtool check metrics <"$DMP_TMP/pm1.prom" || fail "promtool on -d pm1"
assert_eq "$(grep -v '^#' "$DMP_TMP/pm1.prom" | grep -vc 'device="pm1"')" 0 "series of other devices with -d pm1"
assert_eq "$(grep -c '^dmp_read_requests_total' "$DMP_TMP/pm1.prom")" 1 "read_requests series with -d pm1"

# --prometheus-file: the same text, atomically, world-readable
tc=$DMP_TMP/textfile
mkdir "$tc"
umask 077
"$DMPSTAT" --prometheus-file "$tc/dmp.prom"
cmp "$tc/dmp.prom" "$DMP_TMP/m.prom" || fail "--prometheus-file differs from --prometheus"
assert_eq "$(stat -c %a "$tc/dmp.prom")" 644 "mode of the file"
ino=$(stat -c %i "$tc/dmp.prom")
"$DMPSTAT" --prometheus-file "$tc/dmp.prom" 0.2 3
assert_eq "$(ls -A "$tc")" dmp.prom "files in the collector directory"
[ "$(stat -c %i "$tc/dmp.prom")" != "$ino" ] || fail "the file was rewritten in place, not replaced"
echo "ok: rewritten by rename"
cmp "$tc/dmp.prom" "$DMP_TMP/m.prom" || fail "--prometheus-file differs from --prometheus"
out=$(must_fail "$DMPSTAT" --prometheus-file "$tc/nodir/dmp.prom")
assert_match "$out" "^dmpstat: cannot write $tc/nodir/dmp.prom: No such file" "unwritable path"
echo N >/sys/module/dmp/parameters/latency
