#!/bin/bash
# DESCRIPTION: "dmsetup message" and the sysfs reset files fuzzed: several
# hundred generated inputs each (near misses of "reset" and "1", blanks,
# escapes, other words, '@' messages for device-mapper itself, other
# sectors, huge and random bytes).  Only the documented inputs act: the
# message that device-mapper splits into the one word "reset" (sent to any
# sector of the device) and a write of "1" or "1\n" to reset.  Each of
# those zeroes that device's counters (or "all"'s) and nothing else; every
# other input fails (EINVAL, or E2BIG past a page) and changes no value of
# any attribute of any directory.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C		# bytes, not characters

nrandom=$(scaled 500)
RANDOM=${DMP_FUZZ_SEED:-19}
dev=$(backing_dev 16)
dev_t=$(<"/sys/block/${dev#/dev/}/dev")
dm_create ms-a "0 8192 dmp $dev_t 0
8192 8192 dmp $dev_t 8192"
dm_create ms-b "0 8192 dmp $dev_t 16384"
dir_a=$(stat_dir ms-a)
dir_b=$(stat_dir ms-b)
dir_all=$DMP_STAT/all
files_a=$(stat_files "$dir_a")
files_all=$(stat_files "$dir_all")
dmb_start

# snap: every readable attribute of the three directories, in $S_A, $S_B
# and $S_ALL, and all of them in $SNAPALL.
snap() {
	local f v
	S_A= S_B= S_ALL=
	for f in $files_a; do
		read -r v <"$dir_a/$f"
		S_A+="$f=$v "
		read -r v <"$dir_b/$f"
		S_B+="$f=$v "
	done
	for f in $files_all; do
		read -r v <"$dir_all/$f"
		S_ALL+="$f=$v "
	done
	SNAPALL="a: $S_A b: $S_B all: $S_ALL"
}
# zeroed DIR: the documented counters of DIR are all 0, and so are the
# counts of its stat line (its first 19 fields; then come the epoch's
# resets and times).
zeroed() {
	local f v
	local -a s
	for f in $DMP_COUNTERS; do
		read -r v <"$1/$f"
		[ "$v" = 0 ] || return 1
	done
	read -ra s <"$1/stat"
	[[ ${s[*]:0:19} =~ ^0( 0)*$ ]]
}
# dirty: counts on both devices (and so in "all").
dirty() {
	dmb_ok read ms-a 0 4096
	dmb_ok read ms-a 8200 512
	dmb_ok read ms-b 16 4096
}

# The model of device-mapper's argument splitting (dm_split_args): tokens
# separated by the kernel's isspace() (which includes 0xa0), a backslash
# quotes the next character.  Sets ARGV.
dm_split() {
	local s=$1 i=0 n=${#1} c tok= in=0
	ARGV=()
	while ((i < n)); do
		c=${s:i:1}
		if [[ $c == [$' \t\n\v\f\r\xa0'] ]]; then
			((in)) && ARGV+=("$tok")
			tok= in=0 i=$((i + 1))
			continue
		fi
		if [[ $c == '\' ]] && ((i + 1 < n)); then
			tok+=${s:i+1:1}
			i=$((i + 2))
		else
			tok+=$c
			i=$((i + 1))
		fi
		in=1
	done
	((in)) && ARGV+=("$tok")
	return 0
}

# random_bytes N: N random bytes other than NUL, TAB and newline (which
# dmbatch's command lines cannot carry), as printf escapes, in $RB.
HEX=()
for ((i = 0; i < 256; i++)); do
	printf -v HEX[i] '\\x%02x' "$i"
done
HEX[9]='\x20' HEX[10]='\x20'
random_bytes() {
	local i
	RB=
	for ((i = 0; i < $1; i++)); do
		RB+=${HEX[1 + RANDOM % 255]}
	done
}
# mutate WORD: WORD with one character replaced, inserted, deleted, its
# case changed, or blanks/escapes added, as printf escapes, in $MUT.
mutate() {
	local w=$1 p=$((RANDOM % (${#1} + 1))) c
	printf -v c '\\x%02x' $((33 + RANDOM % 94))
	case $((RANDOM % 7)) in
	0)	MUT=${w:0:p}$c${w:p+1} ;;
	1)	MUT=${w:0:p}$c${w:p} ;;
	2)	MUT=${w:0:p}${w:p+1} ;;
	3)	MUT=${w^^} ;;
	4)	MUT="${w:0:p}\\x5c${w:p}" ;;
	5)	MUT="\\x20$w\\x0b" ;;
	6)	MUT="$w\\x20$w" ;;
	esac
}

dirty
acted=0 refused=0 core=0

