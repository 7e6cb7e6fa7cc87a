#!/bin/bash
# DESCRIPTION: 1000 dmp devices at once (created by ioctl, a sample checked
# with dmsetup): every directory and name link is there and right, each
# device's reads land at its own offset and are counted on it alone (equal
# to its /sys/block/dm-N/stat), "all" is the sum, fio across all of them at
# once is counted exactly; all are removed cleanly and memory comes back.
# Reports the memory per dmp device against 1000 dm-linear devices and the
# time to create and remove them.
. "$(dirname "$0")/lib.sh"

n=$(scaled 1000)
slice=64
dev=$(backing_dev $((n * slice / 2048 + 1)))
dev_t=$(<"/sys/block/${dev#/dev/}/dev")
dmb_start
dmb_ok stamp "$dev"

# Memory in use by the kernel, in kB: MemFree after the caches were dropped
# (what every allocation takes from), and the slab and per-CPU parts.
snap_mem() {
	settle_memory
	MEM="$(meminfo MemFree) $(meminfo Slab) $(meminfo Percpu)"
}
# The slab objects in use, in kB (/proc/slabinfo: active objects x their
# size): what a leak keeps, without the empty slab pages the allocator
# holds on to for reuse (7.3 keeps megabytes of those after 1000 devices
# went, with no more objects in use than before).  Not vmap_area: the
# vmalloc areas of the per-CPU chunks, which stay populated (see Percpu
# below), and of lazily purged vmallocs.  Right after snap_mem; each
# cache's share in FILE (for the failure message).
slab_objects() {	# FILE
	awk 'NR > 2 && $1 != "vmap_area" { print $1, int($2 * $4 / 1024) }' /proc/slabinfo |
		sort >"$1"
	awk '{ kb += $2 } END { print kb + 0 }' "$1"
}

# mk_all PREFIX TYPE: N devices PREFIX-I of TYPE, device I over slice I;
# milliseconds in $MS.  rm_all PREFIX removes them.
mk_all() {
	local i t0
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		_dm_names+=("$1-$i")
		dmb_ok mk "$1-$i" 0 "$slice" "$2" "$dev_t $((i * slice))"
	done
	MS=$((($(date +%s%N) - t0) / 1000000))
}
rm_all() {
	local i t0 kept=()
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		dmb_ok remove "$1-$i"
	done
	MS=$((($(date +%s%N) - t0) / 1000000))
	for i in "${_dm_names[@]}"; do
		[[ $i == "$1"-* ]] || kept+=("$i")
	done
	_dm_names=("${kept[@]}")
}

declare -A all0
for c in read_reqs write_reqs read_bytes; do
	all0[$c]=$(all_get "$c")
done

# The memory a device costs: N dm-linear devices, then N dmp devices beside
# them, measured after each; nothing is freed in between, because the per-CPU
# allocator keeps freed pages populated (and sometimes not), which would
# credit whichever kind came second.
snap_mem
read -r free0 slab0 pcpu0 <<<"$MEM"
obj0=$(slab_objects "$DMP_TMP/slab0")
mk_all l14 linear
ms_mk_lin=$MS
snap_mem
read -r free1 slab1 pcpu1 <<<"$MEM"
mk_all m14 dmp
ms_mk_dmp=$MS
snap_mem
read -r free2 slab2 pcpu2 <<<"$MEM"

# Every directory and link, and the device numbers, from the ioctl side.
declare -a devt
for ((i = 0; i < n; i++)); do
	dmb_ok info "m14-$i"
	read -r _ devt[i] _ <<<"$DMB"
	d=$DMP_STAT/${devt[i]}
	[ -d "$d" ] || fail "no directory $d for m14-$i"
	[ "$DMP_STAT/m14-$i" -ef "$d" ] || fail "link m14-$i does not lead to $d"
	read -r name <"$d/name"
	[ "$name" = "m14-$i" ] || fail "$d/name is '$name', expected m14-$i"
done
dirs=$(find "$DMP_STAT" -mindepth 1 -maxdepth 1 -type d | wc -l)
links=$(find "$DMP_STAT" -mindepth 1 -maxdepth 1 -type l | wc -l)
assert_eq "$dirs $links" "$((n + 1)) $n" "directories (with all) and links in stat/"

# A sample through dmsetup: the table, the status, the name.
step=$(((n + 9) / 10))
for ((i = 0; i < n; i += step)); do
	assert_eq "$(dmsetup table "m14-$i")" "0 $slice dmp $dev_t $((i * slice))" "dmsetup table m14-$i"
	assert_eq "$(status_req "m14-$i")" "0 $slice dmp 0 0 0 0 0 0 0" "dmsetup status m14-$i"
	assert_eq "$(dmsetup info -c --noheadings -o major,minor --separator : "m14-$i")" "${devt[i]}" \
		"dmsetup info m14-$i"
done
assert_eq "$(dmsetup ls --target dmp | wc -l)" "$n" "dmsetup ls --target dmp"

# One read of 4 KiB on each device, at a sector of its own: it lands at its
# slice (the stamp), and is counted on that device only.
for ((i = 0; i < n; i++)); do
	s=$((i % (slice - 8)))
	dmb_ok read "m14-$i" "$s" 4096
	[ "$DMB" = "ok $((i * slice + s))" ] || fail "read on m14-$i landed at sector ${DMB#ok }, expected $((i * slice + s))"
