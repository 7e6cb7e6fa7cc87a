#!/bin/bash
# DESCRIPTION: table fuzzer: 2000 generated dmp tables (by ioctl; a sample
# again through dmsetup): wrong argument counts, empty and huge strings,
# offsets at and past 2^64, negative, hex, octal-looking, with trailing
# garbage, at and past the end of the device, misaligned on a 4K device,
# devices by path, number, link and stacked dmp, files, directories, char
# devices, absent and out-of-range numbers, a busy device, the device
# itself, a bad second segment, and random bytes.  A model of the
# documented rules predicts the outcome of most cases: each is accepted
# and works (its directory, link and table are right, a read lands where
# the table says and is counted) or is rejected with the predicted error
# and dmesg line; the rest are either rejected with a message or work.
# Nothing is left behind: no device, directory, link, holder or module
# reference.
. "$(dirname "$0")/lib.sh"

ncases=$(scaled 2000)
seed=${DMP_FUZZ_SEED:-18}
RANDOM=$seed

dev=$(backing_dev 8)
dev_t=$(<"/sys/block/${dev#/dev/}/dev")
sz=$(sectors_of "$dev")
truncate -s 8M "$DMP_TMP/4k.img"
dev4k=$(losetup -f --show --sector-size 4096 "$DMP_TMP/4k.img")
_loops+=("$dev4k")
sz4k=$(sectors_of "$dev4k")
busy_dev 8
busy=$BUSY
: >"$DMP_TMP/regular"
ln -s "$dev" "$DMP_TMP/link-to-dev"

dmb_start
dmb_ok stamp "$dev"
dmb_ok stamp "$dev4k"
# A live dmp device to stack on: sectors 1024.. of $dev.
dm_create fzbase "0 8192 dmp $dev_t 1024"
base_t=$(dm_devt fzbase)
dm_major=${base_t%%:*}

# What dmp's constructor says (after "device-mapper: table: M:m: ").
M_ARGC="err dmp: Invalid argument count: <device> [<offset>] (-EINVAL)"
M_OFF="err dmp: Invalid device offset (-EINVAL)"
M_END="err dmp: Target range exceeds the end of the device (-EINVAL)"
M_ALIGN="err dmp: Offset or length not aligned to the device's logical block size (-EINVAL)"
M_SELF="err dmp: Device cannot map onto itself (-ELOOP)"

# A table onto the device itself, in the four forms the cases use (by
# /dev/dm-N and by number on a live device; by number and by /dev/dm-N on
# a device without a table yet, whose disk does not exist): dmp's own check
# refuses the first three, before dm_get_device() (which on 6.1 lets the
# live ones through, and from 6.12 on refuses them with a bare EINVAL); the
# fourth names no device at all (no /dev/dm-N before the disk is added),
# and the errno is device-mapper's, as dm-linear shows it.
declare -a self_want=("$M_SELF" "$M_SELF" "$M_SELF")
dm_create fzself "0 8 linear $dev_t 0"
dmsetup create fzself-new --notable
_dm_names+=(fzself-new)
tn=$(dm_devt fzself-new)
linear_verdict reload fzself-new "/dev/dm-${tn#*:}"
[ "$VERDICT" != ok ] || fail "dm-linear accepts /dev/dm-${tn#*:} before it exists"
self_want[3]="err dmp: $(dmp_lookup_msg "$VERDICT")"
dm_remove fzself-new
dm_remove fzself

