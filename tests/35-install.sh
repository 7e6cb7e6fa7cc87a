#!/bin/bash
# DESCRIPTION: make install / uninstall, with /lib/modules and /usr/local
# made writable for the test (the guest's root is read-only): dmp.ko lands
# in /lib/modules/<kver>/updates and modules.dep; with dmp and dm_mod
# unloaded, "modprobe dmp" loads both; the installed dmpstat, dmptrace and
# dmp-plot run from PATH, their manual pages are in /usr/local/share/man/man1
# and the target's, dmp(4), in man4, every page groff -ww clean;
# "make uninstall" removes exactly what was installed (the module tree,
# /usr/local/bin and the manual pages list the same files as before).  The tree
# is a copy of the project with the dmp.ko that tests/run built for this
# kernel (building it here would take minutes of emulated CPU): "make
# install" must not rebuild it.  /lib/modules/<kver> is a tmpfs with
# dm-mod.ko, its dependencies and the builtin lists: depmod over all of the
# kernel's modules takes half a minute in the guest.  /usr/local is an
# overlay with a tmpfs upper layer.  The original dm_mod, its other users
# and dmp.ko are back at the end.
. "$(dirname "$0")/lib.sh"

kver=$(uname -r)
if [ "$(dmsetup ls 2>&1)" != "No devices found" ]; then
	echo "skip: device-mapper devices exist, dm_mod cannot be unloaded here"
	exit 0
fi
kdir=$(readlink -f "/lib/modules/$kver/build" || true)	# before /lib/modules is replaced
[ -e "$kdir/Makefile" ] || kdir=${DMP_MODROOT:-/}/usr/src/linux-headers-$kver
if [ ! -e "$kdir/Makefile" ] && [ "${DMP_KROOT:-/}" != / ]; then
	# Headers in another root (newest: the trixie tree, tests/kernel.sh),
	# whose Makefile includes its sources by absolute path: a headers
	# directory of links to it, with that Makefile under the tree's root.
	real=$DMP_KROOT$DMP_KDIR
	kdir=$DMP_TMP/kdir
	mkdir -p "$kdir"
	for e in "$real"/* "$real"/.[!.]*; do
		[ "${e##*/}" = Makefile ] || ln -s "$e" "$kdir/"
	done
	sed -e "s|^KBUILD_OUTPUT=.*|KBUILD_OUTPUT=$kdir|" -e "s|^include /|include $DMP_KROOT/|" \
		"$real/Makefile" >"$kdir/Makefile"
fi
[ -e "$kdir/Makefile" ] || fail "no headers for $kver"
# The kernel's own module compression (Debian's from 6.12 on: .ko.xz):
# modules_install compresses dmp.ko the same way.
case $(grep -E '^CONFIG_MODULE_COMPRESS_(GZIP|XZ|ZSTD)=y' "$kdir/.config" || true) in
*GZIP*)	zext=.gz unz="gzip -dc" ;;
*XZ*)	zext=.xz unz="xz -dc" ;;
*ZSTD*)	zext=.zst unz="zstd -dcq" ;;
*)	zext= unz=cat ;;
esac

