#!/bin/bash
# DESCRIPTION: dmptrace's per-file attribution on ext4 on a dmp device:
# files A and B (4 extents each, interleaved) and C written with direct
# I/O; --extents gives exactly the extents debugfs reads from the inodes;
# while A is rewritten, part of B rewritten, C rewritten, A grown and the
# journal committed, every request is tagged with exactly the files the
# debugfs map says it overlaps: A's requests cover exactly A's blocks, B's
# exactly the part written, the journal's, C's and A's new blocks are
# "other"; the profile's bytes per file are what was written; --tree
# tags the same way in the text log; files on no block device, on a
# device that is not dmp, missing, or not selected by -d are refused with
# one line and status 1.
. "$(dirname "$0")/lib.sh"

[ -x "$DMPTRACE" ] || fail "no $DMPTRACE (make tools)"
dmp_load
dmp_create fs "$(backing_dev 64)"
dmp_create other "$(backing_dev 8)"
dev=$(dm_node fs)
mkfs.ext4 -q -b 4096 -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$dev"
mnt=$DMP_TMP/mnt
mkdir -p "$mnt"
mount "$dev" "$mnt"
_mounts+=("$mnt")
mkdir "$mnt/d"
A=$mnt/d/A B=$mnt/d/B C=$mnt/C
cd "$DMP_TMP" || exit

piece() {	# file block-size-KiB block [count]
	dd if=/dev/urandom of="$1" bs="$2"k seek="$3" count="${4:-1}" conv=notrunc \
		oflag=direct status=none
}
for i in 0 2 4 6; do	# holes between the pieces: one extent each
	piece "$A" 64 $i
	piece "$B" 64 $i
done
piece "$C" 64 0
sync

# extents PATH|<ino>: "logical_block sector sectors" per extent, from the
# inode as debugfs reads it (4 KiB blocks = 8 sectors; index blocks left out)
extents() {
	debugfs -R "stat $1" "$dev" 2>/dev/null | awk '
		/^EXTENTS:/ { on = 1; next }
		on && /^[^(]/ { on = 0 }
		on {
			n = split($0, t, /, */)
			for (i = 1; i <= n; i++) {
				if (!match(t[i], /^\([0-9]+(-[0-9]+)?\):[0-9]+(-[0-9]+)?$/)) continue
				split(t[i], x, /[():-]+/)
				# x[2]=l1 [x[3]=l2] p1 [p2]
				if (t[i] ~ /^\([0-9]+-/) { l = x[2]; p1 = x[4]; p2 = (x[5] != "" ? x[5] : x[4]) }
				else { l = x[2]; p1 = x[3]; p2 = (x[4] != "" ? x[4] : x[3]) }
				printf "%d %d %d\n", l, p1 * 8, (p2 - p1 + 1) * 8
			}
		}' | sort -n
}
extents /d/A >a.ext
extents /d/B >b.ext
extents /C >c.ext
extents "<8>" >j.ext
cat a.ext b.ext
assert_eq "$(wc -l <a.ext) $(wc -l <b.ext)" "4 4" "extents of A and B (debugfs)"
assert_gt "$(wc -l <j.ext)" 0 "extents of the journal"

# --- --extents: the map dmptrace takes, against debugfs
"$DMPTRACE" --extents -j -f "$A" -f "$B" >map.json
for f in A B; do
	want=$(awk '{ print $2, $3 }' "${f,,}.ext" | sort -n)
	got=$(jq -r --arg p "$mnt/d/$f" 'select(.file == $p) | "\(.sector) \(.sectors)"' map.json | sort -n)
	assert_eq "$got" "$want" "--extents of $f (sector sectors) = debugfs"
done
"$DMPTRACE" --extents -t "$mnt/d" >map.txt
assert_eq "$(head -n 1 map.txt)" "DEVICE MAJ:MIN SECTOR SECTORS FILE_OFFSET FILE" "--extents header"
assert_eq "$(tail -n +2 map.txt | awk '{ print $3, $4, $6 }' | sort)" \
	"$(jq -r '"\(.sector) \(.sectors) \(.file)"' map.json | sort)" "--extents -t: the same map, text"

# --- a run with A and B mapped
log "tagging (${SECONDS}s)"
dt_start t1 -f "$A" -f "$B" -j -s -o "$DMP_TMP/t1.json"
for i in 0 2 4 6; do
	piece "$A" 64 $i	# all of A
done
piece "$B" 32 5			# 32 KiB inside B's second piece
piece "$A" 64 8			# A grows: new blocks
piece "$C" 64 0
touch "$mnt/x"
sync				# a journal commit
dt_stop t1
assert_eq "$DT_RC" 0 "exit status"
extents /d/A >a2.ext
assert_eq "$(wc -l <a2.ext)" 5 "extents of A after it grew"
grep -vxF -f a.ext a2.ext >anew.ext || true

# the oracle: the files each request overlaps by the debugfs map
jq -r 'select(.rwbs) | "\(.sector) \(.bytes) \(.files | join(","))"' t1.json >t1.recs
awk -v A="$A" -v B="$B" '
	FILENAME == "a.ext" { na++; as[na] = $2; ae[na] = $2 + $3; next }
	FILENAME == "b.ext" { nb++; bs[nb] = $2; be[nb] = $2 + $3; next }
	{
		s = $1; e = $1 + $2 / 512; want = ""
		for (i = 1; i <= na; i++) if (s < ae[i] && as[i] < e) { want = A; break }
		for (i = 1; i <= nb; i++) if (s < be[i] && bs[i] < e) { want = want (want != "" ? "," : "") B; break }
		got = $3
		if (got != want) { printf "sector %s + %s bytes: tagged \"%s\", overlaps \"%s\"\n", $1, $2, got, want; bad++ }
	}
	END { exit bad > 0 }' a.ext b.ext t1.recs || fail "tags differ from the debugfs map"
echo "ok: all $(wc -l <t1.recs) requests tagged with exactly the files the debugfs map says"

# merge RANGES-FILE ("start length" per line): the union, as "start end"
merge() {
	sort -n "$1" | awk '{
		s = $1; e = $1 + $2
		if (n && s <= ce) { if (e > ce) ce = e; next }
		if (n) print cs, ce
		cs = s; ce = e; n++ }
		END { if (n) print cs, ce }'
}
awk -v A="$A" '$3 == A { print $1, $2 / 512 }' t1.recs >a.got
awk '{ print $2, $3 }' a.ext >a.want
assert_eq "$(merge a.got)" "$(merge a.want)" "the union of A's requests = A's blocks"
awk -v B="$B" '$3 == B { print $1, $2 / 512 }' t1.recs >b.got
# B's second piece is its blocks 32-47; 160 KiB is block 40, 8 blocks in
b3=$(awk '$1 == 32 { print $2 + 8 * 8, 64 }' b.ext)
assert_eq "$(merge b.got)" "$(echo "$b3" | awk '{ print $1, $1 + $2 }')" \
	"the union of B's requests = the 32 KiB written inside B"
# requests in the journal, in C and in A's new blocks: other
inside() {	# ranges-file: the records that overlap one of the ranges
	awk 'FILENAME != "-" && FNR == NR { n++; s[n] = $2; e[n] = $2 + $3; next }
		{ for (i = 1; i <= n; i++) if ($1 < e[i] && s[i] < $1 + $2 / 512) { print; next } }' "$1" - <t1.recs
}
for r in j:journal c:C anew:"A's new blocks"; do
	recs=$(inside "${r%%:*}.ext")
	assert_gt "$(echo "$recs" | grep -c . || true)" 0 "requests in ${r#*:}"
	assert_eq "$(echo "$recs" | awk 'NF > 2' | wc -l)" 0 "requests in ${r#*:} tagged with a file"
done
assert_eq "$(awk 'index($3, ",")' t1.recs | wc -l)" 0 "requests tagged with two files"

# the profile: bytes and requests per file, "other" for the rest
t_all=$(wc -l <t1.recs)
t_a=$(awk -v A="$A" '$3 == A' t1.recs | wc -l)
t_b=$(awk -v B="$B" '$3 == B' t1.recs | wc -l)
jq -c '.profile[] | [.group, (.file // .device), .write.requests, .write.bytes,
	.read.requests + .write.requests + .flush.requests + .discard.requests + .other.requests]' t1.out >prof
