// SPDX-License-Identifier: GPL-2.0
/*
 * dmptrace: the blocks of files on dmp devices (--file, --tree), from
 * FIEMAP, and which files a request overlaps.
 *
 * The map is taken once, before tracing starts (FIEMAP_FLAG_SYNC first
 * writes what is still delayed, so that it has a place on the device).
 * Extents are kept in 512-byte sectors of the file system's device, which
 * must be the dmp device itself.  Extents that have no place of their own
 * on the device (inline data, tails, not yet allocated) are left out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmptrace.h"

#define BATCH	256		/* extents per FIEMAP call */
#define UNPLACED (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | \
		  FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL | \
		  FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_ENCODED)

struct ext {
	uint64_t start, end;	/* sectors [start, end) on the device */
	uint64_t logical;	/* byte offset in the file */
	size_t dev, file;
	uint32_t flags;
};

struct dt_file *files;
size_t nfiles;
static struct ext *exts;
static size_t nexts;
static uint64_t *maxend;	/* the largest end of exts[first of its dev..i] */
static struct { dev_t dev; ino_t ino; } *seen;
static int in_tree;

static size_t check_dev(const char *path, const struct stat *st)
{
	unsigned int major = major(st->st_dev), minor = minor(st->st_dev);
	char kname[64];

	if (!major)
		die("%s: its file system is on no block device (%u:%u), not on a dmp device",
		    path, major, minor);
	if (!is_dmp(major, minor))
		die("%s: its file system is on %u:%u (%s), not on a dmp device",
		    path, major, minor, blk_name(major, minor, kname, sizeof(kname)));
	return dev_by_devt(major, minor);
}

/* Map @fd (open on @path); 0, or -errno from FIEMAP. */
static int map_file(const char *path, int fd, const struct stat *st)
{
	struct fiemap *fm = xcalloc(1, sizeof(*fm) + BATCH * sizeof(struct fiemap_extent));
	uint64_t from = 0;
	struct dt_file *f;
	size_t dev = check_dev(path, st), i, idx;
	int last = 0;

	for (i = 0; i < nfiles; i++)
		if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino) {
			free(fm);
			return 0;	/* given twice */
		}
	files = xrealloc(files, nfiles + 1, sizeof(*files));
	seen = xrealloc(seen, nfiles + 1, sizeof(*seen));
	idx = nfiles;
	f = &files[idx];
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->size = st->st_size;
	while (!last) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = from;
		fm->fm_length = FIEMAP_MAX_OFFSET - from;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			int err = errno;

			free(fm);
			return -err;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			struct ext *x;

			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				last = 1;
			if ((e->fe_flags & UNPLACED) || e->fe_physical % 512 ||
			    e->fe_length % 512 || !e->fe_length) {
				f->skipped++;
				continue;
			}
			exts = xrealloc(exts, nexts + 1, sizeof(*exts));
			x = &exts[nexts++];
			x->start = e->fe_physical / 512;
			x->end = x->start + e->fe_length / 512;
			x->logical = e->fe_logical;
			x->dev = dev;
			x->file = idx;
			x->flags = e->fe_flags;
			f->nextents++;
			f->mapped += e->fe_length;
		}
		from = fm->fm_extents[fm->fm_mapped_extents - 1].fe_logical +
		       fm->fm_extents[fm->fm_mapped_extents - 1].fe_length;
	}
	free(fm);
	f->path = xstrdup(path);
	seen[idx].dev = st->st_dev;
	seen[idx].ino = st->st_ino;
	nfiles++;
	devs[dev].has_files = 1;
	return 0;
}

static const char *fiemap_err(int err)
{
	return err == EOPNOTSUPP || err == ENOTTY ?
		"its file system cannot map extents (FIEMAP)" : strerror(err);
}

void files_add(const char *path)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	if (fstat(fd, &st))
		die("%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die("%s is a directory (use --tree)", path);
	if (!S_ISREG(st.st_mode))
		die("%s is not a regular file", path);
	err = map_file(path, fd, &st);
	if (err)
		die("%s: %s", path, fiemap_err(-err));
	close(fd);
}

static int tree_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	int fd, err;

	(void)ftw;
	if (type == FTW_DNR) {
		note("%s: cannot read this directory, its files are not mapped", path);
		return 0;
	}
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)	/* gone meanwhile: nothing to map */
			note("%s: %s: not mapped", path, strerror(errno));
		return 0;
	}
	err = map_file(path, fd, st);
	close(fd);
	if (err)
		die("%s: %s", path, fiemap_err(-err));
	in_tree++;
	return 0;
}

