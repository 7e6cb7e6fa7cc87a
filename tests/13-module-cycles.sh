#!/bin/bash
# DESCRIPTION: 100 module load/unload cycles, each creating a dmp device,
# reading through it, and removing it: every load starts with "all" at
# zero, every device counts its read, and nothing accumulates: slab and
# per-CPU memory in /proc/meminfo come back to where they were, and on the
# sanitizer kernel kmemleak finds nothing.
. "$(dirname "$0")/lib.sh"

cycles=$(scaled 100)
dev=$(backing_dev 8)
dev_t=$(<"/sys/block/${dev#/dev/}/dev")
dmb_start
dmb_ok stamp "$dev"

# cycle I: load, a device at offset I, one read of 4 KiB, remove, unload.
cycle() {
	local i=$1 t
	insmod "$DMP_KO" || fail "cycle $i: insmod"
	read -r t <"$DMP_STAT/all/read_reqs"
	[ "$t" = 0 ] || fail "cycle $i: all/read_reqs = $t after load"
	dmb_ok mk "mod13-$i" 0 64 dmp "$dev_t $((i % 64))"
	dmb_ok read "mod13-$i" 8 4096
	[ "$DMB" = "ok $((i % 64 + 8))" ] || fail "cycle $i: read got stamp '${DMB#ok }', expected $((i % 64 + 8))"
	read -r t <"$DMP_STAT/mod13-$i/read_reqs"
	[ "$t" = 1 ] || fail "cycle $i: read_reqs = $t"
	[ "$(<"/sys/module/dmp/refcnt")" -gt 0 ] || fail "cycle $i: no module reference while a device exists"
	if rmmod dmp 2>/dev/null; then
		fail "cycle $i: rmmod succeeded with a device present"
	fi
	dmb_ok remove "mod13-$i"
	read -r t <"$DMP_STAT/all/read_reqs"
	[ "$t" = 1 ] || fail "cycle $i: all/read_reqs = $t after remove"
	rmmod dmp || fail "cycle $i: rmmod"
	[ ! -e /sys/module/dmp ] || fail "cycle $i: /sys/module/dmp left after rmmod"
}

# Fields of /proc/meminfo that a leak would raise, in kB.
fields="Slab SUnreclaim Percpu VmallocUsed"
snap_mem() {
	local f
	settle_memory
	MEM=
	for f in $fields; do
		MEM+="$(meminfo "$f") "
	done
}

rmmod dmp
# Warm up: the first cycles create slab caches, kernfs and module-loader
# state that stay (and dmbatch's first ioctls allocate dm-ioctl buffers).
for ((i = 0; i < 5; i++)); do
	cycle "$i"
done
snap_mem
read -r -a before <<<"$MEM"

start=$(date +%s)
for ((i = 5; i < cycles + 5; i++)); do
	cycle "$i"
done
secs=$(($(date +%s) - start))
log "$cycles load/create/read/remove/unload cycles in ${secs}s"

snap_mem
read -r -a after <<<"$MEM"
# Tolerances, in kB: what settles differently from one moment to the next
# (per-CPU slab caches and partial slabs, RCU-freed objects, vmap areas
# freed lazily, percpu chunks populated a page at a time) measured here at
# a few tens of kB.  A device or a module load that leaked its directory
# (~15 kernfs nodes and their names), its state or its per-CPU counters
# would leak > 4 kB per cycle, i.e. more than the tolerance after 100
# cycles; kmemleak (sanitizer kernel) sees any leak however small.
declare -A tol=([Slab]=256 [SUnreclaim]=256 [Percpu]=64 [VmallocUsed]=256)
k=0
for f in $fields; do
	d=$((after[k] - before[k]))
	log "$f: ${before[k]} kB before, ${after[k]} kB after: $d kB"
	[ "$d" -le "${tol[$f]}" ] || fail "$f grew by $d kB over $cycles cycles (tolerance ${tol[$f]} kB)"
	k=$((k + 1))
done

kmemleak_clean "$cycles load/unload cycles (dmp unloaded)"
insmod "$DMP_KO"
