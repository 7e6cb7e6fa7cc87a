#!/bin/bash
# DESCRIPTION: rejected tables: a wrong argument count, every kind of bad
# device (missing, not a block device, number out of range or absent), every
# kind of bad offset, a range past the end (also by u64 overflow), a range
# misaligned on a 4K device, a device held exclusively, and a device mapped
# onto itself each make dmsetup fail with the kernel errno (for the devices:
# device-mapper's own, as dm-linear gets it on this kernel) and dmp's own
# message in dmesg, and leave nothing behind: no dm device, no stat/ entry,
# no holder, no module reference.  Failed reloads of a live dmp device keep
# its table and its counters, and it keeps working.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 8)
sz=$(sectors_of "$dev")
dev_t=$(<"/sys/block/${dev#/dev/}/dev")

# A loop device with 4 KiB logical blocks.
truncate -s 8M "$DMP_TMP/4k.img"
dev4k=$(losetup -f --show --sector-size 4096 "$DMP_TMP/4k.img")
_loops+=("$dev4k")
dev4k_t=$(<"/sys/block/${dev4k#/dev/}/dev")
assert_eq "$(<"/sys/block/${dev4k#/dev/}/queue/logical_block_size")" 4096 "logical block size of $dev4k"

# A device held exclusively: a mounted file system.
busy_dev 8
busy=$BUSY

: >"$DMP_TMP/regular"

# What a rejected table must not change: dm devices, device nodes, stat/
# entries, holders of the backing devices, the module's reference count.
residue() {
	local e
	shopt -s nullglob
	RESIDUE=
	for e in /sys/block/dm-* /dev/mapper/* "$DMP_STAT"/* \
		/sys/block/"${dev#/dev/}"/holders/* /sys/block/"${dev4k#/dev/}"/holders/*; do
		RESIDUE+="${e##*/} "
	done
	shopt -u nullglob
	read -r e </sys/module/dmp/refcnt
	RESIDUE+="refcnt=$e"
}

residue
empty=$RESIDUE

# The live device that failed reloads must leave alone.  Its table doubles
# as the accepted side of two checks: segment 1 ends exactly at the end of
# $dev (with an offset), segment 2 is 4K-aligned on $dev4k.
keep_table="0 $((sz - 8)) dmp $dev_t 8
$((sz - 8)) 8 dmp $dev4k_t 8"
dm_create keep05 "$keep_table"
keep_t=$(dm_devt keep05)
dm_major=${keep_t%%:*}
keep_dir=$DMP_STAT/$keep_t
dd if=/dev/zero of=/dev/mapper/keep05 bs=4k count=2 oflag=direct status=none
dd if=/dev/mapper/keep05 of=/dev/null bs=4k count=1 iflag=direct status=none
stat_snap "$keep_dir"
keep_snap=$SNAP
assert_match "$keep_snap" "^read_reqs=1 write_reqs=2 " "keep05 counts its I/O"

residue
base=$RESIDUE
log "before: $base"

# reject LABEL ERRNO-TEXT MESSAGE DMSETUP-ARGS...: the dmsetup command must
# fail with strerror(ERRNO) and change nothing; MESSAGE is what dmesg must
# show for it (checked at the end, from one read of the log).
labels=()
declare -A want
reject() {
	local label=$1 errno=$2 msg=$3 out ok
	shift 3
	echo "dmp-05: case $label" >/dev/kmsg
	# Only reloads can hang (on the device itself); they get a time limit.
	if [ "$1" = create ]; then
		dmsetup "$@" >"$DMP_TMP/out" 2>&1 && ok=1 || ok=0
	else
		timeout 60 dmsetup "$@" >"$DMP_TMP/out" 2>&1 && ok=1 || ok=0
	fi
	out=$(<"$DMP_TMP/out")
	if [ $ok = 1 ]; then
		[ "$1" != create ] || _dm_names+=("$2")
		fail "$label: accepted: dmsetup $*"
	fi
	[[ $out == *"failed: $errno"* ]] || fail "$label: dmsetup said '$out', expected '$errno'"
	residue
	[ "$RESIDUE" = "$base" ] || fail "$label: left behind: '$RESIDUE', before: '$base'"
	labels+=("$label")
	want[$label]=$msg
	echo "ok: $label: rejected with '$errno', nothing left"
}
bad() {	# LABEL ERRNO-TEXT MESSAGE TABLE: dmsetup create
	reject "$1" "$2" "$3" create bad05 --table "$4"
}

EINVAL="Invalid argument"
argc="Invalid argument count: <device> [<offset>] (-EINVAL)"
bad argc-0 "$EINVAL" "$argc" "0 8 dmp"
bad argc-3 "$EINVAL" "$argc" "0 8 dmp $dev 0 0"