void files_add_tree(const char *dir)
{
	struct stat st;

	if (stat(dir, &st))
		die("%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("%s is not a directory", dir);
	check_dev(dir, &st);
	in_tree = 0;
	/* not across mount points, not through symbolic links */
	if (nftw(dir, tree_one, 32, FTW_PHYS | FTW_MOUNT))
		die("%s: %s", dir, strerror(errno));
	if (!in_tree)
		note("%s: no regular file in it", dir);
}

static int by_place(const void *a, const void *b)
{
	const struct ext *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->file < y->file ? -1 : x->file > y->file;
}

/* Sort the extents by place, for files_find(); notes on what is odd. */
void files_index(void)
{
	size_t i;

	if (nexts)
		qsort(exts, nexts, sizeof(*exts), by_place);
	maxend = xcalloc(nexts ? nexts : 1, sizeof(*maxend));
	for (i = 0; i < nexts; i++)
		maxend[i] = i && exts[i - 1].dev == exts[i].dev &&
			    maxend[i - 1] > exts[i].end ? maxend[i - 1] : exts[i].end;
	for (i = 0; i < nfiles; i++)
		if (files[i].skipped)
			note("%s: %zu extent(s) without a place of their own on the device (inline, not allocated): not mapped",
			     files[i].path, files[i].skipped);
}

size_t files_find(size_t dev, uint64_t sector, uint64_t nsect, size_t *out,
		  size_t max, uint64_t *overlap)
{
	uint64_t end = sector + nsect;
	size_t lo = 0, hi = nexts, n = 0, k;
	ssize_t i;

	if (!nsect)
		return 0;
	/* the first extent placed after the request: (dev, start) >= (dev, end) */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (exts[mid].dev < dev || (exts[mid].dev == dev && exts[mid].start < end))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = (ssize_t)lo - 1; i >= 0 && exts[i].dev == dev && maxend[i] > sector; i--) {
		const struct ext *x = &exts[i];
		uint64_t a, b;

		if (x->end <= sector)
			continue;
		a = x->start > sector ? x->start : sector;
		b = x->end < end ? x->end : end;
		for (k = 0; k < n && out[k] != x->file; k++)
			;
		if (k == n) {
			if (n == max)
				continue;
			out[n] = x->file;
			overlap[n++] = 0;
		}
		overlap[k] += (b - a) * 512;
	}
	/* in the order the files were given */
	for (k = 1; k < n; k++) {
		size_t j = k, f = out[k];
		uint64_t o = overlap[k];

		for (; j > 0 && out[j - 1] > f; j--) {
			out[j] = out[j - 1];
			overlap[j] = overlap[j - 1];
		}
		out[j] = f;
		overlap[j] = o;
	}
	return n;
}

/* --extents: every mapped extent, in sectors of the dmp device. */
void files_print_extents(FILE *f, int json)
{
	size_t i, k;

	if (!json)
		fprintf(f, "DEVICE MAJ:MIN SECTOR SECTORS FILE_OFFSET FILE\n");
	for (k = 0; k < nfiles; k++) {
		const struct dt_dev *d = &devs[files[k].dev];

		for (i = 0; i < nexts; i++) {
			const struct ext *x = &exts[i];

			if (x->file != k)
				continue;
			if (json) {
				fputs("{\"file\":", f);
				json_str(f, files[k].path);
				fputs(",\"device\":", f);
				json_str(f, dev_label(d));
				fprintf(f, ",\"devt\":\"%s\",\"sector\":%llu,\"sectors\":%llu,\"file_offset\":%llu,\"unwritten\":%s,\"shared\":%s}\n",
					d->id, (unsigned long long)x->start,
					(unsigned long long)(x->end - x->start),
					(unsigned long long)x->logical,
					x->flags & FIEMAP_EXTENT_UNWRITTEN ? "true" : "false",
					x->flags & FIEMAP_EXTENT_SHARED ? "true" : "false");
			} else {
				text_str(f, dev_label(d));
				fprintf(f, " %s %llu %llu %llu ", d->id,
					(unsigned long long)x->start,
					(unsigned long long)(x->end - x->start),
					(unsigned long long)x->logical);
				text_str(f, files[k].path);
				putc('\n', f);
			}
		}
	}
}