cat prof
assert_eq "$(grep -F "\"file\",\"$A\"" prof)" "[\"file\",\"$A\",$t_a,262144,$t_a]" "profile of A"
assert_eq "$(grep -F "\"file\",\"$B\"" prof)" "[\"file\",\"$B\",$t_b,32768,$t_b]" "profile of B"
assert_eq "$(grep '^\["other"' prof | jq '.[4]')" "$((t_all - t_a - t_b))" "profile: other requests"
assert_eq "$(grep '^\["device"' prof | jq '.[4]')" "$t_all" "profile: the device's requests"

# --- --tree, text: the FILES column
log "--tree (${SECONDS}s)"
dt_start t2 -t "$mnt/d" -w
piece "$A" 64 0
piece "$B" 64 0
dt_stop t2
a0=$(awk '$1 == 0 { print $2 }' a.ext)
b0=$(awk '$1 == 0 { print $2 }' b.ext)
assert_eq "$(awk -v s="$a0" '$5 == s { print $6, $NF }' t2.out)" "65536 $A" "text log: A's first block, tagged A"
assert_eq "$(awk -v s="$b0" '$5 == s { print $6, $NF }' t2.out)" "65536 $B" "text log: B's first block, tagged B"
assert_eq "$(tail -n +2 t2.out | awk '$4 !~ /W/' | wc -l)" 0 "records other than writes with -w"

# --- refusals
log "refusals (${SECONDS}s)"
plain=$(backing_dev 16)
mkfs.ext4 -q "$plain"
mkdir -p "$DMP_TMP/plain"
mount "$plain" "$DMP_TMP/plain"
_mounts+=("$DMP_TMP/plain")
echo x >"$DMP_TMP/plain/f"
echo x >"$DMP_TMP/tmpfile"
tmpdev=$(stat -c '%Hd:%Ld' "$DMP_TMP/tmpfile")
refuse() {	# message args...
	local want=$1 rc=0
	shift
	"$DMPTRACE" "$@" >r.out 2>r.err || rc=$?
	assert_eq "$rc $(<r.err)" "1 $want" "dmptrace $*"
	[ ! -s r.out ] || fail "output of dmptrace $*"
	assert_eq "$(dt_instances)" "" "instances after dmptrace $*"
}
refuse "dmptrace: $DMP_TMP/tmpfile: its file system is on no block device ($tmpdev), not on a dmp device" \
	-f "$DMP_TMP/tmpfile"
refuse "dmptrace: $DMP_TMP/plain/f: its file system is on 7:${plain#/dev/loop} (${plain#/dev/}), not on a dmp device" \
	-f "$DMP_TMP/plain/f"
refuse "dmptrace: $mnt/d/nosuch: No such file or directory" -f "$mnt/d/nosuch"
refuse "dmptrace: $mnt/d is a directory (use --tree)" -f "$mnt/d"
refuse "dmptrace: $A is not a directory" -t "$A"
refuse "dmptrace: $A is on fs ($(dm_devt fs)), which -d does not select" -d other -f "$A"
refuse "dmptrace: --extents needs -f PATH or -t DIR" --extents
log "done (${SECONDS}s)"
