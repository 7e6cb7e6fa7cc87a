#!/bin/bash
# DESCRIPTION: privileges: an unprivileged user (setpriv to nobody, no
# capabilities) reads every readable attribute of a device and of "all"
# and gets the same values as root, but cannot reset either (EACCES) nor
# send a message; no attribute is writable by group or others, and every
# read-only attribute refuses a write from root too.  Nothing changes.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 8)
dmp_create pv "$dev"
dir=$(stat_dir pv)
dd if=/dev/zero of=/dev/mapper/pv bs=4k count=3 oflag=direct status=none
dd if=/dev/mapper/pv of=/dev/null bs=8k count=2 iflag=direct status=none
dirs=("$dir" "$DMP_STAT/all")
read_all "${dirs[@]}"
before=$ALL

# Modes: nothing writable by group or others; what can be read, all can.
for d in "${dirs[@]}"; do
	assert_eq "$(find "$d/" -maxdepth 1 -type f -perm /0022 | wc -l)" 0 "files of ${d##*/} writable by group or others"
	for f in $(stat_files "$d"); do
		assert_eq "$(stat -c %a "$d/$f")" 444 "mode of ${d##*/}/$f"
	done
done

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"; }
assert_eq "$(as_nobody id -u)" 65534 "uid under setpriv"

# One unprivileged shell does everything: read each readable file, write
# to reset and to each read-only file; one line per attempt.
nobody=$(as_nobody bash -c '
	for d in "$@"; do
		for f in "$d"/*; do
			[ -f "$f" ] || continue
			if [ "${f##*/}" != reset ]; then
				v=$(cat "$f" 2>&1) || v="ERR $v"
				echo "read ${d##*/}/${f##*/}=${v//$'"'\n'"'/|}"
			fi
			if out=$( { printf 1 >"$f"; } 2>&1); then
				echo "write ${d##*/}/${f##*/}: OK"
			else
				echo "write ${d##*/}/${f##*/}: ${out##*: }"
			fi
		done
	done' nobody "${dirs[@]}")
nreads=0 nwrites=0
while read -r kind rest; do
	case $kind in
	read)	v=${rest#*=}
		[[ $v != ERR* ]] || fail "nobody cannot read ${rest%%=*}: $v"
		grep -qxF "${rest%%=*}=$v" <<<"$ALL" || fail "nobody read ${rest%%=*}=$v, root read $(grep "^${rest%%=*}=" <<<"$ALL")"
		nreads=$((nreads + 1)) ;;
	write)	assert_eq "${rest#*: }" "Permission denied" "write by nobody to ${rest%%:*}"
		nwrites=$((nwrites + 1)) ;;
	*)	fail "unexpected output: $kind $rest" ;;
	esac
done <<<"$nobody"
want=0
for d in "${dirs[@]}"; do
	want=$((want + $(stat_files "$d" | wc -l)))
done
assert_eq "$nreads" "$want" "attributes read by nobody"
log "nobody read $nreads attributes and was refused $nwrites writes"

# Nor a message: the device-mapper control node is root's.
out=$(must_fail as_nobody dmsetup message pv 0 reset)
assert_match "$out" "Permission denied|Operation not permitted" "dmsetup message as nobody"

# Root cannot write the read-only attributes either.
for d in "${dirs[@]}"; do
	for f in $(stat_files "$d"); do
		err=
		{ printf '0\n' >"$d/$f"; } 2>"$DMP_TMP/err" || read -r err <"$DMP_TMP/err"
		assert_eq "${err##*: }" "Permission denied" "write by root to ${d##*/}/$f"
	done
done

read_all "${dirs[@]}"
assert_eq "$ALL" "$before" "every attribute after the refused writes"
# And root can still reset.
echo 1 >"$dir/reset"
assert_eq "$(stat_req "$dir/stat")" "0 0 0 0 0 0 0" "pv stat after a reset by root"
