#!/bin/bash
# DESCRIPTION: dmptrace --iolog and replay: a mixed fio workload on dmp
# device X (random reads and writes of 4-128 KiB with fsyncs, a sequential
# writer, a trimmer) captured with --iolog: the iolog is fio's version 3
# with exactly the operations, offsets and lengths of fio's own I/O logs;
# "fio --read_iolog --replay_redirect" onto dmp device Y, with the original
# timing and without (replay_no_stall), gives Y exactly X's counters
# (requests, bytes, flushes, discards) and size histograms.  dmp-plot
# --trace draws the capture (text and JSON) as PNGs of the requested size,
# its time bins add up to X's counters, one PNG per device; an empty,
# malformed or missing capture fails with a message and writes nothing.
# The man page is groff -ww clean.
. "$(dirname "$0")/lib.sh"

[ -x "$DMPTRACE" ] || fail "no $DMPTRACE (make tools)"
[ -x "$DMP_PLOT" ] || fail "no $DMP_PLOT"
dmp_load
dmp_create rx "$(backing_dev 64)"
dmp_create ry "$(backing_dev 64)"
x=$(stat_dir rx)
y=$(stat_dir ry)
cd "$DMP_TMP" || exit

# --- the capture
n=$(scaled 300)
dt_start x -d rx -i "$DMP_TMP/x.iolog" -o "$DMP_TMP/x.txt"
dt_start xj -d rx -j -o "$DMP_TMP/x.json"
run_fio fio.json --direct=1 --ioengine=libaio --randrepeat=0 --filename="$(dm_node rx)" \
	--name=mix --rw=randrw --bssplit=4k/40:8k/20:16k/20:64k/10:128k/10 --iodepth=8 \
	--size=32m --number_ios="$n" --fsync=4 --write_iolog=mix.log \
	--name=seq --rw=write --bs=32k --offset=32m --size=4m --iodepth=2 --write_iolog=seq.log \
	--name=trim --rw=randtrim --bs=64k --offset=48m --size=8m --number_ios=16 --write_iolog=trim.log
dt_stop x
assert_eq "$DT_RC" 0 "dmptrace's exit status"
dt_stop xj
assert_eq "$(head -n 1 x.iolog)" "fio version 3 iolog" "the iolog's first line"
assert_eq "$(sed -n '2,3p' x.iolog | tr '\n' ' ')" "0 $(dm_node rx) add 0 $(dm_node rx) open " "add and open"
assert_eq "$(tail -n 1 x.iolog | cut -d' ' -f2-)" "$(dm_node rx) close" "close"
assert_eq "$(awk 'NR > 1 { print $2 }' x.iolog | sort -u)" "$(dm_node rx)" "files in the iolog"
assert_eq "$(awk 'NR > 1 { if ($1 + 0 < t) print; t = $1 + 0 }' x.iolog | wc -l)" 0 "timestamps going back"
# the operations: those of fio's own logs (where a sync has an offset)
ops() { awk 'NF == 5 { print $3, ($3 == "sync" ? "" : $4 " " $5) }' "$@" | sort; }
ops mix.log seq.log trim.log >want.ops
ops x.iolog >got.ops
cmp -s want.ops got.ops || { diff want.ops got.ops | head; fail "the iolog's operations differ from fio's I/O logs"; }
echo "ok: the iolog has fio's $(wc -l <want.ops) operations ($(grep -c '^read' want.ops) reads, $(grep -c '^write' want.ops) writes, $(grep -c '^sync' want.ops) syncs, $(grep -c '^trim' want.ops) trims)"
assert_gt "$(grep -c '^sync' want.ops)" 0 "syncs"
assert_gt "$(grep -c '^trim' want.ops)" 0 "trims"

