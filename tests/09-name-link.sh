#!/bin/bash
# DESCRIPTION: name links: stat/<dm-name> points to the device's maj:min
# directory, whose "name" shows the dm name, with the documented modes;
# names "all" and "<maj:min>" get no link (with a warning) and change
# nothing else; after "dmsetup rename" the link and "name" follow at the next
# resume only: not at a table load, not at a load that fails after dmp's
# constructor ran (nor does such a load touch the counters or their epoch);
# a name still held by another device's link is
# refused with a warning and handed over when the holder lets it go; a
# removed device leaves no directory and no link; a link displaced by a new
# major:minor directory comes back when that directory goes.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 16)
q=$(($(sectors_of "$dev") / 4))
table() { echo "0 $q dmp $dev $(($1 * q))"; }	# quarter N of $dev

# links: the links in stat/, "name->dir ..." in glob order, each resolved
# by comparing it with every maj:min directory (builtins only).
links() {
	local e d t
	LINKS=
	for e in "$DMP_STAT"/*; do
		[ -L "$e" ] || continue
		t='?'
		for d in "$DMP_STAT"/*; do
			[ ! -L "$d" ] && [ "$e" -ef "$d" ] && t=${d##*/}
		done
		LINKS+="${e##*/}->$t "
	done
	LINKS=${LINKS% }
}
expect_links() {	# EXPECTED WHAT
	links
	assert_eq "$LINKS" "$1" "links $2"
}
expect_name() {	# MAJ:MIN NAME WHAT
	assert_eq "$(<"$DMP_STAT/$1/name")" "$2" "$1/name $3"
}

dmesg_mark
mark0=$_dmesg_mark

# A link after create, to the right directory, relative, with the modes.
dmp_create nl-a "$dev" 0 "$q"
ta=$(dm_devt nl-a)
expect_links "nl-a->$ta" "after create"
[ -d "$DMP_STAT/$ta" ] && [ ! -L "$DMP_STAT/$ta" ] || fail "stat/$ta is not a directory"
assert_eq "$(readlink "$DMP_STAT/nl-a")" "$ta" "text of the link nl-a"
expect_name "$ta" nl-a "after create"

counters=$DMP_COUNTERS
dev_files="$counters stat reset name"
all_files="$counters stat reset"
paths=()
want=
for f in $dev_files; do
	paths+=("$DMP_STAT/$ta/$f")
	case $f in reset) m=200 ;; *) m=444 ;; esac
	want+="$ta/$f $m"$'\n'
done
for f in $all_files; do
	paths+=("$DMP_STAT/all/$f")
	case $f in reset) m=200 ;; *) m=444 ;; esac
	want+="all/$f $m"$'\n'