# Devices that are not there or cannot be used: dmp passes on the errno of
# dm_get_device(), which is the kernel's (it changed: ENODEV for every path
# that is not a block device on 6.1, lookup_bdev()'s ENOENT or ENOTBLK from
# 6.12 on), with its own message for it.  The oracle for the errno is
# device-mapper itself, through dm-linear (tests/lib.sh: linear_verdict).
baddev() {	# LABEL DEVICE
	linear_verdict create lin05 "$2"
	[ "$VERDICT" != ok ] || fail "$1: device-mapper accepts $2"
	bad "$1" "$VERDICT_TEXT" "$(dmp_lookup_msg "$VERDICT")" "0 8 dmp $2"
}
baddev no-path /dev/dmp05-no-such-device
baddev regular-file "$DMP_TMP/regular"
baddev directory "$DMP_TMP"
baddev char-device /dev/null
baddev major-range 4096:0
baddev minor-range 7:1048576
baddev absent-major 4095:0
baddev absent-minor "$dm_major:1048575"

# dm splits the table on whitespace, so an empty offset cannot be written
# ("... dmp DEV " is a table without one); "\ " is the blank one it can be.
offset="Invalid device offset (-EINVAL)"
for o in -1 abc 12x 0x10 +5 18446744073709551616 '\ '; do
	label=offset=$o
	[ "$o" != '\ ' ] || label=offset=blank
	bad "$label" "$EINVAL" "$offset" "0 8 dmp $dev $o"
done

end="Target range exceeds the end of the device (-EINVAL)"
bad end-by-length "$EINVAL" "$end" "0 $((sz + 8)) dmp $dev"
bad end-by-offset "$EINVAL" "$end" "0 16 dmp $dev $((sz - 8))"
bad end-u64-max "$EINVAL" "$end" "0 8 dmp $dev 18446744073709551615"
bad end-u64-wrap "$EINVAL" "$end" "0 8 dmp $dev 18446744073709551608"

align="Offset or length not aligned to the device's logical block size (-EINVAL)"
bad align-offset "$EINVAL" "$align" "0 8 dmp $dev4k 1"
bad align-length "$EINVAL" "$align" "0 12 dmp $dev4k 0"

baddev busy "$busy"

# The first segment is built (and its stat directory made) before the
# second one fails: that must be undone too.
bad second-segment "$EINVAL" "$offset" "0 8 dmp $dev
8 8 dmp $dev abc"

# Failed reloads of the live device, the last one after its first segment
# has already taken a reference on the device's counters.
reject reload-offset "$EINVAL" "$offset" reload keep05 --table "0 8 dmp $dev x"
reject reload-end "$EINVAL" "$end" reload keep05 --table "0 $sz dmp $dev 8"
reject reload-segment "$EINVAL" "$offset" reload keep05 --table "0 8 dmp $dev
8 8 dmp $dev 0x8"

# A device that maps onto itself, by path and by number, while suspended:
# dmp's own check, before dm_get_device() (which on 6.1 lets it through, and
# from 6.12 on refuses it with a bare EINVAL), with ELOOP on every kernel.
timeout 60 dmsetup suspend keep05 || fail "suspend keep05"
for c in "self-path /dev/mapper/keep05" "self-number $keep_t"; do
	reject "${c%% *}" "Too many levels of symbolic links" "Device cannot map onto itself (-ELOOP)" \
		reload keep05 --table "0 $sz dmp ${c#* }"
done
timeout 60 dmsetup resume keep05 || fail "resume keep05"

# keep05 still has its one table and its counts, and it still counts.
assert_eq "$(dmsetup table keep05)" "$keep_table" "table of keep05 after the failed reloads"
assert_match "$(dmsetup info keep05)" "Tables present: +LIVE"$'\n' "keep05 has no inactive table"
stat_snap "$keep_dir"
assert_eq "$SNAP" "$keep_snap" "counters of keep05 after the failed reloads"
dd if=/dev/mapper/keep05 of=/dev/null bs=4k count=1 skip=1 iflag=direct status=none
assert_eq "$(<"$keep_dir/read_reqs") $(<"$keep_dir/write_reqs")" "2 2" "keep05 reads, writes after one more read"

# dmesg: each case logged exactly its own dmp error.
declare -A got
while IFS=$'\t' read -r label line; do
	got[$label]+="$line|"
done < <(dmesg | awk '
	/ dmp-05: case / { label = $NF; next }
	label != "" && /device-mapper: table: [0-9]+:[0-9]+: dmp: / {
		sub(/.*device-mapper: table: [0-9]+:[0-9]+: dmp: /, "")
		print label "\t" $0
	}')
for label in "${labels[@]}"; do
	assert_eq "${got[$label]:-}" "${want[$label]}|" "dmesg for $label"
done

dm_remove keep05
residue
assert_eq "$RESIDUE" "$empty" "what is left after removing keep05"