# --- replay onto Y: X's counters and size histograms, with and without timing
# fio before 3.34 does not replay an iolog's trims (it says "bad ddir: 2"
# for each and replays the rest, axboe/fio#769): then compare all but discards.
counters() {	# stat-dir: the request counters (stat_req) and size histograms
	local -a r
	read -ra r <<<"$(stat_req "$1/stat")"
	[ "$trims" = 1 ] || r[5]=- r[6]=-
	echo "${r[*]} | $(<"$1/read_size_hist") | $(<"$1/write_size_hist")"
}
fv=$(fio --version | sed -n 's/^fio-\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
trims=1
if [ "${fv% *}" -lt 3 ] || { [ "${fv% *}" -eq 3 ] && [ "${fv#* }" -lt 34 ]; }; then
	trims=0
	log "fio ${fv/ /.} does not replay trims: discards left out of the comparison"
fi
want=$(counters "$x")
log "X: $want"
for mode in timed no_stall; do
	dmsetup message ry 0 reset
	args=()
	[ $mode = timed ] || args=(--replay_no_stall=1)
	run_fio "r-$mode.json" --name=replay --read_iolog=x.iolog --replay_redirect="$(dm_node ry)" \
		--direct=1 --ioengine=libaio --iodepth=8 "${args[@]}"
	assert_eq "$(counters "$y")" "$want" "Y's counters after the $mode replay"
	[ $trims = 1 ] || assert_eq "$(<"$y/discard_reqs")" 0 "Y's discards (trims not replayed)"
done

# --- dmp-plot --trace
png() {	# FILE WIDTH HEIGHT: the PNG signature and the IHDR chunk's size
	[ -s "$1" ] || fail "$1 not written"
	assert_eq "$(head -c 16 "$1" | od -An -tx1 | tr -d ' \n')" \
		89504e470d0a1a0a0000000d49484452 "PNG signature and IHDR of $1"
	assert_eq "$(od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4,
		$5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }')" "$2 $3" "pixel size of $1"
}
assert_eq "$("$DMP_PLOT" --trace x.txt -o x.png)" "dmp-plot: wrote x.png" "dmp-plot's message"
png x.png 1200 900
"$DMP_PLOT" --trace x.json -d rx -s 800,600 -o xj.png >/dev/null
png xj.png 800 600
mkdir def
(cd def && "$DMP_PLOT" --trace ../x.txt >/dev/null)
png def/dmp-rx-trace.png 1200 900
# the bins add up to X's reads, writes and their bytes, from text and from JSON
for f in x.txt x.json; do
	assert_eq "$("$DMP_PLOT" --trace $f -p | awk 'NR > 1 { r += $2; w += $3; rb += $4; wb += $5 }
		END { print r, w, rb, wb }')" \
		"$(cat "$x/read_reqs" "$x/write_reqs" "$x/read_bytes" "$x/write_bytes" | tr '\n' ' ' | sed 's/ $//')" \
		"dmp-plot -p --trace $f: reads, writes and bytes in the bins"
done
# two devices in a capture: one PNG each; -o then needs -d
awk 'NR > 1 && NR % 2 { $2 = "fake"; $3 = "254:99" } { print }' x.txt >two.txt
mkdir two
(cd two && "$DMP_PLOT" --trace ../two.txt) >two.msg
assert_eq "$(sort two.msg | tr '\n' ' ')" "dmp-plot: wrote dmp-fake-trace.png dmp-plot: wrote dmp-rx-trace.png " \
	"one PNG per device"
png two/dmp-fake-trace.png 1200 900
# errors: a message, status 1, no file
plot_fails() {	# message args...
	local want=$1 rc=0
	shift
	"$DMP_PLOT" "$@" >p.out 2>p.err || rc=$?
	assert_eq "$rc $(<p.err)" "1 $want" "dmp-plot $*"
	[ ! -e bad.png ] || fail "dmp-plot $* wrote bad.png"
}
: >empty.txt
printf '%s\n' "$(head -n 2 x.txt)" "garbage here" >bad.txt
plot_fails "dmp-plot: empty.txt has no requests (not a dmptrace capture?)" --trace empty.txt -o bad.png
plot_fails "dmp-plot: bad.txt:3: not a line of a dmptrace log" --trace bad.txt -o bad.png
plot_fails "dmp-plot: cannot read nosuch.txt" --trace nosuch.txt -o bad.png
plot_fails "dmp-plot: no device 'nosuch' in x.txt" --trace x.txt -d nosuch -o bad.png
plot_fails "dmp-plot: two.txt has 2 devices: choose one with -d, or leave -o out (one PNG each)" \
	--trace two.txt -o bad.png
plot_fails "dmp-plot: -t does not go with --trace" --trace x.txt -t size -o bad.png

# --- the man page
if command -v groff >/dev/null; then
	assert_eq "$(groff -ww -man -z -Tutf8 "$DMP_SRC/tools/dmptrace.1" 2>&1)" "" "groff -ww warnings in dmptrace.1"
else
	fail "groff is not installed (Debian: groff-base)"
fi
