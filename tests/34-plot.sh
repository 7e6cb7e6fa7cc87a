#!/bin/bash
# DESCRIPTION: dmp-plot: PNGs of the latency and size histograms of a
# device (by name and by major:minor) and of "all", of the requested pixel
# size; the buckets it plots (-p) are the sysfs histograms with their
# labels; empty edge buckets are left out unless -a; an unknown device,
# type or size fails with a message and writes nothing.
. "$(dirname "$0")/lib.sh"

[ -x "$DMP_PLOT" ] || fail "no $DMP_PLOT"
command -v gnuplot >/dev/null || fail "gnuplot is not installed (Debian: gnuplot-nox)"

# Latency timing is off by default: the devices of this test are timed.
dmp_load
echo Y >/sys/module/dmp/parameters/latency
dev=$(backing_dev 64)
dmp_create pl1 "$dev"
d=$(stat_dir pl1)
run_fio "$DMP_TMP/f.json" --name=p --filename="$(dm_node pl1)" --direct=1 --ioengine=libaio \
	--iodepth=8 --rw=randrw --bssplit=4k/50:16k/25:256k/25 --size=32m \
	--number_ios="$(scaled 400)" --randrepeat=0

# png FILE WIDTH HEIGHT: the PNG signature and the IHDR chunk's size.
png() {
	[ -s "$1" ] || fail "$1 not written"
	assert_eq "$(head -c 16 "$1" | od -An -tx1 | tr -d ' \n')" \
		89504e470d0a1a0a0000000d49484452 "PNG signature and IHDR of $(basename "$1")"
	assert_eq "$(od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4,
		$5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }')" "$2 $3" "pixel size of $(basename "$1")"
	assert_gt "$(stat -c %s "$1")" 10000 "bytes in $(basename "$1")"
}

cd "$DMP_TMP" || exit
out=$("$DMP_PLOT" -d pl1 -t latency -o lat.png -s 800,450)
assert_eq "$out" "dmp-plot: wrote lat.png" "dmp-plot's message"
png lat.png 800 450
"$DMP_PLOT" -d "$(dm_devt pl1)" -t size -o size.png
png size.png 960 540
"$DMP_PLOT" -t size -l
png dmp-all-size.png 960 540
"$DMP_PLOT" -d pl1 -a -T 'my "title" \ here'
png dmp-pl1-latency.png 960 540

# The data: every bucket (-a) equals sysfs, with its label.
labels_size='"<1KiB" "1KiB" "2KiB" "4KiB" "8KiB" "16KiB" "32KiB" "64KiB" "128KiB" "256KiB" "512KiB" "1MiB" "2MiB" "≥4MiB"'
"$DMP_PLOT" -d pl1 -t size -a -p >size.txt
cat size.txt
assert_eq "$(head -n 1 size.txt)" "# pl1 ($(dm_devt pl1)) size: bucket reads writes" "-p header"
assert_eq "$(tail -n +2 size.txt | awk '{ printf "%s ", $1 }')" "$labels_size " "size labels"
assert_eq "$(tail -n +2 size.txt | awk '{ printf "%s ", $2 }')" "$(<"$d/read_size_hist") " "reads per size bucket"
assert_eq "$(tail -n +2 size.txt | awk '{ printf "%s ", $3 }')" "$(<"$d/write_size_hist") " "writes per size bucket"
"$DMP_PLOT" -d pl1 -t latency -a -p >lat.txt
assert_eq "$(tail -n +2 lat.txt | awk '{ printf "%s ", $2 }')" "$(<"$d/read_lat_hist") " "reads per latency bucket"
assert_eq "$(tail -n +2 lat.txt | awk '{ printf "%s ", $3 }')" "$(<"$d/write_lat_hist") " "writes per latency bucket"
assert_eq "$(sed -n '2p;6p;12p;22p;23p' lat.txt | awk '{ printf "%s ", $1 }')" \
	'"<1µs" "8µs" "512µs" "524ms" "≥1.05s" ' "latency labels"
# Without -a: 4 KiB to 256 KiB and one empty bucket on each side.
assert_eq "$("$DMP_PLOT" -d pl1 -t size -p | tail -n +2 | awk '{ printf "%s ", $1 }')" \
	'"2KiB" "4KiB" "8KiB" "16KiB" "32KiB" "64KiB" "128KiB" "256KiB" "512KiB" ' "buckets shown without -a"

# Errors: a message, a failure, no file.
out=$(must_fail "$DMP_PLOT" -d nosuch -o x.png)
assert_eq "$out" "dmp-plot: no dmp device 'nosuch' in /sys/module/dmp/stat" "unknown device"
out=$(must_fail "$DMP_PLOT" -d pl1 -t speed -o x.png)
assert_eq "$out" "dmp-plot: -t must be latency or size, not 'speed'" "unknown type"
out=$(must_fail "$DMP_PLOT" -d pl1 -s 10x10 -o x.png)
assert_match "$out" "^dmp-plot: -s wants WIDTH,HEIGHT" "bad size"
must_fail "$DMP_PLOT" -d ../all -o x.png >/dev/null
must_fail "$DMP_PLOT" extra >/dev/null
[ ! -e x.png ] || fail "x.png written by a failing dmp-plot"
assert_match "$("$DMP_PLOT" -h)" "^usage: dmp-plot" "-h"
echo N >/sys/module/dmp/parameters/latency