# Devices: text, then "ok SIZE STAMP LBS DEVT" or "err MESSAGE".
declare -a dtxt dwhat
adddev() { dtxt+=("$1"); dwhat+=("$2"); }
ok512="ok $sz 0 512 $dev_t"
adddev "$dev" "$ok512"
adddev "$dev_t" "$ok512"
adddev "0${dev_t%%:*}:00${dev_t#*:}" "$ok512"
adddev "$DMP_TMP/link-to-dev" "$ok512"
adddev "/dev/mapper/fzbase" "ok 8192 1024 512 $base_t"
adddev "$base_t" "ok 8192 1024 512 $base_t"
adddev "/dev/dm-${base_t#*:}" "ok 8192 1024 512 $base_t"
adddev "$dev4k" "ok $sz4k 0 4096 $(<"/sys/block/${dev4k#/dev/}/dev")"
nok=${#dtxt[@]}		# the good ones come first
# The bad ones: dmp passes on dm_get_device()'s errno, which is the
# kernel's (6.1: ENODEV for any path that is no block device; 6.12:
# ENOENT, ENOTBLK), with its own message.  device-mapper's verdict on each,
# through dm-linear, is the model's (tests/lib.sh: linear_verdict).
for d in /dev/null /dev/zero "$DMP_TMP" "$DMP_TMP/regular" /dev/dmp18-no-such-device \
	4096:0 7:1048576 -1:0 4095:0 "$dm_major:1048575" "$busy"; do
	linear_verdict create fzlin "$d"
	[ "$VERDICT" != ok ] || fail "device-mapper accepts $d"
	adddev "$d" "err dmp: $(dmp_lookup_msg "$VERDICT")"
done
ndev=${#dtxt[@]}

# Offsets: text, then "ok VALUE", "big" (parses, >= 2^62) or "bad".
declare -a otxt owhat
addoff() { otxt+=("$1"); owhat+=("$2"); }
for o in 18446744073709551615 18446744073709551608 9223372036854775808 \
	4611686018427387904 000000000000000000000004611686018427387904; do
	addoff "$o" big
done
addoff 00000000000000000000000000008 "ok 8"
for o in 18446744073709551616 99999999999999999999 -1 -0 +8 0x8 0X10 8x x8 1e3 1.0 \
	'８' '٨' 0o10 8: :8 '8,' "8'" '$8' '%s%n' '9%' '0b1'; do
	addoff "$o" bad
done
noff_fixed=${#otxt[@]}

# A random offset for a device of SIZE sectors: mostly valid, near the
# interesting places (0, the end, aligned or not), sometimes written with
# leading zeros.  Sets OTXT and OWHAT.
rand_off() {
	local size=$1 v
	case $((RANDOM % 10)) in
	0|1)	v=0 ;;
	2)	v=$((size - 1 - RANDOM % 16)) ;;
	3)	v=$size ;;
	4)	v=$((size + RANDOM % 100)) ;;
	5)	v=$(((RANDOM << 30) + (RANDOM << 15) + RANDOM)) ;;
	*)	v=$((RANDOM % size)) ;;
	esac
	[ "$v" -ge 0 ] || v=0
	OTXT=$v
	((RANDOM % 4)) || OTXT=0$v
	OWHAT="ok $v"
}

# HEX[B]: the printf escape of byte B (TAB and newline as blanks).
HEX=()
for ((i = 0; i < 256; i++)); do
	printf -v HEX[i] '\\x%02x' "$i"
