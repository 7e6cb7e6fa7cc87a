// SPDX-License-Identifier: GPL-2.0
/*
 * dmptrace: dmp devices by name, major:minor or path, and their names and
 * nodes for the output.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmptrace.h"

struct dt_dev *devs;
size_t ndevs;

int dmp_loaded(void)
{
	struct stat st;

	return !stat(DMP_STAT_ROOT, &st) && S_ISDIR(st.st_mode);
}

/* The first line of a small file, without its newline; NULL if none. */
static char *read_line(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int is_dmp(unsigned int major, unsigned int minor)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), DMP_STAT_ROOT "/%u:%u", major, minor);
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* The kernel's name of a block device ("dm-3", "sda1"), or "?". */
const char *blk_name(unsigned int major, unsigned int minor, char *buf,
		     size_t len)
{
	char path[64], link[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major, minor);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return "?";
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(buf, len, "%s", base ? base + 1 : link);
	return buf;
}

static int safe_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return 0;
	return 1;
}

size_t dev_by_devt(unsigned int major, unsigned int minor)
{
	uint32_t kdev = major << 20 | minor;
	char path[96], kname[64];
	struct dt_dev *d;
	size_t i;

	for (i = 0; i < ndevs; i++)
		if (devs[i].kdev == kdev)
			return i;
	devs = xrealloc(devs, ndevs + 1, sizeof(*devs));
	d = &devs[ndevs];
	memset(d, 0, sizeof(*d));
	d->kdev = kdev;
	d->major = major;
	d->minor = minor;
	snprintf(d->id, sizeof(d->id), "%u:%u", major, minor);
	snprintf(path, sizeof(path), DMP_STAT_ROOT "/%s/name", d->id);
	if (!read_line(path, d->name, sizeof(d->name))) {
		snprintf(path, sizeof(path), "/sys/dev/block/%s/dm/name", d->id);
		if (!read_line(path, d->name, sizeof(d->name)))
			d->name[0] = '\0';
	}
	/* fio reads the iolog's file names with %256s: no blanks */
	if (safe_name(d->name) && strlen(d->name) < sizeof(d->node) - 13)
		snprintf(d->node, sizeof(d->node), "/dev/mapper/%s", d->name);
	else if (strcmp(blk_name(major, minor, kname, sizeof(kname)), "?"))
		snprintf(d->node, sizeof(d->node), "/dev/%s", kname);
	else
		snprintf(d->node, sizeof(d->node), "/dev/block/%s", d->id);
	return ndevs++;
}

size_t dev_by_kdev(uint32_t kdev)
{
	size_t i;

	for (i = 0; i < ndevs; i++)
		if (devs[i].kdev == kdev)
			return i;
	return dev_by_devt(kdev >> 20, kdev & ((1U << 20) - 1));
}

static int parse_devt(const char *s, unsigned int *major, unsigned int *minor)
{
	char end;

	return sscanf(s, "%u:%u%c", major, minor, &end) == 2 &&
	       *major < (1U << 12) && *minor < (1U << 20);
}

/* -d DEV: a device-mapper name, major:minor or a path to the device node. */
size_t dev_select(const char *what)
{
	unsigned int major, minor;
	char path[PATH_MAX], link[64], kname[64];
	struct stat st;
	ssize_t n;

	if (!*what || strchr(what, '\n'))
		die("bad device \"%s\"", what);
	if (parse_devt(what, &major, &minor)) {
		if (!is_dmp(major, minor))
			die("%s is not a dmp device (no " DMP_STAT_ROOT "/%s)",
			    what, what);
		return dev_by_devt(major, minor);
	}
	if (strchr(what, '/')) {
		if (stat(what, &st))
			die("%s: %s", what, strerror(errno));
		if (!S_ISBLK(st.st_mode))
			die("%s is not a block device", what);
		major = major(st.st_rdev);
		minor = minor(st.st_rdev);
		if (!is_dmp(major, minor))
			die("%s (%u:%u, %s) is not a dmp device", what, major,
			    minor, blk_name(major, minor, kname, sizeof(kname)));
		return dev_by_devt(major, minor);
	}
	/* A name: its link in stat/, else the dm device of that name. */
	if (strcmp(what, "all") && strcmp(what, ".") && strcmp(what, "..")) {
		snprintf(path, sizeof(path), DMP_STAT_ROOT "/%s", what);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (parse_devt(link, &major, &minor))
				return dev_by_devt(major, minor);
		}
		snprintf(path, sizeof(path), "/dev/mapper/%s", what);
		if (!stat(path, &st) && S_ISBLK(st.st_mode)) {
			major = major(st.st_rdev);
			minor = minor(st.st_rdev);
			if (is_dmp(major, minor))
				return dev_by_devt(major, minor);
			die("%s (%u:%u) is not a dmp device", what, major, minor);
		}
	}
	die("no dmp device \"%s\" (see " DMP_STAT_ROOT ")", what);
}

/* name, or major:minor when it has none */
const char *dev_label(const struct dt_dev *d)
{
	return d->name[0] ? d->name : d->id;
}

void json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

/* For the text log: no blanks, so that every column is one word. */
void text_str(FILE *f, const char *s)
{
	if (!*s) {
		putc('-', f);
		return;
	}
	for (; *s; s++) {
		unsigned char c = *s;

		if (c <= ' ' || c == '\\' || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			putc(c, f);
	}
}
