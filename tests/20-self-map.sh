#!/bin/bash
# DESCRIPTION: a device that maps onto itself (blktests dm/001's case, for
# dmp): on 6.1 device-mapper itself accepts "dmsetup suspend" + "reload"
# of a device onto its own node, and the guest hangs once it resumes.  dmp
# refuses such a table in its constructor: by /dev/mapper path, by
# /dev/dm-N, by number, through a symlink, as the second segment, while
# suspended and live, each with its own "Device cannot map onto itself
# (-ELOOP)" line in dmesg (a new device without a table cannot be opened
# yet: refused too).  From 6.12 on device-mapper refuses these
# tables itself (EINVAL from dm_get_device(), as dm-linear shows), but dmp
# looks first, so that the message says why, on every kernel.  The refused
# table is never resumed (if one were accepted, it is cleared first), so
# a regression fails this test instead of hanging the suite.  The device
# keeps its table and counters and still works.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 8)
sz=$(sectors_of "$dev")
dmp_create self "$dev"
t=$(dm_devt self)
dir=$(stat_dir self)
ln -s /dev/mapper/self "$DMP_TMP/link-to-self"
dd if=/dev/zero of=/dev/mapper/self bs=4k count=3 oflag=direct status=none
dd if=/dev/mapper/self of=/dev/null bs=4k count=2 iflag=direct status=none
table=$(dmsetup table self)
read_all "$dir" "$DMP_STAT/all"
before=$ALL

refused=0
# refuse NAME TABLE WHAT: "dmsetup reload NAME" with TABLE must fail and
# leave no inactive table; never resumes.  dmp refuses it with ELOOP and
# "Device cannot map onto itself", before dm_get_device() (which, on 6.1,
# accepts it, and from 6.12 on refuses it with a bare EINVAL).
# With a 4th argument "lookup": the device does not resolve at all, and the
# errno is device-mapper's own for it, as dm-linear gets it (tests/lib.sh,
# linear_verdict), with dmp's message for that errno.
refuse() {
	local out errno="Too many levels of symbolic links" msg="Device cannot map onto itself (-ELOOP)"
	if [ "${4:-}" = lookup ]; then
		linear_verdict reload "$1" "$(tail -n 1 <<<"$2" | awk '{ print $4 }')"
		[ "$VERDICT" != ok ] || fail "$3: dm-linear accepts it"
		errno=$VERDICT_TEXT msg=$(dmp_lookup_msg "$VERDICT")
	fi
	dmesg_mark
	if out=$(timeout 60 dmsetup reload "$1" --table "$2" 2>&1); then
		timeout 60 dmsetup clear "$1"
		fail "$3: the table was accepted (cleared again, not resumed)"
	fi
	assert_match "$out" "failed: $errno" "$3: dmsetup reload"
	assert_eq "$(dmesg_since | sed -n "s/.*device-mapper: table: $(dm_devt "$1"): dmp: //p")" "$msg" \
		"$3: dmesg"
	assert_match "$(dmsetup info "$1")" "Tables present: +(LIVE|None)"$'\n' "$3: no inactive table"
	refused=$((refused + 1))
}

# The blktests dm/001 sequence: suspend, then reload onto itself.
timeout 60 dmsetup suspend self || fail "suspend"
refuse self "0 $sz dmp /dev/mapper/self" "suspended, by /dev/mapper path"
refuse self "0 $sz dmp /dev/dm-${t#*:}" "suspended, by /dev/dm-N"
refuse self "0 $sz dmp $t" "suspended, by number"
refuse self "0 $sz dmp $DMP_TMP/link-to-self 0" "suspended, through a symlink, with an offset"
refuse self "0 8 dmp $dev
8 8 dmp /dev/mapper/self" "suspended, as the second segment"
timeout 60 dmsetup resume self || fail "resume"

# Live, not suspended.
refuse self "0 $sz dmp /dev/mapper/self" "live, by path"

# A new device with no table yet (its disk only appears once its first
# table is in, so dm_get_device() could not even open it): by number,
# refused as mapping onto itself all the same; its node does not exist yet,
# so by path it is no device at all.
dmsetup create self-new --notable
_dm_names+=(self-new)
refuse self-new "0 8 dmp $(dm_devt self-new)" "new device without a table, by number"
refuse self-new "0 8 dmp /dev/mapper/self-new" "new device without a table, by path" lookup
assert_eq "$(ls "$DMP_STAT")" "${dir##*/}
all
self" "entries of stat/ after the refused table of self-new"
dm_remove self-new

# self kept its table and its counts, and still works.
assert_eq "$(dmsetup table self)" "$table" "table of self"
read_all "$dir" "$DMP_STAT/all"
assert_eq "$ALL" "$before" "every attribute of self and all after $refused refused tables"
dd if=/dev/mapper/self of=/dev/null bs=4k count=1 iflag=direct status=none
assert_eq "$(<"$dir/read_reqs")" 3 "read_reqs of self after one more read"
log "$refused self-mapping tables refused"
