#!/bin/bash
# DESCRIPTION: resetting counters: "echo 1 >reset" on one device and
# "dmsetup message <dev> 0 reset" on another zero every attribute of that
# device only, leave "all" as it was, and I/O after a reset is counted
# exactly (fio, /sys/block/dm-N/stat); bad reset inputs and bad messages fail
# with EINVAL and change nothing; all/reset zeroes "all" only; reset cannot
# be read and no read-only attribute can be written.  Epochs: a reset adds
# one to that node's resets and moves its reset_ns past every earlier epoch
# time (between two readings of /proc/uptime), keeps created_ns, and leaves
# every other node's epoch (all's for a device, the devices' for all) alone;
# the stat line and dmsetup status end with the same three values.
. "$(dirname "$0")/lib.sh"

# CLOCK_BOOTTIME in ns from /proc/uptime (which has 1/100 s, rounded down)
uptime_ns() {
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000000000 + 10#${up#*.} * 10000000))
}
# epoch DIR: "resets created_ns reset_ns" of DIR in $EP, checked against the
# last three fields of its stat line.
epoch() {
	local r c t
	local -a f
	read -r r <"$1/resets"
	read -r c <"$1/created_ns"
	read -r t <"$1/reset_ns"
	read -ra f <"$1/stat"
	EP="$r $c $t"
	[ "${f[*]:19:3}" = "$EP" ] || fail "${1##*/}: stat ends with '${f[*]:19:3}', the files say '$EP'"
}
# reset_moved DIR OLD-EP BEFORE AFTER WHAT: DIR's epoch is OLD-EP after one
# reset that happened between the uptimes BEFORE and AFTER (ns); $EP is the
# new epoch.
reset_moved() {
	local r c t
	read -r r c t <<<"$2"
	epoch "$1"
	local -a e
	read -ra e <<<"$EP"
	assert_eq "${e[0]} ${e[1]}" "$((r + 1)) $c" "${1##*/}: resets, created_ns after $5"
	[ "${e[2]}" -gt "$t" ] && [ "${e[2]}" -gt "$c" ] ||
		fail "${1##*/}: reset_ns ${e[2]} after $5 not past $t and created_ns $c"
	[ "${e[2]}" -ge "$3" ] && [ "${e[2]}" -lt $(($4 + 10000000)) ] ||
		fail "${1##*/}: reset_ns ${e[2]} after $5 not between the uptimes around it ($3, $4 ns)"
	echo "ok: ${1##*/}: reset_ns ${e[2]} after $5: past $t, between $3 and $4 ns"
}