done
assert_eq "$(cd "$DMP_STAT" && stat -c '%n %a' "${paths[@]#"$DMP_STAT"/}")" "${want%$'\n'}" \
	"modes of the attributes"
n=("$DMP_STAT/$ta"/*)
assert_eq "${#n[@]}" 35 "number of files in stat/$ta"
n=("$DMP_STAT/all"/*)
assert_eq "${#n[@]}" 33 "number of files in stat/all"

# Names that are directories of stat/: no link, a warning, nothing else.
dmp_create all "$dev" "$q" "$q"
dmp_create "$ta" "$dev" $((2 * q)) "$q"
tall=$(dm_devt all)
tdir=$(dm_devt "$ta")
msgs=$(dmesg_since)
assert_match "$msgs" "dmp: $tall: no link: name \"all\" is a directory of stat/" "warning for the name all"
assert_match "$msgs" "dmp: $tdir: no link: name \"$ta\" is a directory of stat/" "warning for the name $ta"
expect_links "nl-a->$ta" "with devices named all and $ta"
expect_name "$tall" all "of the device named all"
expect_name "$tdir" "$ta" "of the device named $ta"
expect_name "$ta" nl-a "after a device took its number as name"
[ -d "$DMP_STAT/all" ] && [ ! -L "$DMP_STAT/all" ] && [ ! -e "$DMP_STAT/all/name" ] ||
	fail "stat/all is no longer the aggregate directory"
# The device "all" counts in its own directory, and stat/all counts it too.
read -r all0 <"$DMP_STAT/all/read_reqs"
dd if=/dev/mapper/all of=/dev/null bs=4k count=3 iflag=direct status=none
assert_eq "$(<"$DMP_STAT/$tall/read_reqs")" 3 "reads of the device named all"
assert_eq "$(<"$DMP_STAT/all/read_reqs")" $((all0 + 3)) "reads in stat/all"
dm_remove all
dm_remove "$ta"
[ ! -e "$DMP_STAT/$tall" ] && [ ! -e "$DMP_STAT/$tdir" ] || fail "directories left after remove"
[ -d "$DMP_STAT/all" ] && [ -e "$DMP_STAT/all/reset" ] || fail "stat/all gone with the device named all"

# Rename, then a reload that fails after dmp's constructor ran for its first
# segment (the second one is on a device that does not exist): the link, the
# name, the counters and their epoch stay as they were.
dd if=/dev/mapper/nl-a of=/dev/null bs=4k count=2 iflag=direct status=none
dm_rename nl-a nl-b
expect_links "nl-a->$ta" "after rename nl-a nl-b"
expect_name "$ta" nl-a "after rename nl-a nl-b"
stat0=$(<"$DMP_STAT/$ta/stat")
# The errno of a missing path is the kernel's (6.1: ENODEV, 6.12: ENOENT):
# as dm-linear gets it (tests/lib.sh).
linear_verdict create nl-lin /dev/nl-no-such-device
[ "$VERDICT" != ok ] || fail "device-mapper accepts /dev/nl-no-such-device"
dmesg_mark
out=$(must_fail dmsetup reload nl-b --table "$(table 0)
$q $q dmp /dev/nl-no-such-device 0")
assert_match "$out" "reload ioctl on nl-b +failed: $VERDICT_TEXT" "dmsetup reload with a missing device"
assert_eq "$(dmesg_since | sed -n "s/.*device-mapper: table: $ta: dmp: //p")" "$(dmp_lookup_msg "$VERDICT")" \
	"dmesg for the failed reload"
expect_links "nl-a->$ta" "after a failed reload of nl-b"
expect_name "$ta" nl-a "after a failed reload of nl-b"
assert_eq "$(<"$DMP_STAT/$ta/stat")" "$stat0" "stat of $ta after a failed reload"
assert_eq "$(dmsetup info -c --noheadings -o attr nl-b)" "L--w" "nl-b: live, no inactive table"
# A reload that works moves nothing either, nor does dropping the table it
# loaded; the resume after the next one does.
dmsetup reload nl-b --table "$(table 0)"
expect_links "nl-a->$ta" "after reload of nl-b"
expect_name "$ta" nl-a "after reload of nl-b"
dmsetup clear nl-b
expect_links "nl-a->$ta" "after reload and clear of nl-b"
dmsetup reload nl-b --table "$(table 0)"
dmsetup resume nl-b
expect_links "nl-b->$ta" "after reload and resume of nl-b"
expect_name "$ta" nl-b "after reload and resume of nl-b"
assert_eq "$(<"$DMP_STAT/$ta/stat")" "$stat0" "stat of $ta after reload and resume"

# Rename, then suspend and resume: the link moves at the resume.
dm_rename nl-b nl-c
expect_links "nl-b->$ta" "after rename nl-b nl-c"
dmsetup suspend nl-c
expect_links "nl-b->$ta" "after suspend of nl-c"
dmsetup resume nl-c
expect_links "nl-c->$ta" "after resume of nl-c"
expect_name "$ta" nl-c "after resume of nl-c"

# A swap of names: B takes A's old name while A's link still holds it.
dmp_create nl-y "$dev" "$q" "$q"
tb=$(dm_devt nl-y)
expect_links "nl-c->$ta nl-y->$tb" "with nl-c and nl-y"
dm_rename nl-c nl-z
dm_rename nl-y nl-c
expect_links "nl-c->$ta nl-y->$tb" "after renames nl-c nl-z, nl-y nl-c"
dmesg_mark
dmsetup reload nl-c --table "$(table 1)"
dmsetup resume nl-c
assert_match "$(dmesg_since)" "dmp: $tb: no link: stat/nl-c still belongs to $ta" "warning for the taken name nl-c"
expect_links "nl-c->$ta" "after $tb asked for nl-c"
expect_name "$tb" nl-c "after reload of nl-c"
dmsetup suspend nl-z
dmsetup resume nl-z
expect_links "nl-c->$tb nl-z->$ta" "after $ta took nl-z and let nl-c go"
expect_name "$ta" nl-z "after resume of nl-z"

# A new device with a name still held: it gets the link when the holder goes.
dm_rename nl-z nl-w
dmesg_mark
dmp_create nl-z "$dev" $((2 * q)) "$q"
tc=$(dm_devt nl-z)
assert_match "$(dmesg_since)" "dmp: $tc: no link: stat/nl-z still belongs to $ta" "warning for the new nl-z"
expect_links "nl-c->$tb nl-z->$ta" "after nl-z was created again"
dm_remove nl-w
[ ! -e "$DMP_STAT/$ta" ] || fail "stat/$ta left after remove"
expect_links "nl-c->$tb nl-z->$tc" "after the holder of nl-z was removed"
expect_name "$tc" nl-z "of the new nl-z"

# A link whose name becomes a directory (a device created with that number)
# is removed with a warning, and comes back when that device goes.
maj=${ta%:*}
dmp_create "$maj:200" "$dev" $((3 * q)) "$q"
tn=$(dm_devt "$maj:200")
expect_links "$maj:200->$tn nl-c->$tb nl-z->$tc" "with a device named $maj:200"
dmesg_mark
dmsetup create nl-m -j "$maj" -m 200 --table "$(table 3)"
_dm_names+=(nl-m)
assert_eq "$(dm_devt nl-m)" "$maj:200" "number of nl-m"
assert_match "$(dmesg_since)" "dmp: $tn: link $maj:200 removed: the name is now a directory" \
	"warning for the displaced link"
expect_links "nl-c->$tb nl-m->$maj:200 nl-z->$tc" "after $maj:200 became a directory"
dm_remove nl-m
expect_links "$maj:200->$tn nl-c->$tb nl-z->$tc" "after the directory $maj:200 went away"
dm_remove "$maj:200"

# Removed devices leave nothing.
dm_remove nl-c
dm_remove nl-z
expect_links "" "after removing every device"
n=("$DMP_STAT"/*)
assert_eq "${n[*]##*/}" all "entries of stat/ after removing every device"
_dmesg_mark=$mark0
assert_eq "$(dmesg_since | grep -c ': no link: ' || true)" 4 "number of \"no link\" warnings"