# message FMT SECTOR: send the message (printf format FMT) to ms-a.
message() {
	local text
	printf -v text -- "$1"
	snap
	local before=$SNAPALL b=$S_B all=$S_ALL
	dmb message ms-a "$2" "$text"
	dm_split "$text"
	# Sectors are numbers below 10^9 or 2^64-1 here.
	if [ ${#ARGV[@]} = 1 ] && [ "${ARGV[0]}" = reset ] && ((${#2} < 10 && $2 < 16384)); then
		[ "$DMB" = ok ] || fail "message '$1' at $2: $DMB, expected ok"
		zeroed "$dir_a" || fail "message '$1' at $2: ms-a not zeroed"
		snap
		[ "$S_B$S_ALL" = "$b$all" ] || fail "message '$1': ms-b or all changed"
		acted=$((acted + 1))
		dirty
		return
	fi
	if [ ${#ARGV[@]} -gt 0 ] && [ "${ARGV[0]:0:1}" = @ ]; then
		core=$((core + 1))	# device-mapper's own: any answer
	else
		[ "${DMB:0:6}" = "err 22" ] || fail "message '$1' at $2: '$DMB', expected EINVAL"
		refused=$((refused + 1))
	fi
	snap
	[ "$SNAPALL" = "$before" ] || fail "message '$1' at $2 changed counters"
}

start=$(date +%s)
for fmt in reset ' reset' 'reset ' '\vreset\f' '\rreset' '  reset  ' 're\x5cset' \
	'\x5creset' '\xa0reset' 'reset\xa0' '' ' ' '\v' Reset RESET 'reset 1' \
	'reset reset' 'reset\x5c ' 'reset\x5c' rese resett clear stats 0 1 reset=1 \
	-reset 'reset;' '"reset"' "'reset'" '@reset' '@stats_list' \
	'@cancel_deferred_remove' 'r e s e t' 'reset\x80' '\xffreset' 'reset\x01' \
	'\x72\x65\x73\x65\x74'; do
	for sector in 0 8191 8192 16383 16384 18446744073709551615; do
		message "$fmt" "$sector"
	done
done
printf -v long '%*s' 4096 ''
message "reset${long// / x}" 0
message "${long// /a}" 0
message "reset${long}x" 0
for ((i = 0; i < nrandom; i++)); do
	if ((i % 2)); then
		random_bytes $((1 + RANDOM % 64))
		message "$RB" $((RANDOM % 16384))
	else
		mutate reset
		message "$MUT" 0
	fi
done
msg_secs=$(($(date +%s) - start))
log "messages: $acted acted (zeroed ms-a only), $refused refused with EINVAL," \
	"$core for device-mapper itself (no counter changed), in ${msg_secs}s"
assert_gt "$acted" 30 "messages that acted"
nmsg=$((acted + refused + core))

# sysfs_reset FMT DIR: write the bytes of printf format FMT to DIR/reset in
# one write() (dmbatch put: the shell would split it at each newline).  A
# page at most reaches the attribute; it acts iff those bytes, up to the
# first NUL, are "1" or "1\n".
sysfs_reset() {
	local fmt=$1 d=$2 text cstr
	cstr=${fmt%%\\0*}
	cstr=${cstr%%\\x00*}
	printf -v text -- "$cstr"
	text=${text:0:4096}
	snap
	local before=$SNAPALL a=$S_A b=$S_B all=$S_ALL
	dmb put "$d/reset" "$fmt"
	if [ "$text" = 1 ] || [ "$text" = $'1\n' ]; then
		[[ $DMB == ok* ]] || fail "writing '$fmt' to ${d##*/}/reset: $DMB"
		zeroed "$d" || fail "writing '$fmt' to ${d##*/}/reset: not zeroed"
		snap
		if [ "$d" = "$dir_all" ]; then
			[ "$S_A$S_B" = "$a$b" ] || fail "'$fmt' to all/reset changed ms-a or ms-b"
		else
			[ "$S_B$S_ALL" = "$b$all" ] || fail "'$fmt' to ms-a/reset changed ms-b or all"
		fi
		acted=$((acted + 1))
		dirty
		return
	fi
	if [ -z "$fmt" ]; then
		[ "$DMB" = "ok 0" ] || fail "an empty write to ${d##*/}/reset: $DMB"
	else
		[ "${DMB:0:6}" = "err 22" ] || fail "writing '$fmt' to ${d##*/}/reset: '$DMB', expected EINVAL"
	fi
	refused=$((refused + 1))
	snap
	[ "$SNAPALL" = "$before" ] || fail "writing '$fmt' to ${d##*/}/reset changed counters"
}

acted=0 refused=0
start=$(date +%s)
printf -v ones '%*s' 4096 ''
ones=${ones// /1}
for d in "$dir_a" "$dir_all"; do
	for fmt in 1 '1\n' 0 '0\n' 2 01 '1 ' ' 1' '1\n\n' '\n1' +1 0x1 -1 11 '1\t' \
		'\n' true yes on y Y reset '1\r' '1\r\n' '\xef\xbc\x91' '\x31\x0a' \
		"$ones" "1${ones:1:4094}" "${ones}1" "1\\n${ones}" '' '\x00' '\x001' \
		'1\x00junk' '1\n\x00x'; do
		sysfs_reset "$fmt" "$d"
	done
done
for ((i = 0; i < nrandom; i++)); do
	d=$dir_a
	((i % 5)) || d=$dir_all
	if ((i % 2)); then
		random_bytes $((1 + RANDOM % 32))
		sysfs_reset "$RB" "$d"
	else
		mutate 1
		sysfs_reset "$MUT" "$d"
	fi
done
sys_secs=$(($(date +%s) - start))
log "sysfs reset: $acted writes acted (zeroed that directory only), $refused refused, in ${sys_secs}s"
assert_gt "$acted" 4 "sysfs writes that acted"
echo "RESULT message-fuzz messages=$nmsg sysfs=$((acted + refused)) seconds=$((msg_secs + sys_secs))"