dev=$(backing_dev 32)
half=$(($(sectors_of "$dev") / 2))
dmp_create rs-a "$dev" 0 "$half"
dmp_create rs-b "$dev" "$half" "$half"
a=$DMP_STAT/$(dm_devt rs-a)
b=$DMP_STAT/$(dm_devt rs-b)
all=$DMP_STAT/all
blk_a=/sys/dev/block/${a##*/}

# want STATLINE: in $WANT, what stat_snap shows for a directory whose stat
# line is STATLINE (the totals and averages derived from it).
want() {
	local r w rb wb f d db t tb
	read -r r w rb wb f d db <<<"$1"
	t=$((r + w))
	tb=$((rb + wb))
	WANT="read_reqs=$r write_reqs=$w total_reqs=$t read_bytes=$rb"
	WANT+=" write_bytes=$wb total_bytes=$tb read_avg_size=$((r ? rb / r : 0))"
	WANT+=" write_avg_size=$((w ? wb / w : 0)) total_avg_size=$((t ? tb / t : 0))"
	WANT+=" flush_reqs=$f discard_reqs=$d discard_bytes=$db stat=$1"
}

# add STATLINE STATLINE: the sum, field by field, in $SUM.
add() {
	local -a x y
	local i
	read -ra x <<<"$1"
	read -ra y <<<"$2"
	SUM=
	for i in 0 1 2 3 4 5 6; do
		SUM+="$((x[i] + y[i])) "
	done
	SUM=${SUM% }
}

# load NAME W R: W 4 KiB writes and an fsync (one empty flush), R 8 KiB
# reads, one 1 MiB discard; the stat line this adds is in $LOAD.
load() {
	local node=/dev/mapper/$1
	dd if=/dev/zero of="$node" bs=4k count="$2" oflag=direct conv=fsync status=none
	dd if="$node" of=/dev/null bs=8k count="$3" iflag=direct status=none
	# -f: no probe for signatures (which reads), no "are you sure" delay
	blkdiscard -f -o 0 -l 1M "$node" 2>"$DMP_TMP/blkdiscard.err" ||
		fail "blkdiscard: $(<"$DMP_TMP/blkdiscard.err")"
	LOAD="$3 $2 $(($3 * 8192)) $(($2 * 4096)) 1 1 1048576"
}

# try_write FILE TEXT: one write of TEXT; $ERR is the error text ("" if none).
try_write() {
	ERR=
	{ printf '%s' "$2" >"$1"; } 2>"$DMP_TMP/err" && return 0
	read -r ERR <"$DMP_TMP/err"
	ERR=${ERR##*: }
}

# unchanged WHAT: A, B and "all" still show exactly $exp_a, $exp_b, $exp_all,
# and the epochs $ep_a, $ep_b, $ep_all.
unchanged() {
	local d e
	for d in a b all; do
		e=exp_$d
		stat_snap "${!d}"
		want "${!e}"
		[ "$SNAP" = "$WANT" ] || fail "$d after $1: got '$SNAP', expected '$WANT'"
		e=ep_$d
		epoch "${!d}"
		[ "$EP" = "${!e}" ] || fail "epoch of $d after $1: got '$EP', expected '${!e}'"
	done
	echo "ok: after $1: rs-a [$exp_a] rs-b [$exp_b] all [$exp_all], epochs unchanged"
}

exp_all=$(stat_req "$all/stat")
zero="0 0 0 0 0 0 0"
# New devices: no reset yet, the counts began when they were created (after
# "all" was), A before B.
for d in a b all; do
	epoch "${!d}"
	printf -v "ep_$d" %s "$EP"
done
read -r _ ca ta <<<"$ep_a"
read -r _ cb tb <<<"$ep_b"
read -r _ call _ <<<"$ep_all"
assert_eq "${ep_a%% *} ${ep_b%% *} $ta $tb" "0 0 $ca $cb" "resets of rs-a, rs-b; their reset_ns = created_ns"
[ "$call" -lt "$ca" ] && [ "$ca" -lt "$cb" ] || fail "created_ns: all $call, rs-a $ca, rs-b $cb not in creation order"
echo "ok: created_ns: all $call < rs-a $ca < rs-b $cb"

# I/O on both; every counter moves.
load rs-a 3 2
exp_a=$LOAD
load rs-b 5 4
exp_b=$LOAD
add "$exp_all" "$exp_a"
add "$SUM" "$exp_b"
exp_all=$SUM
unchanged "the first I/O"

# Reset A through sysfs, then B through a message.
t0=$(uptime_ns)
echo 1 >"$a/reset"
t1=$(uptime_ns)
reset_moved "$a" "$ep_a" "$t0" "$t1" "echo 1 >rs-a/reset"
ep_a=$EP
exp_a=$zero
unchanged "echo 1 >rs-a/reset"
t0=$(uptime_ns)
dmsetup message rs-b 0 reset
t1=$(uptime_ns)
reset_moved "$b" "$ep_b" "$t0" "$t1" "dmsetup message rs-b 0 reset"
ep_b=$EP
[ "${ep_b##* }" -gt "${ep_a##* }" ] || fail "reset_ns of rs-b ${ep_b##* } not after rs-a's ${ep_a##* }"
exp_b=$zero
unchanged "dmsetup message rs-b 0 reset"
assert_eq "$(dmsetup status rs-b)" "0 $half dmp $(printf '0 %.0s' {1..19})$ep_b" "dmsetup status rs-b after reset"

# I/O after a reset is counted exactly: fio on A, a known load on B.
blk_read "$blk_a"
blk0=("${BLK[@]}")
run_fio "$DMP_TMP/a.json" --name=after-reset --filename=/dev/mapper/rs-a \
	--direct=1 --rw=randrw --rwmixread=50 --ioengine=psync \
	--bssplit=512/20:4k/40:64k/40 --size=8m --io_size="$(scaled 4)"m \
	--fsync=4 --randrepeat=0
read -r fr frb fw fwb fs < <(fio_get "$DMP_TMP/a.json" '.jobs[0] |
	[.read.total_ios, .read.io_bytes, .write.total_ios, .write.io_bytes, .sync.total_ios] | @tsv')
log "fio: $fr reads ($frb bytes), $fw writes ($fwb bytes), $fs fsyncs"
[ "$fr" -gt 0 ] && [ "$fw" -gt 0 ] && [ "$fs" -gt 0 ] || fail "fio did not read, write and fsync"
exp_a="$fr $fw $frb $fwb $fs 0 0"
load rs-b 2 3
exp_b=$LOAD
add "$exp_all" "$exp_a"
add "$SUM" "$exp_b"
exp_all=$SUM
unchanged "I/O after the resets"
# The block layer's view of A: an empty flush is a write of 0 sectors there.
blk_read "$blk_a"
assert_eq "$((BLK[1] - blk0[1])) $(((BLK[3] - blk0[3]) * 512))" "$fr $frb" \
	"rs-a dm stat reads, bytes read since the reset"
assert_eq "$((BLK[5] - blk0[5])) $(((BLK[7] - blk0[7]) * 512))" "$((fw + fs)) $fwb" \
	"rs-a dm stat writes (+ flushes), bytes written since the reset"

# Bad inputs to reset: EINVAL, nothing changes (A and B are not zero now).
for v in 0 2 yes "" "1 1" reset; do
	try_write "$a/reset" "$v"$'\n'
	assert_eq "$ERR" "Invalid argument" "error writing '$v\\n' to rs-a/reset"
	unchanged "'$v' written to rs-a/reset"
done
try_write "$all/reset" 0
assert_eq "$ERR" "Invalid argument" "error writing '0' to all/reset"
unchanged "'0' written to all/reset"

# Bad messages: an error, a warning in dmesg, nothing changes.
dmesg_mark
for m in "" Reset "reset 1" clear stats; do
	if out=$(dmsetup message rs-b 0 "$m" 2>&1); then
		fail "message '$m' accepted"
	fi
	assert_match "$out" "message ioctl on rs-b +failed: Invalid argument" "dmsetup message rs-b 0 '$m'"
	unchanged "message '$m'"
done
msgs=$(dmesg_since)
assert_match "$msgs" "device-mapper: ioctl: Empty message received" "dmesg for the empty message"
assert_eq "$(grep -c "dmp: ${b##*/}: unknown message: expected \"reset\" or \"latency on|off\"" <<<"$msgs")" 4 \
	"dmesg warnings for the 4 unknown messages"

# reset is write-only, everything else read-only, even for root.
for f in "$a/reset" "$all/reset"; do
	ERR=
	{ read -r x <"$f"; } 2>"$DMP_TMP/err" || read -r ERR <"$DMP_TMP/err"
	assert_eq "${ERR##*: }" "Permission denied" "error reading ${f#"$DMP_STAT"/}"
done
for f in "$a"/{read,write,total}_{reqs,bytes,avg_size} "$a"/{flush_reqs,discard_reqs,discard_bytes,stat,name} \
	"$all"/{read,write,total}_{reqs,bytes,avg_size} "$all"/{flush_reqs,discard_reqs,discard_bytes,stat}; do
	try_write "$f" $'0\n'
	assert_eq "$ERR" "Permission denied" "error writing ${f#"$DMP_STAT"/}"
done
unchanged "writes to read-only attributes"
assert_eq "$(<"$a/name")" rs-a "rs-a/name after the writes"

# all/reset zeroes "all" only ("1" without a newline); "all" counts on from
# there, and neither a device reset nor a removal lowers it.
t0=$(uptime_ns)
printf 1 >"$all/reset"
t1=$(uptime_ns)
reset_moved "$all" "$ep_all" "$t0" "$t1" "printf 1 >all/reset"
ep_all=$EP
[ "${ep_all##* }" -gt "${ep_b##* }" ] || fail "reset_ns of all ${ep_all##* } not after rs-b's ${ep_b##* }"
exp_all=$zero
unchanged "printf 1 >all/reset"
load rs-a 1 1
add "$exp_a" "$LOAD"
exp_a=$SUM
exp_all=$LOAD
unchanged "I/O after all/reset"
t0=$(uptime_ns)
echo 1 >"$a/reset"
t1=$(uptime_ns)
reset_moved "$a" "$ep_a" "$t0" "$t1" "a second echo 1 >rs-a/reset"
ep_a=$EP
[ "${ep_a##* }" -gt "${ep_all##* }" ] || fail "reset_ns of rs-a ${ep_a##* } not after all's ${ep_all##* }"
exp_a=$zero
unchanged "a reset of rs-a after all/reset"
dm_remove rs-b
exp_b=$exp_all		# rs-b is gone: compare "all" twice instead
ep_b=$ep_all
b=$all
unchanged "rs-b was removed"