# What to put back: dm_mod's other users, dmp.ko from tests/run.
holders=()
for m in /sys/module/dm_mod/holders/*; do
	[ -e "$m" ] || continue
	m=$(basename "$m")
	[ "$m" = dmp ] || holders+=("$m")
done
dm_loadable=0
[ ! -e /sys/module/dm_mod/refcnt ] || dm_loadable=1
restore() {
	local m
	set +e
	for m in "${_dm_names[@]}"; do
		dmsetup remove --retry "$m" >/dev/null 2>&1
	done
	_dm_names=()
	! dmp_loaded || rmmod dmp
	! mountpoint -q /lib/modules || umount /lib/modules
	[ -d /sys/module/dm_mod ] || dmp_modprobe dm_mod
	for m in "${holders[@]}"; do
		dmp_modprobe "$m"
	done
	insmod "$DMP_KO"
}
on_exit() {
	local rc=$?
	set +e
	restore
	(exit $rc)
	_cleanup
}
trap on_exit EXIT

# /usr/local: an overlay, writes in tmpfs (first: overlay.ko is in /lib/modules).
# A kernel without overlayfs (the sanitizer kernel) gets an empty tmpfs on
# /usr/local/bin and /usr/local/share/man instead: the same install, over
# empty directories.
if dmp_modprobe overlay 2>/dev/null || grep -qw overlay /proc/filesystems; then
	mkdir -p "$DMP_TMP/ovl/upper" "$DMP_TMP/ovl/work"
	mount -t overlay dmp-local \
		-o "lowerdir=/usr/local,upperdir=$DMP_TMP/ovl/upper,workdir=$DMP_TMP/ovl/work" /usr/local
	_mounts+=(/usr/local)
	mkdir -p /usr/local/bin /usr/local/share/man
else
	mount -t tmpfs dmp-local-bin /usr/local/bin
	_mounts+=(/usr/local/bin)
	mount -t tmpfs dmp-local-man /usr/local/share/man
	_mounts+=(/usr/local/share/man)
fi
man1=/usr/local/share/man/man1
man4=/usr/local/share/man/man4

# /lib/modules: a tmpfs with this kernel's dm-mod.ko and what it needs.
orig=${DMP_MODROOT:-/}/lib/modules/$kver
moddir=/lib/modules/$kver
dm_deps=$(sed -n 's|^\(kernel/drivers/md/dm-mod\.ko[.a-z]*\):|\1|p' "$orig/modules.dep")
[ -n "$dm_deps" ] || [ $dm_loadable = 0 ] || fail "no dm-mod.ko in $orig/modules.dep"
stage=$DMP_TMP/modules/$kver
mkdir -p "$stage"
for m in $dm_deps; do
	mkdir -p "$stage/$(dirname "$m")"
	cp "$orig/$m" "$stage/$m"
done
cp "$orig"/modules.order "$orig"/modules.builtin "$orig"/modules.builtin.modinfo "$stage/"
mount -t tmpfs dmp-modules /lib/modules
cp -a "$stage" /lib/modules/
depmod -a "$kver"
listing() { (cd "$1" && find . | sort); }
listing "$moddir" >"$DMP_TMP/mod.before"
ls -A /usr/local/bin >"$DMP_TMP/bin.before"
{ ls -A "$man1"; ls -A "$man4"; } >"$DMP_TMP/man.before" 2>/dev/null || true

# A copy of the project, built: sources, then the module and tools newer.
tree=$DMP_TMP/tree
mkdir -p "$tree/tests"
cp -p "$DMP_SRC"/*.c "$DMP_SRC"/*.h "$DMP_SRC/Kbuild" "$DMP_SRC/Makefile" \
	"$DMP_SRC/dkms.conf" "$tree/"
rm -f "$tree"/*.mod.c
cp -p "$DMP_SRC/tests/kernel.sh" "$tree/tests/"
cp -rp "$DMP_SRC/tools" "$tree/"
mkdir -p "$tree/docs"
cp -p "$DMP_SRC"/docs/*.4 "$tree/docs/"
cp "$DMP_KO" "$tree/dmp.ko"
# kbuild's own modules.order of that build (6.1: the module's path, later:
# dmp.o), moved to the copy.
sed "s|^.*/|$tree/|" "$DMP_OUT/modules.order" >"$tree/modules.order"

log "make install KDIR=$kdir"
make -C "$tree" install KDIR="$kdir" >"$DMP_TMP/install.log" 2>&1 || {
	cat "$DMP_TMP/install.log"
	fail "make install failed"
}
cat "$DMP_TMP/install.log"
assert_eq "$(grep -cE '^ +(CC|LD) ' "$DMP_TMP/install.log")" 0 "compilations by make install"
assert_eq "$(cd "$moddir/updates" && echo dmp.ko*)" "dmp.ko$zext" "what is installed in updates/"
ko=$moddir/updates/dmp.ko$zext
$unz "$ko" | cmp - "$DMP_KO" || fail "$ko is not the module built for $kver"
echo "ok: $ko is the module built for $kver"
assert_eq "$(modinfo -n dmp)" "$ko" "modinfo -n dmp"
if [ $dm_loadable = 1 ]; then
	assert_eq "$(modinfo -F depends dmp)" dm-mod "modinfo -F depends dmp"
	assert_match "$(grep '^updates/dmp.ko' "$moddir/modules.dep")" \
		"^updates/dmp.ko$zext: kernel/drivers/md/dm-mod.ko$zext" "modules.dep"