done
HEX[9]=' ' HEX[10]=' '
# repeat TEXT N: TEXT N times, in $REP.
repeat() {
	REP=$1
	while ((${#REP} < ${#1} * $2)); do
		REP+=$REP
	done
	REP=${REP:0:${#1} * $2}
}

# gen_case K: the case's fields in C_* and its predicted outcome in
# C_WANT: "ok STAMP LBS DEVT OFF" (stamp of its first sector), "err TEXT"
# (the dmesg line after "device-mapper: table: M:m: "), "self", or "any".
gen_case() {
	local r=$((RANDOM % 100)) d w size base lbs devt off oval extra n i s
	C_START=0 C_TYPE=dmp C_PRE=() C_WANT=any C_LEN=8 C_PARAMS=
	if ((r < 3)); then
		C_WANT=self C_LEN=$((8 + RANDOM % 64))
		return
	fi
	if ((r < 70)); then
		# Modelled: a device, maybe an offset, maybe extra arguments.
		d=$((RANDOM % ndev))
		((RANDOM % 2)) || d=$((RANDOM % nok))
		read -r w size base lbs devt <<<"${dwhat[d]}"
		[ "$w" = ok ] || { size=$sz base=0 lbs=512; }
		if ((RANDOM % 5 == 0)); then
			i=$((RANDOM % noff_fixed))
			OTXT=${otxt[i]} OWHAT=${owhat[i]}
		else
			rand_off "$size"
			((RANDOM % 8)) || OTXT=
		fi
		C_PARAMS="${dtxt[d]}${OTXT:+ $OTXT}"
		n=2
		[ -n "$OTXT" ] || n=1
		if ((RANDOM % 12 == 0)); then
			# Extra arguments: at least 3 in all (a lone extra one would
			# be an offset).
			extra=$((1 + RANDOM % 3))
			((n == 2 || extra > 1)) || extra=2
			for ((i = 0; i < extra; i++)); do
				C_PARAMS+=" $((RANDOM % 9))"
			done
			n=$((n + extra))
		fi
		if ((RANDOM % 25 == 0)); then
			C_PARAMS= n=0
		fi
		# A length: to the end, a random part, one sector, past the end, zero.
		read -r _ oval <<<"$OWHAT"
		[ -n "$OTXT" ] || oval=0
		case $((RANDOM % 16)) in
		0|1|2|3) C_LEN=$((size - ${oval:-0})) ;;
		4|5)	C_LEN=$((size - ${oval:-0} + 1 + RANDOM % 16)) ;;
		6|7)	C_LEN=$((1 + RANDOM % 8)) ;;
		8)	C_LEN=$(((RANDOM << 24) + 1)) ;;
		9)	C_LEN=0 ;;
		*)	C_LEN=$((1 + RANDOM % (size - ${oval:-0} > 0 ? size - ${oval:-0} : 1))) ;;
		esac
		((C_LEN >= 0)) || C_LEN=$((1 + RANDOM % 64))
		oval=${oval:-0}
		# The documented rules, in the order the constructor checks them.
		if ((C_LEN == 0)); then
			C_WANT="err zero-length target"
		elif ((n < 1 || n > 2)); then
			C_WANT=$M_ARGC
		elif [ -n "$OTXT" ] && [ "${OWHAT%% *}" = bad ]; then
			C_WANT=$M_OFF
		elif [ "$w" != ok ]; then
			C_WANT=${dwhat[d]}
		elif [ -n "$OTXT" ] && [ "$OWHAT" = big ]; then
			C_WANT=$M_END
		elif ((oval + C_LEN > size)); then
			C_WANT=$M_END
		elif ((lbs == 4096 && ((oval | C_LEN) & 7))); then
			C_WANT=$M_ALIGN
		else
			C_WANT="ok $((base + oval)) $lbs $devt $oval"
		fi
		# Sometimes as the second segment, after a good one.
		if ((RANDOM % 10 == 0)); then
			C_PRE=(0 64 dmp "$dev_t 0")
			C_START=64
		fi
		return
	fi
	# Unmodelled: anything goes.
	case $((r % 10)) in
	0)	# random bytes (no TAB or newline: dmbatch's separators)
		n=$((1 + RANDOM % 200))
		s=
		for ((i = 0; i < n; i++)); do
			s+=${HEX[1 + RANDOM % 255]}
		done
		printf -v C_PARAMS "$s" ;;
	1)	# huge strings
		n=$((1 << (8 + RANDOM % 9)))
		case $((RANDOM % 3)) in
		0)	repeat a "$n"; C_PARAMS=/$REP ;;
		1)	repeat 9 "$n"; C_PARAMS="$dev $REP" ;;
		2)	repeat 0 "$n"; C_PARAMS="$dev 0$REP" ;;
		esac ;;
	2)	# many arguments
		repeat ' 0' $((3 + RANDOM % 2000))
		C_PARAMS=$dev$REP ;;
	3)	# odd device spellings
		s=(7:0x "${dev_t}x" "${dev_t}:0" ":" "${dev_t%%:*}:" ":${dev_t#*:}" 0:0
			"//dev//${dev#/dev/}" "/dev/./${dev#/dev/}" "/dev/../dev/${dev#/dev/}"
			"${dev}/" "${dev#/dev/}" "~" "*" "." ".." "/" "/dev" "/proc/self/fd/0"
			"/dev/mapper/control" "/dev/kmsg" "/sys/block/${dev#/dev/}" "%s%s%n"
			"${dev}\\ " "\\${dev}" '\' "${dev} \\8" "$dev 8\\")
		C_PARAMS=${s[RANDOM % ${#s[@]}]}
		((RANDOM % 2)) || C_PARAMS+=" $((RANDOM % 64))" ;;
	4)	# whitespace other than blanks between and around the arguments
		s=($'\v' $'\f' $'\r' '  ')
		C_PARAMS="${s[RANDOM % 4]}$dev${s[RANDOM % 4]}$((RANDOM % 64))${s[RANDOM % 4]}" ;;
	5)	# another type name, or a gap before the target
		if ((RANDOM % 4 == 0)); then
			s=(DMP "dmp " dmpx linear2)
			C_TYPE=${s[RANDOM % 4]}
		else
			C_START=$((1 + RANDOM % 64))
		fi
		C_PARAMS="$dev 0" ;;
	6)	# lengths at the limits of device-mapper itself
		s=(1 18014398509481983 18014398509481984 4611686018427387903 9223372036854775807)
		C_LEN=${s[RANDOM % ${#s[@]}]}
		C_PARAMS="$dev 0" ;;
	*)	# a good device with random offset text
		printf -v s '%x' $((RANDOM * RANDOM))
		s=("$s" "0$((RANDOM % 8))$((RANDOM % 8))" "$RANDOM$RANDOM$RANDOM$RANDOM$RANDOM"
			"$((RANDOM % 64)) " "-$RANDOM" "$RANDOM.$RANDOM" "${RANDOM}k" "0x$s")
		C_PARAMS="$dev ${s[RANDOM % ${#s[@]}]}" ;;
	esac
}

# Things that must be back to these after every batch and at the end.
residue() {
	local e
	shopt -s nullglob
	RESIDUE=
	for e in /sys/block/dm-* "$DMP_STAT"/* /sys/block/"${dev#/dev/}"/holders/* \
		/sys/block/"${dev4k#/dev/}"/holders/*; do
		RESIDUE+="${e##*/} "
	done
	shopt -u nullglob
	RESIDUE+="refcnt=$(<"/sys/module/dmp/refcnt")"
}
residue
base_residue=$RESIDUE

declare -a want res
declare -A tally
accepted=0 rejected=0 modelled=0 sampled=0
batch_start=0

# check_batch: the dmesg lines of the cases since the last batch.
check_batch() {
	local k msgs line
	declare -A got=()
	while IFS=$'\t' read -r k line; do
		got[$k]+="$line|"
	done < <(dmesg | awk '
		/ dmp-18: case [0-9]+$/ { k = $NF; next }
		/ dmp-18: dmsetup$/ { k = ""; next }
		k != "" && /device-mapper: table: [0-9]+:[0-9]+: / {
			sub(/.*device-mapper: table: [0-9]+:[0-9]+: /, ""); print k "\t" $0 }')
	for ((k = batch_start; k < $1; k++)); do
		msgs=${got[$k]:-}
		case ${res[k]} in
		ok)	[ -z "$msgs" ] || fail "case $k accepted, but dmesg says: $msgs" ;;
		err*)	[ -n "$msgs" ] || fail "case $k rejected (${res[k]}) without a message in dmesg"
			if [[ ${want[k]} == "err "* ]]; then
				[ "$msgs" = "${want[k]#err }|" ] ||
					fail "case $k: dmesg says '$msgs', expected '${want[k]#err }'"
			fi
			line=${msgs%%|*}
			line=${line%% (*}
			tally[${line:0:60}]=$((${tally[${line:0:60}]:-0} + 1)) ;;
		esac
	done
	batch_start=$1
	residue
	[ "$RESIDUE" = "$base_residue" ] || fail "after case $(($1 - 1)): left behind: '$RESIDUE', before: '$base_residue'"
}

# sample_dmsetup K: the same table through dmsetup: the same outcome.
sample_dmsetup() {
	local out ok=0
	echo "dmp-18: dmsetup" >/dev/kmsg
	out=$(dmsetup create fzs --table "$C_START $C_LEN $C_TYPE $C_PARAMS" 2>&1) && ok=1
	if [ $ok = 1 ]; then
		dmsetup remove fzs
		[ "${res[$1]}" = ok ] || fail "case $1: rejected by ioctl (${res[$1]}), accepted by dmsetup"
	else
		[ "${res[$1]}" != ok ] || fail "case $1: accepted by ioctl, dmsetup says: $out"
		# dmsetup's own parsing may refuse it first; if it reached the
		# kernel, it must report the same error.
		if [[ $out == *"ioctl on fzs"*"failed: "* ]]; then
			[[ $out == *"failed: ${res[$1]#err * }"* ]] ||
				fail "case $1: dmsetup says '$out', ioctl said '${res[$1]}'"
		fi
	fi
	sampled=$((sampled + 1))
}

start=$(date +%s)
for ((k = 0; k < ncases; k++)); do
	gen_case "$k"
	want[k]=$C_WANT
	[ "$C_WANT" = any ] || modelled=$((modelled + 1))
	name=fz-$k
	echo "dmp-18: case $k" >/dev/kmsg
	dmb_ok create "$name"
	_dm_names+=("$name")
	if [ "$C_WANT" = self ]; then
		# The device itself: live (dmp's own check), or without a table
		# yet (its disk does not exist until the first load completes).
		dmb_ok info "$name"
		read -r _ t _ <<<"$DMB"
		case $((k % 4)) in
		0)	C_PARAMS=/dev/dm-${t#*:} ;;
		1)	C_PARAMS="$t 0" ;;
		2)	C_PARAMS=$t ;;
		3)	C_PARAMS=/dev/dm-${t#*:} ;;
		esac
		want[k]=${self_want[k % 4]}
		if ((k % 4 < 2)); then
			dmb_ok load "$name" 0 8 dmp "$dev_t 0"
			dmb_ok resume "$name"
		fi
	fi
	dmb load "$name" "${C_PRE[@]}" "$C_START" "$C_LEN" "$C_TYPE" "$C_PARAMS"
	res[k]=$DMB
	if [ "$C_WANT" = self ] && [[ $DMB == ok* ]]; then
		dmb clear "$name"	# never resume a device onto itself: it hangs
		fail "case $k: the device accepted a table onto itself: $C_PARAMS"
	fi
	if [[ $DMB == ok* ]]; then
		dmb resume "$name"
		[[ $DMB == ok* ]] || fail "case $k: table accepted, resume failed: $DMB (params '$C_PARAMS', length $C_LEN)"
	fi
	if [ "${res[k]}" = ok ]; then
		accepted=$((accepted + 1))
		[[ ${want[k]} == ok* || ${want[k]} == any ]] ||
			fail "case $k: accepted, expected '${want[k]}': params '$C_PARAMS', length $C_LEN, start $C_START"
		dmb_ok info "$name"
		read -r _ t _ <<<"$DMB"
		dir=$DMP_STAT/$t
		[ -d "$dir" ] && [ "$DMP_STAT/$name" -ef "$dir" ] || fail "case $k: no directory or link"
		dmb_ok table "$name"
		tbl=${DMB#ok }
		tbl=${tbl##* | }
		read -r tstart tlen ttype tdev toff <<<"$tbl"
		[ "$tstart $tlen $ttype" = "$C_START $C_LEN dmp" ] || fail "case $k: table '$tbl'"
		if [[ ${want[k]} == ok* ]]; then
			read -r _ stamp lbs wdevt woff <<<"${want[k]}"
			[ "$tdev $toff" = "$wdevt $woff" ] || fail "case $k: table '$tbl', expected device $wdevt offset $woff"
		else
			# Unmodelled but accepted: derive the stamp from the table.
			lbs=512
			case $tdev in
			"$dev_t") stamp=$toff ;;
			"$base_t") stamp=$((1024 + toff)) ;;
			*)	stamp= ;;
			esac
		fi
		# One read at the start of the segment, of one logical block.
		bytes=$lbs
		((C_LEN * 512 >= bytes)) || bytes=$((C_LEN * 512))
		dmb read "$name" "$C_START" "$bytes"
		[[ $DMB == ok* ]] || fail "case $k: read: $DMB"
		[ -z "$stamp" ] || [ "$DMB" = "ok $stamp" ] ||
			fail "case $k: read landed at sector ${DMB#ok }, expected $stamp (table '$tbl')"
		read -r v <"$dir/read_reqs"
		[ "$v" = 1 ] || fail "case $k: read_reqs $v after one read"
		dmb_ok remove "$name"
		[ ! -e "$dir" ] && [ ! -L "$DMP_STAT/$name" ] || fail "case $k: directory or link left after remove"
	else
		rejected=$((rejected + 1))
		[[ ${want[k]} != ok* ]] ||
			fail "case $k: rejected ($DMB), expected accepted: params '$C_PARAMS', length $C_LEN, start $C_START"
		dmb_ok remove "$name"
	fi
	unset '_dm_names[-1]'
	# Every 40th case, if modelled, once more through dmsetup.
	if ((k % 40 == 0)) && [[ $C_WANT == ok* || $C_WANT == err* ]] && [ ${#C_PRE[@]} = 0 ]; then
		sample_dmsetup "$k"
	fi
	((k % 100 != 99)) || check_batch $((k + 1))
done
check_batch "$ncases"
secs=$(($(date +%s) - start))

log "$ncases cases (seed $seed) in ${secs}s: $accepted accepted and working, $rejected rejected" \
	"with a message; $modelled predicted by the model, $((ncases - modelled)) unmodelled; $sampled also through dmsetup"
for m in "${!tally[@]}"; do
	log "  ${tally[$m]}x $m"
done | sort -k2,2nr
echo "RESULT table-fuzz cases=$ncases accepted=$accepted rejected=$rejected modelled=$modelled dmsetup=$sampled seconds=$secs"
assert_gt "$accepted" $((ncases / 20)) "accepted cases"
assert_gt "$rejected" $((ncases / 4)) "rejected cases"

dm_remove fzbase
residue
assert_eq "$(cd "$DMP_STAT" && echo *)" all "entries of stat/ at the end"
kmemleak_clean "table fuzzer"
