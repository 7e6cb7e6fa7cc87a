#!/bin/bash
# DESCRIPTION: removal against open files: every attribute of a device
# opened before the device is removed fails with ENODEV when read after
# (never a value, never a crash), also once dmp itself is unloaded;
# "dmsetup remove" of an open dmp device fails with EBUSY and changes no
# counter, and the device keeps working; rmmod with a device present fails
# (in use) and changes nothing.
. "$(dirname "$0")/lib.sh"

dev=$(backing_dev 16)

# read_fd FD: read from the open file FD; the value in $V, or the error
# text (after the last ": ") in $ERR.
read_fd() {
	V= ERR=
	if ! read -r V <&"$1" 2>"$DMP_TMP/err"; then
		read -r ERR <"$DMP_TMP/err" || true
		ERR=${ERR##*: }
	fi
}

# (a) Attributes opened before the device goes, read after.
dmp_create or-a "$dev"
dir=$(stat_dir or-a)
dd if="$(dm_node or-a)" of=/dev/null bs=4k count=3 iflag=direct status=none
files=$(stat_files "$dir")
declare -A fds
for f in $files; do
	exec {fd}<"$dir/$f"
	fds[$f]=$fd
done
# The same files through the name link, and a second set of files that
# are read once before the removal (their next read starts over).
declare -A fds_link fds_read
for f in $files; do
	exec {fd}<"$DMP_STAT/or-a/$f"
	fds_link[$f]=$fd
	exec {fd}<"$dir/$f"
	read_fd "$fd"
	[ -n "$V" ] || fail "first read of $f: $ERR"
	fds_read[$f]=$fd
done
exec {all_fd}<"$DMP_STAT/all/read_reqs"
dm_remove or-a
[ ! -e "$dir" ] || fail "$dir still there"
for f in $files; do
	read_fd "${fds[$f]}"
	assert_eq "$V|$ERR" "|No such device" "read of $f opened before the removal"
	read_fd "${fds_link[$f]}"
	assert_eq "$V|$ERR" "|No such device" "read of $f opened through the link before the removal"
	# A read after one that returned the value gets the end of the file:
	# nothing, with or without an error.
	read_fd "${fds_read[$f]}"
	assert_eq "$V" "" "second read of $f after the removal"
done
read_fd "$all_fd"
assert_eq "$ERR" "" "read of all/read_reqs opened before the removal: no error"
log "$(wc -w <<<"$files") attributes, opened 3 ways, read after the removal"

# (b) The same with dmp unloaded in between: nothing of the module is
# reached through the open files.
dmp_create or-b "$dev"
dir=$(stat_dir or-b)
declare -A fds_b
for f in $files; do
	exec {fd}<"$dir/$f"
	fds_b[$f]=$fd
done
exec {all_fd2}<"$DMP_STAT/all/stat"
dm_remove or-b
rmmod dmp
for f in $files; do
	read_fd "${fds_b[$f]}"
	assert_eq "$V|$ERR" "|No such device" "read of $f after remove and rmmod"
	fd=${fds_b[$f]}
	exec {fd}<&-
done
read_fd "$all_fd2"
assert_eq "$V|$ERR" "|No such device" "read of all/stat after rmmod"
exec {all_fd2}<&- {all_fd}<&-
insmod "$DMP_KO"

# (c) dmsetup remove of an open dmp device: EBUSY, counters intact.
dmp_create or-c "$dev"
dir=$(stat_dir or-c)
dd if=/dev/zero of="$(dm_node or-c)" bs=4k count=5 oflag=direct status=none
dd if="$(dm_node or-c)" of=/dev/null bs=8k count=2 iflag=direct status=none
read_all "$dir" "$DMP_STAT/all"
before=$ALL
refcnt=$(dmp_refcnt)
exec {dev_fd}<"$(dm_node or-c)"
out=$(must_fail dmsetup remove or-c)
assert_match "$out" "Device or resource busy" "dmsetup remove of an open device"
[ -d "$dir" ] && [ "$DMP_STAT/or-c" -ef "$dir" ] || fail "directory or link of or-c gone after the failed remove"
read_all "$dir" "$DMP_STAT/all"
assert_eq "$ALL" "$before" "every attribute of or-c and all after the failed remove"
assert_eq "$(dmp_refcnt)" "$refcnt" "module references after the failed remove"
assert_eq "$(status_req or-c)" "0 $(sectors_of "$dev") dmp 2 5 16384 20480 0 0 0" "dmsetup status or-c"
# Still working: one more read counts.
dd if="$(dm_node or-c)" of=/dev/null bs=4k count=1 iflag=direct status=none
assert_eq "$(<"$dir/read_reqs")" 3 "or-c read_reqs after one more read"
exec {dev_fd}<&-

# (d) rmmod with a device present: refused, nothing changes.  kmod's rmmod
# says "in use" (EBUSY) without asking the kernel; the kernel's own answer
# to delete_module (O_NONBLOCK, as rmmod would send) is EWOULDBLOCK.
read_all "$dir" "$DMP_STAT/all"
before=$ALL
out=$(must_fail rmmod dmp)
assert_match "$out" "in use" "rmmod dmp with a device present"
errno=$(python3 -c 'import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(176, b"dmp", os.O_NONBLOCK)	# delete_module
print(r, os.strerror(ctypes.get_errno()) if r else "")')
assert_eq "$errno" "-1 Resource temporarily unavailable" "delete_module(dmp) with a device present"
[ -d /sys/module/dmp ] || fail "dmp unloaded"
read_all "$dir" "$DMP_STAT/all"
assert_eq "$ALL" "$before" "every attribute of or-c and all after the refused rmmod"
assert_eq "$(dmp_refcnt)" "$refcnt" "module references after the refused rmmod"
dm_remove or-c
assert_eq "$(ls "$DMP_STAT")" all "entries of stat/ at the end"