fi
for t in dmpstat dmptrace dmp-plot; do
	[ -x "/usr/local/bin/$t" ] || fail "/usr/local/bin/$t not installed"
	assert_eq "$(command -v $t)" "/usr/local/bin/$t" "$t in PATH"
done
pages=0
for m in "$tree"/tools/*.1; do
	cmp "$m" "$man1/$(basename "$m")" || fail "$man1/$(basename "$m") is not tools/$(basename "$m")"
	pages=$((pages + 1))
done
[ $pages -ge 3 ] || fail "only $pages manual pages in tools/"
[ -f "$man1/dmptrace.1" ] || fail "dmptrace.1 not installed"
cmp "$tree/docs/dmp.4" "$man4/dmp.4" || fail "$man4/dmp.4 is not docs/dmp.4"
echo "ok: $pages manual pages in $man1, dmp.4 in $man4"
# Every installed page formats without a warning of groff's (-ww: all of
# them), as man --warnings would show them.
for m in "$man1"/*.1 "$man4"/dmp.4; do
	assert_eq "$(groff -ww -man -z -Tutf8 "$m" 2>&1)" "" "groff -ww warnings in ${m##*/}"
done
echo "ok: groff -ww clean: $(cd /usr/local/share/man && echo man1/*.1 man4/dmp.4)"

# modprobe dmp, from nothing loaded: dm_mod comes along.
for m in "${holders[@]}"; do
	rmmod "$m"
done
rmmod dmp
[ $dm_loadable = 0 ] || rmmod dm_mod
[ ! -d /sys/module/dmp ] || fail "dmp still loaded"
[ $dm_loadable = 0 ] || [ ! -d /sys/module/dm_mod ] || fail "dm_mod still loaded"
dmesg_mark
modprobe dmp
[ -d /sys/module/dmp ] || fail "modprobe dmp did not load dmp"
[ -d /sys/module/dm_mod ] || fail "modprobe dmp did not load dm_mod"
[ $dm_loadable = 0 ] || [ -e /sys/module/dm_mod/holders/dmp ] || fail "dmp does not hold dm_mod"
assert_match "$(dmesg_since | grep 'dmp: version')" 'device-mapper: dmp: version [0-9.]+ loaded' \
	"load message"
echo "ok: modprobe dmp loaded dm_mod and dmp"

# The installed tools, from PATH, on the installed module.
dev=$(backing_dev 16)
dmp_create in1 "$dev"
dd if="$(dm_node in1)" of=/dev/null bs=4k count=7 iflag=direct status=none
assert_eq "$(dmpstat -j -d in1 | jq '.devices[0].read_reqs')" 7 "installed dmpstat"
assert_match "$(dmptrace -V)" '^dmptrace [0-9]' "installed dmptrace"
dmp-plot -d in1 -o "$DMP_TMP/in1.png" >/dev/null
[ -s "$DMP_TMP/in1.png" ] || fail "installed dmp-plot wrote nothing"
dm_remove in1
rmmod dmp

log "make uninstall KDIR=$kdir"
make -C "$tree" uninstall KDIR="$kdir" || fail "make uninstall failed"
[ ! -e "$ko" ] || fail "$ko still there"
[ ! -e /usr/local/share/man/man1/dmptrace.1 ] || fail "dmptrace.1 still there"
[ ! -e "$man4/dmp.4" ] || fail "dmp.4 still there"
must_fail modinfo dmp
must_fail modprobe -n dmp
if grep -q dmp "$moddir/modules.dep"; then fail "dmp in modules.dep"; fi
listing "$moddir" >"$DMP_TMP/mod.after"
diff "$DMP_TMP/mod.before" "$DMP_TMP/mod.after" || fail "$moddir differs after uninstall"
ls -A /usr/local/bin >"$DMP_TMP/bin.after"
diff "$DMP_TMP/bin.before" "$DMP_TMP/bin.after" || fail "/usr/local/bin differs after uninstall"
{ ls -A "$man1"; ls -A "$man4"; } >"$DMP_TMP/man.after" 2>/dev/null || true
diff "$DMP_TMP/man.before" "$DMP_TMP/man.after" || fail "$man1, $man4 differ after uninstall"
echo "ok: make uninstall left $moddir, /usr/local/bin, $man1 and $man4 as they were"
