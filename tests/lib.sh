# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the dmp tests.  A test is a bash script that sources this
# file, does one thing, and exits 0 when it passed.  Everything a test creates
# through these helpers (dm devices, loop devices, files, mounts) is removed
# when it exits, whatever the outcome.
#
# shellcheck shell=bash

set -euo pipefail

DMP_STAT=/sys/module/dmp/stat
DMP_SRC=${DMP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DMP_KO=${DMP_KO:-$DMP_SRC/dmp.ko}
# Counts of long loops are divided by this on slow (sanitizer) kernels.
DMP_SCALE=${DMP_SCALE:-1}
DMP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dmp-test.XXXXXX")
# Many device-mapper operations from one process (see tests/dmbatch.c).
DMBATCH=$DMP_SRC/build/bin/dmbatch
# The tools, as built by "make tools" (tests/run builds them).
DMPSTAT=${DMPSTAT:-$DMP_SRC/tools/dmpstat}
DMP_PLOT=${DMP_PLOT:-$DMP_SRC/tools/dmp-plot}

_dm_names=()
_loops=()
_mounts=()
_nullbs=()
_pids=()

log() { echo "# $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

assert_eq() {	# actual expected what
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
	echo "ok: $3 = $1"
}

assert_gt() {	# actual limit what
	[ "$1" -gt "$2" ] || fail "$3: got $1, expected more than $2"
	echo "ok: $3 = $1 > $2"
}

assert_match() {	# text regex what
	[[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"
	echo "ok: $3 matches /$2/"
}

# Run a command that must fail; print its output.
must_fail() {
	local out
	if out=$("$@" 2>&1); then
		fail "expected failure: $*"
	fi
	echo "$out"
}

scaled() { echo $(( ($1 + DMP_SCALE - 1) / DMP_SCALE )); }

dmp_modprobe() { modprobe ${DMP_MODROOT:+-d "$DMP_MODROOT"} "$@"; }
dmp_loaded() { [ -d /sys/module/dmp ]; }
dmp_load() { dmp_loaded || insmod "$DMP_KO"; }
dmp_refcnt() { cat /sys/module/dmp/refcnt; }

# Mark the kernel log, so that dmesg_since can show what came after.
# By the records' sequence numbers in /dev/kmsg, not by counting lines: a
# full log buffer drops its oldest lines and a line count stops moving.
_kmsg() {	# every record "prio,seq,usec,flags;text", continuation lines dropped
	{ dd if=/dev/kmsg iflag=nonblock bs=64k status=none 2>/dev/null || true; } |
		{ grep -v '^ ' || true; }
}
dmesg_mark() {
	_dmesg_mark=$(_kmsg | tail -n 1 | cut -d, -f2)
}
dmesg_since() {
	_kmsg | awk -v m="${_dmesg_mark:-0}" '{
		i = index($0, ";"); split(substr($0, 1, i - 1), h, ",")
		if (h[2] + 0 > m + 0)
			printf "[%12.6f] %s\n", h[3] / 1e6, substr($0, i + 1)
	}'
}

# A loop device over a sparse file of SIZE_MB MiB, removed at exit.
backing_dev() {
	local f dev
	f=$(mktemp "$DMP_TMP/backing.XXXXXX")
	truncate -s "${1}M" "$f"
	dev=$(losetup -f --show "$f")
	_loops+=("$dev")
	echo "$dev"
}

# busy_dev SIZE_MB: a backing device held exclusively (an ext2 file system
# on it mounted on $DMP_TMP/mnt, unmounted at exit), in $BUSY.
busy_dev() {
	BUSY=$(backing_dev "$1")
	_loops+=("$BUSY")
	mkfs.ext2 -q -E nodiscard "$BUSY"
	mkdir -p "$DMP_TMP/mnt"
	mount "$BUSY" "$DMP_TMP/mnt"
	_mounts+=("$DMP_TMP/mnt")
}

# nullb_dev SIZE_MB [ATTR=VALUE]...: a memory-backed null_blk device of
# SIZE_MB MiB (with discard), configured through configfs with the extra
# attributes given (set before it is powered on), removed at exit; prints
# its path.  Works in $(...) too: the devices to remove are listed in a file.
nullb_dev() {
	local size=$1 dir name i=0
	shift
	dmp_modprobe null_blk nr_devices=0 2>/dev/null || true
	while [ -e "/sys/kernel/config/nullb/dmpt$$_$i" ]; do
		i=$((i + 1))
	done
	name=dmpt$$_$i
	dir=/sys/kernel/config/nullb/$name
	mkdir "$dir"
	echo "$dir" >>"$DMP_TMP/nullbs"
	echo "$size" >"$dir/size"
	echo 1 >"$dir/memory_backed"
	echo 1 >"$dir/discard"
	local kv
	for kv in "$@"; do
		echo "${kv#*=}" >"$dir/${kv%%=*}"
	done
	echo 1 >"$dir/power"
	echo "/dev/$name"
}

# scsi_debug_load PARAM=VALUE...: load scsi_debug with these parameters;
# its disk's name (sda, ...) in $SD_DISK.  False if the kernel has no
# scsi_debug or refuses the parameters.  scsi_debug_unload undoes it.
scsi_debug_load() {
	local i
	dmp_modprobe sd_mod 2>/dev/null || true
	dmp_modprobe scsi_debug "$@" 2>/dev/null || return 1
	SD_DISK=
	for i in $(seq 100); do
		SD_DISK=$(ls /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block 2>/dev/null | head -n 1)
		[ -z "$SD_DISK" ] || return 0
		sleep 0.1
	done
	scsi_debug_unload
	fail "scsi_debug made no disk"
}
# Its hosts are removed first, and their releases given time to run while
# the module is still there: scsi_debug's own release functions are module
# text, and with CONFIG_DEBUG_KOBJECT_RELEASE (the sanitizer kernel) each
# release runs 1-4 s after the last put, which may be a parent's release
# (host, target, device, disk: 20 s covers the chain), so that after rmmod
# they would run freed code.
scsi_debug_unload() {
	local add=/sys/bus/pseudo/drivers/scsi_debug/add_host
	[ -d /sys/module/scsi_debug ] || return 0
	while [ -w "$add" ] && [ "$(<"$add")" -gt 0 ]; do
		echo -1 >"$add" || break
	done
	! on_debug_kernel || sleep 20
	dmp_modprobe -r scsi_debug
}

sectors_of() { blockdev --getsz "$1"; }

dm_create() {	# name table
	dmsetup create "$1" --table "$2"
	_dm_names+=("$1")
}

# dmp_create NAME DEV [OFFSET [SECTORS]]
dmp_create() {
	local off=${3:-0} len=${4:-}
	[ -n "$len" ] || len=$(($(sectors_of "$2") - off))
	dm_create "$1" "0 $len dmp $2 $off"
}

dm_remove() {
	dmsetup remove "$1"
	local n kept=()
	for n in "${_dm_names[@]}"; do
		[ "$n" = "$1" ] || kept+=("$n")
	done
	_dm_names=("${kept[@]}")
}

dm_devt() { dmsetup info -c --noheadings -o major,minor --separator : "$1"; }
dm_node() { echo "/dev/mapper/$1"; }
dm_block() { readlink -f "/sys/dev/block/$(dm_devt "$1")"; }

# The statistics directory of a device, by major:minor.
stat_dir() { echo "$DMP_STAT/$(dm_devt "$1")"; }
stat_get() { cat "$(stat_dir "$1")/$2"; }	# name attr
all_get() { cat "$DMP_STAT/all/$1"; }

# Field N (1-based) of the dm device's /sys/block/dm-N/stat.
blk_stat() { awk -v f="$2" '{ print $f }' "$(dm_block "$1")/stat"; }

# run_fio OUT.json fio-args...  (JSON only in the file; fio may print notes
# before it, so the parser starts at the first "{")
run_fio() {
	local out=$1
	shift
	# Explicit: errexit does not apply inside a function called before ||.
	fio --output-format=json --output="$out.raw" "$@" || {
		cat "$out.raw" >&2
		fail "fio failed: $*"
	}
	sed -n '/^{/,$p' "$out.raw" >"$out"
}

# fio_get OUT.json JQ-EXPRESSION  (e.g. '.jobs[0].read.total_ios')
fio_get() { jq -r "$2" "$1"; }

# Start a command in the background; it and its children are killed at
# exit if still running.  Loops in the background should stop when
# $DMP_TMP/stop exists.
bg() {
	"$@" &
	_pids+=($!)
}

_cleanup() {
	local rc=$? i p
	set +e
	# Loops started with bg stop at their next check of this file.
	: >"$DMP_TMP/stop"
	for p in "${_pids[@]}"; do
		pkill -P "$p" 2>/dev/null	# what it runs (fio, dd), then itself
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for ((i = ${#_mounts[@]} - 1; i >= 0; i--)); do
		umount "${_mounts[i]}" 2>/dev/null
	done
	for ((i = ${#_dm_names[@]} - 1; i >= 0; i--)); do
		dmsetup remove --retry "${_dm_names[i]}" >/dev/null 2>&1
	done
	for p in "${_loops[@]}"; do
		losetup -d "$p" 2>/dev/null
	done
	if [ -f "$DMP_TMP/nullbs" ]; then
		tac "$DMP_TMP/nullbs" | while read -r p; do
			echo 0 >"$p/power" 2>/dev/null
			rmdir "$p" 2>/dev/null
		done
	fi
	for p in "${_nullbs[@]}"; do
		echo 0 >"$p/power" 2>/dev/null
		rmdir "$p" 2>/dev/null
	done
	rm -rf "$DMP_TMP"
	exit $rc
}
trap _cleanup EXIT

# --- helpers for tests 05-10

# The counter attributes of every stat directory (stat/<maj:min>/ and all/).
DMP_COUNTERS="read_reqs write_reqs total_reqs read_bytes write_bytes total_bytes
read_avg_size write_avg_size total_avg_size flush_reqs discard_reqs discard_bytes"

# stat_req FILE: the request counters of a stat line (its first 7 fields:
# read_reqs write_reqs read_bytes write_bytes flush_reqs discard_reqs
# discard_bytes), without the timing-dependent fields that follow.
stat_req() {
	local -a f
	read -ra f <"$1"
	echo "${f[*]:0:7}"
}

# status_req NAME: "dmsetup status NAME" with each line cut after the
# request counters (<start> <len> dmp + the 7 fields of stat_req).
status_req() {
	dmsetup status "$1" | awk '{ print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
}

# stat_snap DIR: every counter of DIR and the request counters of its stat
# line, "attr=value ...", in $SNAP.  Builtins only: cheap in the guest.
stat_snap() {
	local a v
	local -a f
	SNAP=
	for a in $DMP_COUNTERS; do
		read -r v <"$1/$a"
		SNAP+="$a=$v "
	done
	read -ra f <"$1/stat"
	SNAP+="stat=${f[*]:0:7}"
}

# blk_read SYSDIR: the fields of SYSDIR/stat (a /sys/block/<disk> directory,
# e.g. from dm_block) in the array BLK, 1-based like blk_stat: BLK[1] reads,
# BLK[3] sectors read, BLK[5] writes, BLK[7] sectors written, BLK[12]
# discards, BLK[14] sectors discarded.
blk_read() {
	local -a f
	read -ra f <"$1/stat"
	# shellcheck disable=SC2034  # for the caller
	BLK=(- "${f[@]}")
}

# dm_rename OLD NEW: dmsetup rename, and NEW replaces OLD in the list of
# devices removed at exit.
dm_rename() {
	dmsetup rename "$1" "$2"
	local i
	for i in "${!_dm_names[@]}"; do
		[ "${_dm_names[i]}" != "$1" ] || _dm_names[i]=$2
	done
}

# --- helpers for the reliability tests (11 and up)

# True on a sanitizer kernel (tests/run -k debug...: KASAN), where counts are scaled.
on_debug_kernel() { [ "${DMP_SANITIZER:-0}" = 1 ] || [ -e /sys/kernel/debug/kmemleak ]; }

# dmb_start: one dmbatch process (tests/dmbatch.c) for the whole test, so
# that thousands of device-mapper operations cost no exec each.
# dmb CMD ARG...: send one command (the arguments joined by TABs) and put
# its result line ("ok ..." or "err <errno> <text>") in $DMB.
# dmb_ok CMD ARG...: the same, and the test fails unless the result is ok.
dmb_start() {
	[ -x "$DMBATCH" ] || fail "no $DMBATCH (built by tests/run)"
	coproc DMB_CO { exec "$DMBATCH" 2>&1; }
	_pids+=("$DMB_CO_PID")
}
dmb() {
	local IFS=$'\t'
	printf '%s\n' "$*" >&"${DMB_CO[1]}"
	IFS= read -r DMB <&"${DMB_CO[0]}" || fail "dmbatch stopped (command: $*)"
}
dmb_ok() {
	dmb "$@"
	[[ $DMB == ok* ]] || fail "dmbatch $*: $DMB"
}

# stat_files DIR: the names of the readable files of a stat directory, one
# per line; tests loop over these rather than a fixed list, so that new
# attributes are covered as they come.  (Root may open a 0200 file for
# reading, but the read fails: the mode decides.)
stat_files() { find -L "$1" -maxdepth 1 -type f -perm -0400 -printf '%f\n' | sort; }
# stat_wo_files DIR: the files that cannot be read (reset).
stat_wo_files() { find -L "$1" -maxdepth 1 -type f ! -perm -0400 -printf '%f\n' | sort; }

# read_all DIR...: every readable attribute of the stat directories DIR,
# "dir/file=value" with the lines of a value joined by "|", in $ALL.
read_all() {
	local d f v
	ALL=
	for d in "$@"; do
		for f in $(stat_files "$d"); do
			v=$(<"$d/$f")
			ALL+="${d##*/}/$f=${v//$'\n'/|}"$'\n'
		done
	done
}

# meminfo FIELD: a /proc/meminfo value in kB.
meminfo() { awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo; }

# settle_memory: give freed memory back before reading /proc/meminfo: drop
# the page cache and reclaimable slabs, let RCU callbacks and the per-CPU
# slab caches empty, then shrink every slab cache.
settle_memory() {
	local s
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
	for s in /sys/kernel/slab/*/shrink; do
		echo 1 >"$s" 2>/dev/null || true
	done
	echo 3 >/proc/sys/vm/drop_caches
}

# kmemleak_clean WHAT: on a kernel with kmemleak, two scans 5 s apart (an
# object is reported once it is 5 s old; a pointer in flight during one
# scan is seen by the other), and the test fails if anything is listed.
# A no-op elsewhere.
kmemleak_clean() {
	local k=/sys/kernel/debug/kmemleak leaks
	[ -w "$k" ] || return 0
	echo scan >"$k"
	sleep 5
	echo scan >"$k"
	leaks=$(<"$k")
	if [ -n "$leaks" ]; then
		echo "$leaks" | head -n 200
		echo clear >"$k"
		fail "$1: kmemleak lists $(grep -c '^unreferenced object' <<<"$leaks") object(s)"
	fi
	echo "ok: $1: kmemleak lists nothing"
}

# --- helpers for the dmptrace tests (36-38)

DMPTRACE=${DMPTRACE:-$DMP_SRC/tools/dmptrace}
declare -A DT_PID=()

# dt_start NAME ARG...: dmptrace ARG... in the background, stdout in
# $DMP_TMP/NAME.out, stderr in $DMP_TMP/NAME.err; returns once it traces
# (its first note), its pid in DT_PID[NAME].  Killed at exit if still running.
dt_start() {
	local name=$1 i pid
	shift
	: >"$DMP_TMP/$name.err"	# before the background shell opens it
	"$DMPTRACE" "$@" >"$DMP_TMP/$name.out" 2>"$DMP_TMP/$name.err" &
	pid=$!
	_pids+=("$pid")
	DT_PID[$name]=$pid
	for ((i = 0; i < 600; i++)); do
		! grep -q '^dmptrace: tracing ' "$DMP_TMP/$name.err" || return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$DMP_TMP/$name.err"
	fail "dmptrace $* did not start"
}

# dt_stop NAME [SIGNAL]: send SIGNAL (INT) to it and wait; status in DT_RC.
dt_stop() {
	kill -"${2:-INT}" "${DT_PID[$1]}"
	DT_RC=0
	wait "${DT_PID[$1]}" || DT_RC=$?
}

# dt_instances: the dmptrace instances in tracefs, one per line.
dt_instances() {
	local f
	for f in /sys/kernel/tracing/instances/dmptrace-*; do
		[ ! -e "$f" ] || echo "${f##*/}"
	done
}

# --- device-mapper's own verdict on a device, the oracle where kernels differ

# dmp_lookup_msg ERRNO-NAME: dmp's message (dmp_device_error() in dmp.c) for
# a device that dm_get_device() refused with that errno, with the errno as
# device-mapper prints it after the message.
dmp_lookup_msg() {
	case $1 in
	-ENODEV|-ENOENT) echo "No such block device ($1)" ;;
	-ENOTBLK)	echo "Not a block device ($1)" ;;
	-ENXIO)		echo "Block device not present ($1)" ;;
	-EOVERFLOW)	echo "Device number out of range ($1)" ;;
	-EBUSY)		echo "Device is held exclusively by someone else ($1)" ;;
	-EACCES|-EROFS)	echo "Device cannot be opened in the table's mode ($1)" ;;
	*)		echo "Device lookup failed ($1)" ;;
	esac
}

# linear_verdict create|reload NAME DEVICE: what device-mapper itself says
# about DEVICE on this kernel, from a dm-linear table "0 8 linear DEVICE 0"
# created as NAME or loaded into NAME: dm-linear's constructor passes on
# dm_get_device()'s errno, which changed between kernels (6.1: ENODEV for
# any path that is not a block device; 6.12: lookup_bdev()'s ENOENT or
# ENOTBLK, and EINVAL for a table onto its own device).  VERDICT is "ok"
# (accepted: a created device is removed again, a loaded table cleared;
# nothing is resumed onto itself) or the errno's name (-ENOENT), VERDICT_TEXT
# dmsetup's text for it ("No such file or directory").
linear_verdict() {
	local out
	dmesg_mark
	if out=$(timeout 60 dmsetup "$1" "$2" --table "0 8 linear $3 0" 2>&1); then
		VERDICT=ok VERDICT_TEXT=
		if [ "$1" = create ]; then
			dmsetup remove "$2"
		else
			timeout 60 dmsetup clear "$2"
		fi
		echo "# device-mapper accepts $3 (dm-linear)"
		return 0
	fi
	VERDICT_TEXT=$(sed -n 's/.* failed: //p' <<<"$out" | head -n 1)
	VERDICT=$(dmesg_since | sed -n 's/.*device-mapper: table: [0-9:]*: linear: .* (\(-E[A-Z0-9]*\))$/\1/p' | tail -n 1)
	[ -n "$VERDICT_TEXT" ] && [ -n "$VERDICT" ] ||
		fail "no verdict from dm-linear on $3: '$out', dmesg: $(dmesg_since)"
	echo "# device-mapper refuses $3 with $VERDICT ($VERDICT_TEXT)"
}
