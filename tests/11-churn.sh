#!/bin/bash
# DESCRIPTION: churn: 300 cycles of create -> I/O -> remove of dmp devices,
# each with a new name and another offset, while fio runs on a steady dmp
# device and two readers loop over every file under /sys/module/dmp/stat.
# The readers only ever get a value or ENOENT/ENODEV; every churned device
# counts exactly the I/O sent to it (and /sys/block/dm-N/stat agrees), its
# reads land where its table says; its directory and link exist while it
# does and go with it; the steady device's counts equal fio's; and "all"
# grows by exactly the sum of everything issued on every device.
. "$(dirname "$0")/lib.sh"

cycles=$(scaled 300)
steady=$(backing_dev 64)
churn=$(backing_dev 16)
churn_t=$(<"/sys/block/${churn#/dev/}/dev")
dmb_start
dmb_ok stamp "$churn"

# The counters of "all" that the test checks, before anything runs.
counters="read_reqs write_reqs read_bytes write_bytes flush_reqs discard_reqs discard_bytes"
declare -A all0
for c in $counters; do
	all0[$c]=$(all_get "$c")
done

dmp_create steady "$steady"
steady_dir=$(stat_dir steady)
steady_blk=$(dm_block steady)

# Files a reader must not read (write-only: reset), from a device directory
# and "all" (the only ones that exist now).
wo=" $(stat_wo_files "$steady_dir" | tr '\n' ' ') $(stat_wo_files "$DMP_STAT/all" | tr '\n' ' ') "

# reader ID: read every readable file under stat/ (through the directories
# and the name links) until told to stop.  Builtins only.  A value must be
# one line of decimal numbers (name: any text, latency: on or off); an
# error must be ENOENT or ENODEV.  Tallies in $DMP_TMP/reader.ID.
reader() {
	local id=$1 f v good ok=0 gone=0 bad=0 passes=0
	exec 2>"$DMP_TMP/reader.$id.err"
	while [ ! -e "$DMP_TMP/stop" ]; do
		for f in "$DMP_STAT"/*/*; do
			[[ $wo != *" ${f##*/} "* ]] || continue
			v=
			if read -r v <"$f"; then
				case ${f##*/} in
				name)		good=1 ;;
				latency)	[[ $v == on || $v == off ]] && good=1 || good=0 ;;
				*)		[[ $v =~ ^[0-9]+( [0-9]+)*$ ]] && good=1 || good=0 ;;
				esac
				if [ $good -eq 0 ]; then
					echo "BAD VALUE: $f: '$v'" >&2
					bad=$((bad + 1))
				else
					ok=$((ok + 1))
				fi
			else
				gone=$((gone + 1))
			fi
		done
		passes=$((passes + 1))
	done
	echo "$passes $ok $gone $bad" >"$DMP_TMP/reader.$id"
}

# fio on the steady device, one short run after another until told to stop.
steady_fio() {
	local i=0
	while [ ! -e "$DMP_TMP/stop" ]; do
		run_fio "$DMP_TMP/steady.$i.json" --name=steady --filename="$(dm_node steady)" \
			--direct=1 --rw=randrw --rwmixread=50 --bssplit=4k/50:16k/25:64k/25 \
			--ioengine=libaio --iodepth=4 --size=64m --io_size=2m --randrepeat=0 \
			--disk_util=0	# (its scan of /sys/block trips over vanishing devices)
		i=$((i + 1))
	done
}

bg reader 1
pid_r1=$!
bg reader 2
pid_r2=$!
bg steady_fio
pid_fio=$!