done
for ((i = 0; i < n; i++)); do
	read -r -a c <"$DMP_STAT/${devt[i]}/stat"
	v=${c[*]:0:7}
	[ "$v" = "1 0 4096 0 0 0 0" ] || fail "m14-$i stat after one read: '$v'"
done
assert_eq "$(($(all_get read_reqs) - all0[read_reqs]))" "$n" "growth of all/read_reqs after one read per device"

# fio on every device at once, random reads and writes spread over them:
# one job per 200 devices (fio takes at most 4096 characters of file names;
# its disk statistics would walk /sys/block for each of 1000 devices).
jobs=()
for ((i = 0; i < n; i += 200)); do
	files=
	for ((k = i; k < n && k < i + 200; k++)); do
		files+="/dev/dm-${devt[k]#*:}:"
	done
	jobs+=(--name="many$i" --filename="${files%:}")
done
run_fio "$DMP_TMP/many.json" --direct=1 --ioengine=libaio --iodepth=4 --rw=randrw \
	--bs=4k --file_service_type=random --io_size=$((n * 8 / ${#jobs[@]} * 2))k \
	--randrepeat=0 --disk_util=0 "${jobs[@]}"
read -r fr fw < <(fio_get "$DMP_TMP/many.json" '[([.jobs[].read.total_ios] | add),
	([.jobs[].write.total_ios] | add)] | @tsv')
log "fio on $n devices: $fr reads, $fw writes"
sr=0 sw=0
for ((i = 0; i < n; i++)); do
	read -r -a c <"$DMP_STAT/${devt[i]}/stat"
	blk_read "/sys/dev/block/${devt[i]}"
	[ "${c[0]} ${c[1]} ${c[2]} ${c[3]}" = "${BLK[1]} ${BLK[5]} $((BLK[3] * 512)) $((BLK[7] * 512))" ] ||
		fail "m14-$i: dmp '${c[*]}' vs /sys/block stat '${BLK[*]:1:7}'"
	sr=$((sr + c[0])) sw=$((sw + c[1]))
done
assert_eq "$sr $sw" "$((fr + n)) $fw" "reads, writes summed over the devices (fio + one read each)"
assert_eq "$(($(all_get read_reqs) - all0[read_reqs])) $(($(all_get write_reqs) - all0[write_reqs]))" \
	"$((fr + n)) $fw" "growth of all/read_reqs, all/write_reqs"
assert_eq "$(($(all_get read_bytes) - all0[read_bytes]))" "$(((fr + n) * 4096))" "growth of all/read_bytes"

rm_all m14
ms_rm_dmp=$MS
assert_eq "$(cd "$DMP_STAT" && echo *)" all "entries of stat/ after removing $n devices"
rm_all l14
ms_rm_lin=$MS
assert_eq "$(ls /sys/block | grep -c '^dm-' || true)" 0 "dm devices left"
snap_mem
read -r free3 slab3 pcpu3 <<<"$MEM"
obj3=$(slab_objects "$DMP_TMP/slab3")

# Memory per device in bytes: (kB taken by N devices) * 1024 / N.
per() { echo $(($1 * 1024 / n)); }
lin_b=$(per $((free0 - free1))) dmp_b=$(per $((free1 - free2)))
log "memory per device: dmp $dmp_b B, dm-linear $lin_b B, dmp's own $((dmp_b - lin_b)) B" \
	"(slab: dmp $(per $((slab2 - slab1))) B, linear $(per $((slab1 - slab0))) B;" \
	"percpu: dmp $(per $((pcpu2 - pcpu1))) B, linear $(per $((pcpu1 - pcpu0))) B)"
log "time for $n devices: dmp create ${ms_mk_dmp} ms, remove ${ms_rm_dmp} ms;" \
	"dm-linear create ${ms_mk_lin} ms, remove ${ms_rm_lin} ms"
echo "RESULT many-devices n=$n dmp_bytes=$dmp_b linear_bytes=$lin_b own_bytes=$((dmp_b - lin_b))" \
	"dmp_create_ms=$ms_mk_dmp dmp_remove_ms=$ms_rm_dmp linear_create_ms=$ms_mk_lin linear_remove_ms=$ms_rm_lin"

# The slab objects the dmp devices took came back (tolerance: see
# 13-module-cycles; a leaked directory alone would be ~3 kB per device).
# Per-CPU pages stay populated for reuse, so Percpu is no oracle here: see
# 13-module-cycles, and kmemleak on the sanitizer kernel.
log "after removing them: slab objects $((obj3 - obj0)) kB, Slab $((slab3 - slab0)) kB," \
	"Percpu $((pcpu3 - pcpu0)) kB, MemFree $((free0 - free3)) kB less"
# On the sanitizer kernel Slab is no oracle (KASAN's quarantine and
# kmemleak's own records hold freed memory for a while): kmemleak is.
if on_debug_kernel; then
	kmemleak_clean "$n devices came and went"
else
	if [ $((obj3 - obj0)) -gt 512 ]; then
		join "$DMP_TMP/slab0" "$DMP_TMP/slab3" | awk '$3 != $2 { print $1, $3 - $2 " kB" }' |
			sort -k2 -n -r | head -n 15
		fail "slab objects in use grew by $((obj3 - obj0)) kB after $n devices came and went"
	fi
fi
kmemleak_clean "$n dmp and $n dm-linear devices"