names=(c@ churn.@ CHURN_@ x-@-y @ n@.@.@ very-long-name-of-a-churned-device-number-@)
exp_r=0 exp_w=0 exp_rb=0 exp_wb=0
start=$(date +%s)
for ((i = 0; i < cycles; i++)); do
	name=${names[i % ${#names[@]}]}
	name=${name//@/$i}-$RANDOM
	off=$(((i % 32) * 8))
	len=$((4096 + (i % 5) * 8))
	# Every 10th device through dmsetup itself, the others by ioctl.
	if ((i % 10 == 0)); then
		dm_create "$name" "0 $len dmp $churn_t $off"
	else
		_dm_names+=("$name")
		dmb_ok mk "$name" 0 "$len" dmp "$churn_t $off"
	fi
	dmb_ok info "$name"
	read -r _ t _ <<<"$DMB"
	dir=$DMP_STAT/$t
	[ -d "$dir" ] || fail "cycle $i: no $dir for $name"
	[ "$DMP_STAT/$name" -ef "$dir" ] || fail "cycle $i: link $name does not lead to $dir"
	blk=/sys/dev/block/$t

	# I/O: R reads of 4 KiB anywhere in the first half, each checked to
	# land at OFF + its sector; W writes of 8 KiB near the end, where no
	# later device reads (its reads end before sector 248 + 2068).
	r=$((1 + i % 3)) w=$((i % 4))
	for ((k = 0; k < r; k++)); do
		s=$(((i * 7 + k * 13) % (len / 2 - 8)))
		dmb_ok read "$name" "$s" 4096
		[ "$DMB" = "ok $((off + s))" ] || fail "cycle $i: read of sector $s of $name got stamp '${DMB#ok }', expected $((off + s))"
	done
	for ((k = 0; k < w; k++)); do
		dmb_ok write "$name" $((len - 64 + k * 16)) 8192
	done
	stat_snap "$dir"
	want="read_reqs=$r write_reqs=$w total_reqs=$((r + w)) read_bytes=$((r * 4096)) write_bytes=$((w * 8192))"
	[[ $SNAP == "$want "* ]] || fail "cycle $i: $name: got '$SNAP', expected '$want ...'"
	blk_read "$blk"
	[ "${BLK[1]} ${BLK[3]} ${BLK[5]} ${BLK[7]}" = "$r $((r * 8)) $w $((w * 16))" ] ||
		fail "cycle $i: $name: /sys/block stat reads, sectors, writes, sectors: ${BLK[*]:1:7}"
	exp_r=$((exp_r + r)) exp_w=$((exp_w + w))
	exp_rb=$((exp_rb + r * 4096)) exp_wb=$((exp_wb + w * 8192))

	if ((i % 10 == 0)); then
		dm_remove "$name"
	else
		dmb_ok remove "$name"
		unset '_dm_names[-1]'
	fi
	[ ! -e "$dir" ] || fail "cycle $i: $dir still there after removing $name"
	if [ -e "$DMP_STAT/$name" ] || [ -L "$DMP_STAT/$name" ]; then
		fail "cycle $i: link $name still there after remove"
	fi
done
secs=$(($(date +%s) - start))
touch "$DMP_TMP/stop"
wait "$pid_fio" || fail "fio on the steady device failed"
wait "$pid_r1" || fail "reader 1 failed"
wait "$pid_r2" || fail "reader 2 failed"
log "$cycles cycles in ${secs}s"

# The readers: values or ENOENT/ENODEV, nothing else.
for id in 1 2; do
	read -r passes ok gone bad <"$DMP_TMP/reader.$id"
	log "reader $id: $passes passes, $ok values, $gone reads failed"
	other=$(grep -v -e 'No such file or directory$' -e 'No such device$' "$DMP_TMP/reader.$id.err" | head -n 5 || true)
	[ -z "$other" ] || fail "reader $id: $other"
	assert_eq "$bad" 0 "reader $id: malformed values"
	assert_gt "$passes" 0 "reader $id: passes over stat/"
done
errs=$(cat "$DMP_TMP"/reader.*.err | sed 's/.*: //' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
log "errors seen by the readers: ${errs:-none}"

# The steady device: what fio issued, in every run together.
read -r fr fw frb fwb runs < <(jq -s -r '[(map(.jobs[0].read.total_ios) | add),
	(map(.jobs[0].write.total_ios) | add), (map(.jobs[0].read.io_bytes) | add),
	(map(.jobs[0].write.io_bytes) | add), length] | @tsv' "$DMP_TMP"/steady.*.json)
log "steady: $runs fio runs: read $fr ios / $frb bytes, write $fw ios / $fwb bytes"
assert_gt "$runs" 0 "fio runs on the steady device"
stat_snap "$steady_dir"
assert_match "$SNAP" "^read_reqs=$fr write_reqs=$fw total_reqs=$((fr + fw)) read_bytes=$frb write_bytes=$fwb " \
	"steady counters vs fio"
blk_read "$steady_blk"
assert_eq "${BLK[1]} ${BLK[5]} $((BLK[3] * 512)) $((BLK[7] * 512))" "$fr $fw $frb $fwb" "steady /sys/block stat vs fio"

# "all" grew by exactly everything: the steady device and every churned one.
declare -A add=([read_reqs]=$((fr + exp_r)) [write_reqs]=$((fw + exp_w))
	[read_bytes]=$((frb + exp_rb)) [write_bytes]=$((fwb + exp_wb))
	[flush_reqs]=0 [discard_reqs]=0 [discard_bytes]=0)
for c in $counters; do
	assert_eq "$(($(all_get "$c") - all0[$c]))" "${add[$c]}" "growth of all/$c (fio on steady + I/O on $cycles churned devices)"
done

# Nothing of the churned devices is left.
assert_eq "$(cd "$DMP_STAT" && echo *)" "$(basename "$steady_dir") all steady" "entries of stat/"
